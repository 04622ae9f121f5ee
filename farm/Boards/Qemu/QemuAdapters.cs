using Farm.Serial;

namespace Farm.Boards.Qemu;

// The capability interfaces a physical board fills, filled by a QEMU process.

/// <summary>Power: starting and stopping the QEMU process, read back through QMP.</summary>
sealed class QemuPowerSwitch(QemuBoard board) : IPowerSwitch
{
    public Task SetAsync(PowerState state, CancellationToken ct) => state switch
    {
        PowerState.On => board.PowerOnAsync(ct),
        PowerState.Off => board.StopAsync(ct),
        _ => throw new ArgumentOutOfRangeException(nameof(state)),
    };

    public Task<PowerState> GetAsync(CancellationToken ct) => board.ReadStateAsync(ct);
}

/// <summary>The console: QEMU's serial chardev, through the machine's broker.</summary>
sealed class QemuConsole(QemuBoard board) : IConsole
{
    public System.Threading.Channels.ChannelReader<ConsoleLine> Subscribe(bool replay = false) => board.CurrentConsole.Subscribe(replay);

    public Task WriteAsync(string text, CancellationToken ct) => board.CurrentConsole.WriteAsync(text, ct);

    public IReadOnlyList<string> Tail(int count) => board.ConsoleTail(count);

    public ConsoleCursor Cursor(bool fromStart = true) => board.CurrentConsole.Cursor(fromStart);

    IDisposable IConsole.Observe(IConsoleObserver observer) => ((IConsole)board.CurrentConsole).Observe(observer);
}

/// <summary>Deploy: the command line for direct kernel boot (or U-Boot's TFTP root) and the disks it names.</summary>
sealed class QemuDirectBoot(QemuBoard board) : IDeployer
{
    public Task DeployAsync(DeployRequest request, CancellationToken ct) => board.PrepareAsync(request, ct);
}

/// <summary>U-Boot in QEMU's flash, driven over the console with the commands deploy prepared.</summary>
sealed class QemuUBootLoader(QemuBoard board) : IBootloader
{
    public Task BootAsync(IConsole console, ConsoleCursor cursor, CancellationToken ct) =>
        Farm.Deploy.UBootDriver.RunAsync(console, cursor,
            board.UBootCommands is { Count: > 0 } commands ? commands : throw new InfrastructureException($"board {board.Config.Name}: bootloader before deploy"),
            QemuBoard.UBootPrompt(), ct);
}
