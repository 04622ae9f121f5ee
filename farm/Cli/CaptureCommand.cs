using System.ComponentModel;
using System.Diagnostics;
using Farm.Serial;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Farm.Cli;

/// <summary>
/// <c>farm capture &lt;tty&gt;... --out DIR</c>: records serial consoles outside any job (a UART on
/// the desk, or 64 of them) into <c>DIR/&lt;name&gt;.log</c> (timestamped lines) and <c>.raw</c>
/// (exact bytes), until every port closes or Ctrl-C. Prints bytes and Farm's CPU time per console,
/// which <c>ci/bench</c> compares with <c>cat</c> reading the same ports.
/// </summary>
internal sealed class CaptureCommand : AsyncCommand<CaptureCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<tty>")]
        [Description("Serial devices (/dev/ttyUSB0, a PTY, ...), or unix:PATH for a console socket (QEMU's chardev), connected to.")]
        public string[] Ports { get; init; } = [];

        [CommandOption("--out <DIR>")]
        [Description("Where transcripts go (default: artifacts/capture).")]
        public string Out { get; init; } = "artifacts/capture";

        [CommandOption("--baud <RATE>")]
        [Description("Line rate (default 115200; 8N1, no flow control).")]
        public int Baud { get; init; } = 115200;
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken ct)
    {
        Directory.CreateDirectory(s.Out);
        var settings = SerialSettings.Default with { Baud = s.Baud };
        var names = s.Ports.Select(p => Path.GetFileName(p)).ToList();
        if (names.Distinct().Count() != names.Count) names = s.Ports.Select((p, i) => $"{i}-{Path.GetFileName(p)}").ToList();
        var consoles = s.Ports.Select((port, i) =>
        {
            var broker = new ConsoleBroker(names[i], Open(port, names[i], settings));
            var transcript = ConsoleTranscript.Start(broker, Path.Combine(s.Out, names[i] + ".log"), Path.Combine(s.Out, names[i] + ".raw"));
            return (broker, transcript);
        }).ToList();
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        long t0 = Stopwatch.GetTimestamp();
        foreach (var c in consoles) c.broker.Start();
        try
        {
            await Task.WhenAll(consoles.Select(c => c.broker.Completion)).WaitAsync(ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu0;
        var wall = Stopwatch.GetElapsedTime(t0);
        foreach (var (broker, transcript) in consoles)
        {
            await broker.DisposeAsync();
            await transcript.DisposeAsync();
        }
        long bytes = consoles.Sum(c => c.broker.BytesReceived);
        var table = new Table().AddColumns("console", "bytes", "closed");
        foreach (var (broker, _) in consoles) table.AddRow(Markup.Escape(broker.Name), broker.BytesReceived.ToString("N0"), Markup.Escape(broker.CloseReason ?? ""));
        if (consoles.Count <= 16) AnsiConsole.Write(table);
        // One machine-readable line (ci/bench parses it).
        Console.WriteLine(FormattableString.Invariant(
            $"capture: consoles={consoles.Count} bytes={bytes} wall_s={wall.TotalSeconds:0.000} cpu_s={cpu.TotalSeconds:0.000} cpu_per_console_pct={100 * cpu.TotalSeconds / wall.TotalSeconds / consoles.Count:0.0000}"));
        return 0;
    }

    const string UnixPrefix = "unix:";

    static Stream Open(string port, string name, SerialSettings settings)
    {
        if (!port.StartsWith(UnixPrefix, StringComparison.Ordinal)) return TtyStream.Open(port, settings);
        var path = port[UnixPrefix.Length..];
        var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        try
        {
            socket.Connect(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
        }
        catch (System.Net.Sockets.SocketException e)
        {
            socket.Dispose();
            throw new InfrastructureException($"console socket {path}: {e.Message}");
        }
        return new ConsoleSocketStream(socket, name);
    }
}
