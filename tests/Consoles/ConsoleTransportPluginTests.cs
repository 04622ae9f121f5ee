using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Farm.Boards.Physical;
using Farm.Boards.Spec;
using Farm.Consoles;
using Farm.Serial;

namespace Farm.Tests.Consoles;

/// <summary>
/// The console transport extension point is real: a transport written here, in the test project, is
/// registered, named by a lab file, validated at its line, and carries a physical board's console
/// (power-on opens it, U-Boot's banner arrives, typing reaches the board, <c>--check</c> reaches it),
/// with no edit to farm/.
/// </summary>
public class ConsoleTransportPluginTests
{
    /// <summary>A console behind a Unix socket (a BMC's SOL proxy, a local conmux): what a new transport's one file holds.</summary>
    sealed record UnixSocketConsole(string Path) : ConsoleSpec
    {
        public static readonly ConsoleTransportEntry Entry = new("unix-socket", ["path"], f =>
            f.Require("path") && f.Text("path") is { } path ? new UnixSocketConsole(path) : null);

        public override string Transport => "unix-socket";
        public override string Summary => $"unix-socket {Path}";

        internal override async Task<Stream> OpenAsync(CancellationToken ct)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(Path), ct);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                throw new InfrastructureException($"console socket {Path}: {e.Message}", null, e);
            }
            return new NetworkStream(socket, ownsSocket: true);
        }
    }

    static string Lab(string serial) => $$"""
        board-types:
          bench:
            kind: uboot
            mode: native
            linux-cmdline: console=ttyAMA0
        boards:
          - name: b1
            type: bench
            power: {backend: command, on: 'true', off: 'true', status: 'echo on'}
            serial: {{serial}}
            network: {ip: 192.168.10.21, server-ip: 192.168.10.1, tftp-root: /srv/tftp}
        """;

    const string Source = "lab/plugin.yaml";

    static UBootBoardSpec Bench(string serial) => (UBootBoardSpec)LabFile.Parse(Lab(serial), Source).Find("b1")!.Hardware;

    static IReadOnlyList<string> Mistakes(string serial) =>
        Assert.Throws<ConfigurationException>(() => LabFile.Parse(Lab(serial), Source))!.Evidence;

    IDisposable? _registration;

    [OneTimeSetUp]
    public void Register() => _registration = ConsoleTransports.Register(UnixSocketConsole.Entry);

    [OneTimeTearDown]
    public void Unregister() => _registration?.Dispose();

    [Test]
    public async Task ARegisteredTransportIsReadFromTheLabFileAndCarriesTheBoardsConsole()
    {
        var dir = Directory.CreateTempSubdirectory("farm-console-plugin-").FullName;
        try
        {
            var path = Path.Combine(dir, "uart.sock");
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen();

            var lab = LabFile.Parse(Lab($"{{transport: unix-socket, path: '{path}'}}"), Source);
            var board = lab.Find("b1")!;
            var bench = (UBootBoardSpec)board.Hardware;
            Assert.That(bench.Serial, Is.EqualTo(new UnixSocketConsole(path)));
            Assert.That(bench.ConsoleSummary, Is.EqualTo($"unix-socket {path}"));

            // farm boards --check opens and closes it through the transport's default probe.
            var probe = bench.ProbeAsync(board, cts.Token);
            (await listener.AcceptAsync(cts.Token)).Dispose();
            Assert.That(await probe, Is.EqualTo(((string, string)?)("outlet reads on", "console answers")));

            // Power-on opens the console first (the board's first byte is not lost), through the registry's record.
            await using var physical = new PhysicalBoard((PhysicalBoardConfig)bench.Config(board), Path.Combine(dir, "b1"));
            var on = physical.Power.SetAsync(PowerState.On, cts.Token);
            using var uart = await listener.AcceptAsync(cts.Token);
            await on;
            await uart.SendAsync(Encoding.ASCII.GetBytes("U-Boot 2024.01 (farm)\r\n=> "), cts.Token);
            var seen = await physical.Console.Cursor().ExpectAsync(new Regex("U-Boot 2024\\.01"), cts.Token);
            Assert.That(seen.LineText, Does.Contain("(farm)"));

            await physical.Console.WriteAsync("version\n", cts.Token);
            var typed = new byte[64];
            var n = await uart.ReceiveAsync(typed, cts.Token);
            Assert.That(Encoding.ASCII.GetString(typed, 0, n), Is.EqualTo("version\n"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void AnUnknownTransportGetsADidYouMeanAndTheList()
    {
        var lines = Mistakes("{transport: unix-sokcet, path: /run/uart.sock}");
        Assert.That(lines, Is.EqualTo(new[]
        {
            "lab/plugin.yaml:10:25: boards[0].serial.transport: unknown value \"unix-sokcet\" (did you mean \"unix-socket\"?); expected one of: tty, ser2net, unix-socket",
        }));
    }

    [Test]
    public void AKeyTheTransportDoesNotTakeIsReportedAtItsLine()
    {
        Assert.That(Mistakes("{transport: unix-socket, path: /run/uart.sock, baud: 115200}"), Is.EqualTo(new[]
        {
            "lab/plugin.yaml:10:66: boards[0].serial.baud: unknown key for the unix-socket transport; it takes: path",
        }));
        Assert.That(Mistakes("{transport: unix-socket, pth: /run/uart.sock}"), Is.EqualTo(new[]
        {
            "lab/plugin.yaml:10:13: boards[0].serial.path: required field is missing (the unix-socket transport needs path)",
            "lab/plugin.yaml:10:43: boards[0].serial.pth: unknown key for the unix-socket transport (did you mean \"path\"?); it takes: path",
        }));
        // Farm's own transports own their keys the same way: line settings are a tty's, the mode a console server's.
        Assert.That(Mistakes("{ser2net: 'console1.lab:2001', baud: 115200}"), Has.One.Contains("serial.baud: unknown key for the ser2net transport; it takes: ser2net, mode"));
        Assert.That(Mistakes("{device: /dev/ttyUSB0, mode: telnet}"), Has.One.Contains("serial.mode: unknown key for the tty transport; it takes: device, baud, data-bits, parity, stop-bits, flow"));
    }

    [Test]
    public void WithoutATransportOrItsKeyTheMessageSaysWhatToWrite()
    {
        Assert.That(Mistakes("{baud: 115200}"), Has.One.Contains(
            "serial.transport: required field is missing (give device (a local tty) or ser2net (host:port of a console server), or name a transport: tty, ser2net, unix-socket)"));
    }

    [Test]
    public void LabFilesWithoutTransportReadAsBeforeAndNamingItGivesTheSameRecord()
    {
        Assert.That(Bench("{device: /dev/ttyUSB0, baud: 115200}").Serial, Is.EqualTo(new TtyConsole("/dev/ttyUSB0", SerialSettings.Default)));
        Assert.That(Bench("{ser2net: 'console1.lab:2002', mode: telnet}").Serial, Is.EqualTo(new Ser2NetConsole("console1.lab", 2002, Ser2NetMode.Telnet)));
        Assert.That(Bench("{ser2net: 'console1.lab:2001'}").Serial.Summary, Is.EqualTo("ser2net console1.lab:2001 (raw)"));
        Assert.That(Bench("{transport: tty, device: /dev/ttyUSB0, baud: 115200}").Serial, Is.EqualTo(Bench("{device: /dev/ttyUSB0}").Serial));
        Assert.That(Bench("{transport: ser2net, ser2net: 'console1.lab:2002', mode: telnet}").Serial,
            Is.EqualTo(Bench("{ser2net: 'console1.lab:2002', mode: telnet}").Serial));
    }

    [Test]
    public void TwoTransportsCannotClaimOneNameOrOneShorthand()
    {
        Assert.Throws<ArgumentException>(() => ConsoleTransports.Register(Ser2NetConsole.Entry with { Read = _ => null }));
        Assert.Throws<ArgumentException>(() => ConsoleTransports.Register(TtyConsole.Entry with { Name = "tty2" }));
        Assert.Throws<ArgumentException>(() => ConsoleTransports.Register(UnixSocketConsole.Entry with { Name = "x", Shorthand = new ConsoleShorthand("socket", "a path") }));
        using (ConsoleTransports.Register(UnixSocketConsole.Entry with { Name = "unix-socket-2" }))
            Assert.That(ConsoleTransports.Find("unix-socket-2"), Is.Not.Null);
        Assert.That(ConsoleTransports.Find("unix-socket-2"), Is.Null, "disposing the registration removes the transport");
    }
}
