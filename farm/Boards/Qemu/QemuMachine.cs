using System.Net.Sockets;
using Farm.Serial;

namespace Farm.Boards.Qemu;

/// <summary>
/// One QEMU instance: process, serial console and QMP. The serial console is a FIFO pair
/// (<see cref="SerialFifo"/>) that Farm opens before QEMU starts; for QMP Farm listens and QEMU
/// connects (chardev server=off). Both exist before QEMU starts, so nothing is polled, and QEMU
/// opens them during its start-up, before the guest runs, so no early byte is lost. The QMP socket
/// lives in the abstract namespace: no file to clean up, no 108-byte path limit.
/// </summary>
internal sealed class QemuMachine : IAsyncDisposable
{
    readonly string _name;
    readonly string _binary;
    readonly IReadOnlyList<string> _args;
    readonly string _runDirectory;
    readonly TimeProvider _time;
    SupervisedProcess? _process;

    public QemuMachine(string name, string binary, IReadOnlyList<string> args, string runDirectory, TimeProvider? time = null)
    {
        _name = name;
        _binary = binary;
        _args = args;
        _runDirectory = runDirectory;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>nice(1) level of QEMU (default 5; <c>FARM_QEMU_NICE=0</c> runs it at Farm's priority).</summary>
    public static int QemuNiceness { get; } =
        int.TryParse(Environment.GetEnvironmentVariable("FARM_QEMU_NICE"), out var n) && n is >= 0 and <= 19 ? n : 5;

    public ConsoleBroker? Console { get; private set; }

    public QmpClient? Qmp { get; private set; }

    public SupervisedProcess? Process => _process;

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>The full argv Farm adds its console and QMP sockets to (recorded for provenance).</summary>
    public IReadOnlyList<string> CommandLine { get; private set; } = [];

    public async Task StartAsync(CancellationToken ct)
    {
        if (IsRunning) return;
        var binary = SupervisedProcess.Resolve(_binary, "install QEMU: sudo ci/setup.sh, or set qemu.binary in the board file");
        var id = $"farm-{Environment.ProcessId}-{Guid.NewGuid():N}";
        // A FIFO pair, not a socket: QEMU writes the console a byte at a time, and a pipe merges those
        // writes into its pages where a Unix socket queues one skb per byte for Farm to free.
        using var serialFifo = SerialFifo.Create();
        using var qmpListener = Listen($"{id}-qmp");
        CommandLine =
        [
            .. _args,
            "-display", "none", "-monitor", "none",
            "-chardev", $"pipe,id=ser0,path={serialFifo.Path}", "-serial", "chardev:ser0",
            "-chardev", $"socket,id=qmp0,path={id}-qmp,abstract=on,server=off", "-mon", "chardev=qmp0,mode=control",
        ];
        Directory.CreateDirectory(_runDirectory);
        await File.WriteAllLinesAsync(Path.Combine(_runDirectory, "qemu.cmdline"), [binary, .. CommandLine], ct).ConfigureAwait(false);
        // Niced: when boards outnumber cores, the guest waits, never Farm's console reader (a reader
        // that falls behind fills the serial FIFO and stalls the guest, which then times out).
        _process = SupervisedProcess.Start(binary, CommandLine, Path.Combine(_runDirectory, "qemu.log"), niceness: QemuNiceness);

        using var alive = CancellationTokenSource.CreateLinkedTokenSource(ct, _process.ExitedToken());
        Socket qmp;
        try
        {
            qmp = await qmpListener.AcceptAsync(alive.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            throw new ConfigurationException(
                $"{_name}: QEMU exited with code {_process.ExitCode} before the machine started (see qemu.log)",
                _process.OutputTail());
        }
        try
        {
            // QEMU creates its chardevs in command-line order: with QMP connected, the serial FIFOs are
            // open (unless QEMU has already exited over a bad option). The reactor reads the console.
            Console = new ConsoleBroker(_name, serialFifo.Connect(_name), _time);
            Console.Start();
            Qmp = await QmpClient.ConnectAsync(new NetworkStream(qmp, ownsSocket: true), alive.Token).ConfigureAwait(false);
            var v = await Qmp.ExecuteAsync("query-version", null, alive.Token).ConfigureAwait(false);
            Version = $"{v?["qemu"]?["major"]}.{v?["qemu"]?["minor"]}.{v?["qemu"]?["micro"]} ({v?["package"]?.GetValue<string>().Trim()})";
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            if (Qmp is null) qmp.Dispose();
            // QEMU opens its chardevs before it validates the machine: a bad property ends it here, not at accept.
            if (!await ExitedSoonAsync().ConfigureAwait(false)) throw;
            throw new ConfigurationException(
                $"{_name}: QEMU exited with code {_process.ExitCode} while starting (see qemu.log): {_process.OutputTail(1).FirstOrDefault()}",
                _process.OutputTail(), e);
        }

        async Task<bool> ExitedSoonAsync()
        {
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try { await _process.WaitForExitAsync(wait.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { }
            return _process.HasExited;
        }
    }

    /// <summary>QEMU's version as QMP reports it, e.g. "7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)".</summary>
    public string? Version { get; private set; }

    static Socket Listen(string abstractName)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Bind(new UnixDomainSocketEndPoint("\0" + abstractName));
        s.Listen(1);
        return s;
    }

    /// <summary>Reads the machine's power state back: process alive and QMP status.</summary>
    public async Task<PowerState> ReadStateAsync(CancellationToken ct)
    {
        if (_process is null || _process.HasExited || Qmp is null) return PowerState.Off;
        try
        {
            var status = await Qmp.QueryStatusAsync(ct).ConfigureAwait(false);
            return status is "shutdown" ? PowerState.Off : PowerState.On;
        }
        catch (InfrastructureException) when (_process.HasExited)
        {
            return PowerState.Off;
        }
    }

    /// <summary>Asks QEMU to quit, then cuts its lifeline if it has not exited within <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace, CancellationToken ct)
    {
        if (_process is null) return;
        if (!_process.HasExited && Qmp is not null)
        {
            using var quit = CancellationTokenSource.CreateLinkedTokenSource(ct);
            quit.CancelAfter(grace);
            try { await Qmp.ExecuteAsync("quit", null, quit.Token).ConfigureAwait(false); }
            catch (Exception e) when (e is InfrastructureException or OperationCanceledException) { }
        }
        await _process.KillAsync(grace).ConfigureAwait(false);
        // QEMU closed its end of the serial FIFO: the broker drains what was in flight and ends.
        if (Console is not null) await Console.Completion.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            await StopAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(false);
            await _process.DisposeAsync().ConfigureAwait(false);
        }
        if (Qmp is not null) await Qmp.DisposeAsync().ConfigureAwait(false);
        if (Console is not null) await Console.DisposeAsync().ConfigureAwait(false);
    }
}
