using Farm.Ssh;

namespace Farm.Boards;

/// <summary>Whether the board boots Xen with Linux as dom0, or the same Linux on bare metal (the baseline).</summary>
internal enum BoardMode { Xen, Native }

/// <summary>
/// A board is composed, not inherited: QEMU and a physical bench fill the same slots.
/// <paramref name="Lifetime"/> ends whatever the board started (processes, transcripts).
/// <paramref name="Snapshots"/> is set when the board can resume a saved boot (QEMU);
/// <paramref name="Bootloader"/> when a boot loader must be driven after power-on (U-Boot).
/// These capabilities are the boot methods a kind contributes to the stage plan: a bootloader stage
/// after power-on, a resume and a snapshot stage around the dom0 prompt.
/// <paramref name="Facts"/> gives what the board learned during the run for its provenance (QEMU's version).
/// </summary>
internal sealed record Board(
    string Name,
    IPowerSwitch Power,
    IConsole Console,
    IDeployer Deployer,
    SshEndpoint? Ssh,
    IAsyncDisposable Lifetime,
    IBootSnapshots? Snapshots = null,
    IBootloader? Bootloader = null,
    Func<IEnumerable<KeyValuePair<string, string>>>? Facts = null);

/// <summary>
/// Where and how a run makes its board: the run's board directory, its clock, and, for
/// <c>boot: snapshot</c>, where saved boots are kept (null for a cold boot).
/// </summary>
internal sealed record BoardContext(string Directory, TimeProvider Time, string? SnapshotDirectory = null);

/// <summary>
/// What every board configuration says: its name and whether it boots Xen or native Linux, and
/// how a run makes the board from it (the kind's factory: the board composed from its power,
/// console and deploy capabilities).
/// </summary>
internal interface IBoardConfig
{
    string Name { get; }

    BoardMode Mode { get; }

    /// <summary>The board for one run; its <see cref="Board.Lifetime"/> ends whatever it started.</summary>
    Board Create(BoardContext context);
}
