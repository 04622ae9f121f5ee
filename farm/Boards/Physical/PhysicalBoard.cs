using System.Text.RegularExpressions;
using Farm.Boards.Spec;
using Farm.Consoles;
using Farm.Deploy;
using Farm.PowerControl;
using Farm.Serial;
using Farm.Ssh;

namespace Farm.Boards.Physical;

/// <summary>What a physical board is, as data (from the lab file).</summary>
internal sealed record PhysicalBoardConfig(
    string Name,
    BoardMode Mode,
    string? XenCmdline,
    string LinuxCmdline,
    PowerSpec Power,
    ConsoleSpec Serial,
    NetworkSpec Network,
    UBootSpec UBoot) : IBoardConfig
{
    /// <summary>The bench board for the run; a saved boot is a QEMU thing only.</summary>
    public Board Create(BoardContext context)
    {
        if (context.SnapshotDirectory is not null)
            throw new ConfigurationException($"board {Name} is physical: boot: snapshot needs a QEMU board");
        var bench = new PhysicalBoard(this, context.Directory, context.Time);
        return new Board(Name, bench.Power, bench.Console, bench.Deployer, bench.Ssh, bench, null, bench);
    }
}

/// <summary>
/// A board on a bench, composed from the lab file: power through a PDU/BMC/relay backend
/// (verified, retried, serialized per device), its UART (through the console transport the lab file names: a local tty, ser2net) feeding a console
/// broker that is opened before the outlet is switched on (no early byte lost), images copied into
/// a per-run directory under the TFTP root, U-Boot driven over the console, SSH to the booted system.
/// </summary>
internal sealed class PhysicalBoard : IAsyncDisposable, IBootloader
{
    readonly PhysicalBoardConfig _config;
    readonly string _boardDirectory;
    readonly TimeProvider _time;
    readonly VerifiedPowerSwitch _power;
    readonly IDisposable? _backendLifetime;
    ConsoleBroker? _console;
    ConsoleTranscript? _transcript;
    IReadOnlyList<string>? _uboot;
    string? _tftpRun;

    public PhysicalBoard(PhysicalBoardConfig config, string boardDirectory, TimeProvider? time = null)
    {
        _config = config;
        _boardDirectory = boardDirectory;
        _time = time ?? TimeProvider.System;
        var backend = config.Power.Create(new PowerContext(config.Name));
        _backendLifetime = backend as IDisposable;
        _power = new VerifiedPowerSwitch(backend, _time);
        Ssh = new SshEndpoint(config.Network.SshHost, config.Network.SshPort, "root");
        Power = new Switch(this);
        Console = new BoardConsole(this);
        Deployer = new TftpDeployer(this);
    }

    public IPowerSwitch Power { get; }

    public IConsole Console { get; }

    public IDeployer Deployer { get; }

    public SshEndpoint Ssh { get; }

    /// <summary>The run's directory under the TFTP root, once deployed.</summary>
    public string? TftpRunDirectory => _tftpRun;

    /// <summary>Opens the UART once, before the first power-on, and keeps it for the whole run.</summary>
    async Task EnsureConsoleAsync(CancellationToken ct)
    {
        if (_console is not null) return;
        var stream = await _config.Serial.OpenAsync(ct).ConfigureAwait(false);
        _console = new ConsoleBroker(_config.Name, stream, _time);
        Directory.CreateDirectory(_boardDirectory);
        _transcript = ConsoleTranscript.Start(_console, Path.Combine(_boardDirectory, "console.log"), Path.Combine(_boardDirectory, "console.raw"));
        _console.Start();
    }

    ConsoleBroker CurrentConsole => _console ?? throw new InfrastructureException($"board {_config.Name}: console not open (board never powered on)");

    /// <summary>Copies the images into <c>&lt;tftp-root&gt;/farm/&lt;board&gt;-&lt;id&gt;/</c> and prepares U-Boot's commands.</summary>
    async Task DeployAsync(DeployRequest request, CancellationToken ct)
    {
        var a = request.Artifacts;
        var root = _config.Network.TftpRoot;
        if (!Directory.Exists(root))
            throw new ConfigurationException($"board {_config.Name}: TFTP root {root} does not exist (network.tftp-root in the lab file)");
        var relative = Path.Combine("farm", $"{_config.Name}-{Guid.NewGuid().ToString("N")[..8]}");
        _tftpRun = Path.Combine(root, relative);
        Directory.CreateDirectory(_tftpRun);
        bool xen = _config.Mode == BoardMode.Xen;
        foreach (var f in xen ? new[] { a.Xen, a.Kernel, a.Initrd } : [a.Kernel, a.Initrd])
        {
            await using var src = new FileStream(f, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
            await using var dst = new FileStream(Path.Combine(_tftpRun, Path.GetFileName(f)), FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            await src.CopyToAsync(dst, ct).ConfigureAwait(false);
        }
        var u = _config.UBoot;
        var linux = string.Join(' ', new[] { _config.LinuxCmdline }.Concat(request.KernelArguments));
        _uboot = UBootScript.For(new UBootBoot(xen, Path.Combine(relative, Path.GetFileName(a.Xen)), Path.Combine(relative, Path.GetFileName(a.Kernel)),
            Path.Combine(relative, Path.GetFileName(a.Initrd)), _config.XenCmdline, linux, _config.Network.ServerIp, _config.Network.Ip,
            new UBootLayout(u.XenAddr, u.KernelAddr, u.InitrdAddr, u.FdtAddr), u.Interface));
    }

    public Task BootAsync(IConsole console, ConsoleCursor cursor, CancellationToken ct) =>
        UBootDriver.RunAsync(console, cursor, _uboot ?? throw new InfrastructureException($"board {_config.Name}: bootloader before deploy"),
            new Regex(Regex.Escape(_config.UBoot.Prompt) + "$"), ct);

    public async ValueTask DisposeAsync()
    {
        if (_console is not null)
        {
            await _console.DisposeAsync().ConfigureAwait(false);
            if (_transcript is not null) await _transcript.DisposeAsync().ConfigureAwait(false);
        }
        _backendLifetime?.Dispose();
        if (_tftpRun is not null)
        {
            try { Directory.Delete(_tftpRun, recursive: true); }
            catch (IOException) { }
        }
    }

    sealed class Switch(PhysicalBoard board) : IPowerSwitch
    {
        public async Task SetAsync(PowerState state, CancellationToken ct)
        {
            if (state == PowerState.On) await board.EnsureConsoleAsync(ct).ConfigureAwait(false);
            await board._power.SetAsync(state, ct).ConfigureAwait(false);
        }

        public Task<PowerState> GetAsync(CancellationToken ct) => board._power.GetAsync(ct);
    }

    sealed class BoardConsole(PhysicalBoard board) : IConsole
    {
        public System.Threading.Channels.ChannelReader<ConsoleLine> Subscribe(bool replay = false) => board.CurrentConsole.Subscribe(replay);

        public Task WriteAsync(string text, CancellationToken ct) => board.CurrentConsole.WriteAsync(text, ct);

        public IReadOnlyList<string> Tail(int count) => board._console?.Tail(count) ?? [];

        public ConsoleCursor Cursor(bool fromStart = true) => board.CurrentConsole.Cursor(fromStart);

        IDisposable IConsole.Observe(IConsoleObserver observer) => ((IConsole)board.CurrentConsole).Observe(observer);
    }

    sealed class TftpDeployer(PhysicalBoard board) : IDeployer
    {
        public Task DeployAsync(DeployRequest request, CancellationToken ct) => board.DeployAsync(request, ct);
    }
}
