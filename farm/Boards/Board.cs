using Farm.Ssh;

namespace Farm.Boards;

/// <summary>
/// A board is composed, not inherited: QEMU and a physical bench fill the same slots.
/// <paramref name="Lifetime"/> ends whatever the board started (processes, transcripts).
/// <paramref name="Snapshots"/> is set when the board can resume a saved boot (QEMU);
/// <paramref name="Bootloader"/> when a boot loader must be driven after power-on (U-Boot).
/// </summary>
internal sealed record Board(
    string Name,
    IPowerSwitch Power,
    IConsole Console,
    IDeployer Deployer,
    SshEndpoint? Ssh,
    IAsyncDisposable Lifetime,
    IBootSnapshots? Snapshots = null,
    IBootloader? Bootloader = null);

/// <summary>What every board configuration says: its name and whether it boots Xen or native Linux.</summary>
internal interface IBoardConfig
{
    string Name { get; }

    Farm.Boards.Spec.BoardMode Mode { get; }
}
