using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Farm.Scenarios.Sim;
using Farm.Serial;

namespace Farm.Scenarios;

/// <summary>
/// A board's UART behind a real ser2net (Debian's, v4), as on a lab's console server: the board
/// end is a PTY of a socat null-modem cable, ser2net serves the other end on 127.0.0.1 in raw or
/// telnet (RFC 2217) mode, and Farm's broker reads the TCP port.
/// </summary>
[Category("Serial")]
internal class Ser2NetScenarios
{
    /// <summary>Writes "sync" lines until the broker sees one: ser2net has opened the tty and the path is live.</summary>
    static async Task SyncAsync(Stream uart, ConsoleBroker broker, CancellationToken ct)
    {
        var cursor = broker.Cursor();
        while (true)
        {
            await uart.WriteAsync("sync\n"u8.ToArray(), ct);
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
            wait.CancelAfter(200);
            try
            {
                await cursor.ExpectAsync(new Regex("^sync$"), wait.Token);
                return;
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested) { }
        }
    }

    [TestCase(Ser2NetMode.Raw)]
    [TestCase(Ser2NetMode.Telnet)]
    public async Task TenMegabytesThroughSer2NetLoseNoByte(Ser2NetMode mode)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var dir = ScenarioArtifacts.NewRunDirectory();
        await using var cable = await NullModem.CreateAsync(dir, "uart", cts.Token);
        await using var ser2net = await Ser2NetServer.StartAsync(dir, cable.B, mode, cts.Token);
        await using var broker = new ConsoleBroker("board", await Ser2Net.ConnectAsync("127.0.0.1", ser2net.Port, mode, cts.Token));
        var raw = Path.Combine(dir, "console.raw");
        var transcript = ConsoleTranscript.Start(broker, Path.Combine(dir, "console.log"), raw);
        broker.Start();
        await using var uart = TtyStream.Open(cable.A);
        await SyncAsync(uart, broker, cts.Token);
        long before = broker.BytesReceived;

        // Every byte value (0xFF is telnet's IAC, 0x0D its CR), then 10 MB of random bytes.
        byte[] payload = [.. Enumerable.Range(0, 256).Select(i => (byte)i), .. RandomNumberGenerator.GetBytes(10 << 20)];
        for (int off = 0; off < payload.Length; off += 4096)
            await uart.WriteAsync(payload.AsMemory(off, Math.Min(4096, payload.Length - off)), cts.Token);
        while (broker.BytesReceived < before + payload.Length && !cts.IsCancellationRequested)
            await Task.Delay(20, cts.Token);

        await ser2net.DisposeAsync();   // the console server goes away: the broker ends, the transcript is complete
        await broker.Completion.WaitAsync(cts.Token);
        await transcript.DisposeAsync();
        var got = await File.ReadAllBytesAsync(raw, cts.Token);
        Assert.That(got.Length - before, Is.EqualTo(payload.Length), $"bytes after sync ({mode})");
        Assert.That(got.AsSpan((int)before).SequenceEqual(payload), Is.True, "byte-exact, in order");
        Assert.That(broker.CloseReason, Is.Not.Null);
    }

    [Test]
    public async Task PortThatDisappearsEndsTheConsoleWithTheTranscriptKept()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var dir = ScenarioArtifacts.NewRunDirectory();
        var cable = await NullModem.CreateAsync(dir, "uart", cts.Token);
        await using var ser2net = await Ser2NetServer.StartAsync(dir, cable.B, Ser2NetMode.Raw, cts.Token);
        await using var broker = new ConsoleBroker("board", await Ser2Net.ConnectAsync("127.0.0.1", ser2net.Port, Ser2NetMode.Raw, cts.Token));
        var log = Path.Combine(dir, "console.log");
        var transcript = ConsoleTranscript.Start(broker, log);
        broker.Start();
        var cursor = broker.Cursor();
        using (var uart = TtyStream.Open(cable.A))
        {
            await SyncAsync(uart, broker, cts.Token);
            await uart.WriteAsync("Starting kernel ...\n(XEN) Xen version 4.17.7\n"u8.ToArray(), cts.Token);
            await cursor.ExpectAsync(new Regex(@"\(XEN\) Xen version"), cts.Token);
        }
        await cable.DisposeAsync();   // the USB-UART is unplugged under ser2net
        // ser2net drops the TCP connection when its device goes: the wait ends as a lab fault, not a hang.
        var e = await Assert.ThrowsAsync<InfrastructureException>(() => cursor.ExpectAsync(new Regex("root@farm"), cts.Token));
        Assert.That(e!.Message, Does.StartWith("console board closed"));
        Assert.That(e.Evidence, Does.Contain("(XEN) Xen version 4.17.7"), "the tail is the evidence");
        await ser2net.DisposeAsync();
        await broker.Completion.WaitAsync(cts.Token);
        await transcript.DisposeAsync();
        Assert.That(File.ReadAllText(log), Does.Contain("(XEN) Xen version 4.17.7"), "what arrived before is kept");
    }

    [Test]
    public async Task ConsoleServerThatIsNotThereIsALabFaultNamingIt()
    {
        var port = Ser2NetServer.FreePort();
        var e = await Assert.ThrowsAsync<InfrastructureException>(() => Ser2Net.ConnectAsync("127.0.0.1", port, Ser2NetMode.Telnet, CancellationToken.None));
        Assert.That(e!.Message, Does.StartWith($"console 127.0.0.1:{port} (telnet):").And.Contain("ser2net running"));
    }
}
