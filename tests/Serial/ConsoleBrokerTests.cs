using System.IO.Pipelines;
using System.Text;
using System.Text.RegularExpressions;
using Farm.Serial;

namespace Farm.Tests.Serial;

public class ConsoleBrokerTests
{
    static (ConsoleBroker broker, Stream writer) Open()
    {
        var pipe = new Pipe();
        var broker = new ConsoleBroker("test", new DuplexStream(pipe.Reader.AsStream(), Stream.Null));
        broker.Start();
        return (broker, pipe.Writer.AsStream());
    }

    [Test]
    public async Task ManySubscribersSeeEveryLineInOrderAndTheRawTranscriptIsExact()
    {
        var rng = new Random(1234);
        var lines = Enumerable.Range(0, 20_000).Select(i => $"line {i} " + new string((char)('a' + i % 26), rng.Next(0, 120))).ToList();
        var input = Encoding.UTF8.GetBytes(string.Join("\r\n", lines) + "\r\n");
        var (broker, writer) = Open();
        var dir = Directory.CreateTempSubdirectory("farm-broker").FullName;
        var transcript = ConsoleTranscript.Start(broker, Path.Combine(dir, "console.log"), Path.Combine(dir, "console.raw"));
        var readers = Enumerable.Range(0, 16).Select(_ => broker.Subscribe()).ToList();
        var collected = readers.Select(async r => { var got = new List<string>(); await foreach (var l in r.ReadAllAsync()) got.Add(l.Text); return got; }).ToList();

        // Chunk boundaries fall anywhere, including inside "\r\n" and inside lines, as on a real UART.
        for (int pos = 0; pos < input.Length;)
        {
            int n = Math.Min(rng.Next(1, 700), input.Length - pos);
            await writer.WriteAsync(input.AsMemory(pos, n));
            pos += n;
        }
        writer.Dispose();
        await broker.Completion;
        await transcript.DisposeAsync();

        foreach (var c in collected) Assert.That(await c, Is.EqualTo(lines));
        Assert.That(await File.ReadAllBytesAsync(Path.Combine(dir, "console.raw")), Is.EqualTo(input));
        var logged = await File.ReadAllLinesAsync(Path.Combine(dir, "console.log"));
        Assert.That(logged.Select(l => Regex.Replace(l, @"^\[[^\]]+\] ", "")), Is.EqualTo(lines));
        Assert.That(logged[0], Does.Match(@"^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] line 0"));
        Assert.That(broker.Lines.Select(l => l.Sequence), Is.Ordered.And.Unique);
        Directory.Delete(dir, true);
    }

    [Test]
    public async Task LateSubscriberWithReplaySeesTheWholeHistory()
    {
        var (broker, writer) = Open();
        await writer.WriteAsync(Encoding.UTF8.GetBytes("(XEN) one\r\n(XEN) two\r\r\n"));
        var cursor = broker.Cursor();
        await cursor.ExpectAsync(new Regex("two"), CancellationToken.None);
        var late = broker.Subscribe(replay: true);
        writer.Dispose();
        var got = new List<string>();
        await foreach (var l in late.ReadAllAsync()) got.Add(l.Text);
        Assert.That(got, Is.EqualTo(new[] { "(XEN) one", "(XEN) two" }), "trailing \\r of Xen's \\r\\r\\n relay is stripped");
    }

    [Test]
    public async Task ExpectFindsAPromptWithoutNewlineOnlyWhenAskedAndNeverRematchesConsumedText()
    {
        var (broker, writer) = Open();
        var cursor = broker.Cursor();
        var prompt = new Regex(@"root@farm:~# ");
        await writer.WriteAsync(Encoding.UTF8.GetBytes("FARM: ready\nroot@farm:~# "));
        using var shortWait = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThatAsync(async () => await cursor.ExpectAsync(prompt, shortWait.Token), Throws.InstanceOf<OperationCanceledException>());
        var m = await cursor.ExpectAsync(prompt, CancellationToken.None, partialLine: true);
        Assert.That(m.LineIndex, Is.EqualTo(1));

        // The command echo completes the prompt's line; the consumed prompt must not match again.
        var next = cursor.ExpectAsync(prompt, CancellationToken.None, partialLine: true);
        await writer.WriteAsync(Encoding.UTF8.GetBytes("uname -r\n6.1.0-56-arm64\n"));
        await Task.Delay(50);
        Assert.That(next.IsCompleted, Is.False);
        await writer.WriteAsync(Encoding.UTF8.GetBytes("root@farm:~# "));
        Assert.That((await next).LineIndex, Is.EqualTo(3));
        writer.Dispose();
    }

    [Test]
    public async Task ExpectOnAClosedConsoleIsAnInfrastructureFailureWithTheTail()
    {
        var (broker, writer) = Open();
        await writer.WriteAsync(Encoding.UTF8.GetBytes("(XEN) Xen version 4.17.7\n[    2.3] reboot: Power down\n"));
        writer.Dispose();
        var e = await Assert.ThrowsAsync<InfrastructureException>(async () =>
            await broker.Cursor().ExpectAsync(new Regex("root@farm"), CancellationToken.None));
        Assert.That(e!.Message, Does.Contain("closed"));
        Assert.That(e.Evidence, Does.Contain("[    2.3] reboot: Power down"));
    }

    [Test]
    public async Task WritesReachTheTransport()
    {
        var pipe = new Pipe();
        var outbound = new MemoryStream();
        var broker = new ConsoleBroker("w", new DuplexStream(pipe.Reader.AsStream(), outbound));
        broker.Start();
        await broker.WriteAsync("xl info\n", CancellationToken.None);
        Assert.That(Encoding.UTF8.GetString(outbound.ToArray()), Is.EqualTo("xl info\n"));
        pipe.Writer.Complete();
        await broker.DisposeAsync();
    }
}

public class ConsoleSocketStreamTests
{
    /// <summary>
    /// QEMU's serial chardev over a Unix socket, as QemuMachine wires it: the guest side sends a byte
    /// per call (as QEMU's PL011 does); the paced reactor reads must still deliver every byte in order,
    /// and what Farm types reaches the other end.
    /// </summary>
    [Test]
    public async Task OneByteSendsArriveWholeAndInOrderAndWritesReachQemu()
    {
        var name = $"farm-test-{Guid.NewGuid():N}";
        using var listener = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        listener.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint("\0" + name));
        listener.Listen(1);
        using var qemu = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        await qemu.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint("\0" + name));
        var broker = new ConsoleBroker("qemu", new ConsoleSocketStream(await listener.AcceptAsync(), "qemu"));
        await QemuConsoleRoundTrip.RunAsync(broker,
            send: async b => await qemu.SendAsync(b),
            receive: async b => await qemu.ReceiveAsync(b),
            hangUp: () => { qemu.Shutdown(System.Net.Sockets.SocketShutdown.Both); return Task.CompletedTask; });
    }
}

/// <summary>
/// What every QEMU console transport must do: 300 lines and a prompt sent a byte per call (as QEMU's
/// PL011 does) arrive whole and in order, in the lines and the raw transcript; what Farm types reaches
/// QEMU; and QEMU hanging up ends the console with "end of stream".
/// </summary>
static class QemuConsoleRoundTrip
{
    public static async Task RunAsync(ConsoleBroker broker, Func<ReadOnlyMemory<byte>, ValueTask> send,
        Func<Memory<byte>, ValueTask<int>> receive, Func<Task> hangUp)
    {
        var dir = Directory.CreateTempSubdirectory("farm-console").FullName;
        var transcript = ConsoleTranscript.Start(broker, Path.Combine(dir, "console.log"), Path.Combine(dir, "console.raw"));
        broker.Start();

        var text = string.Concat(Enumerable.Range(0, 300).Select(i => $"(XEN) line {i}\r\n")) + "root@farm:~# ";
        var bytes = Encoding.ASCII.GetBytes(text);
        var prompt = broker.Cursor().ExpectAsync(new Regex("root@farm:~# "), CancellationToken.None, partialLine: true);
        for (int i = 0; i < bytes.Length; i++) await send(bytes.AsMemory(i, 1));
        Assert.That((await prompt).LineIndex, Is.EqualTo(300));

        await broker.WriteAsync("xl info\n", CancellationToken.None);
        var got = new byte[8];
        int n = 0;
        while (n < got.Length) n += await receive(got.AsMemory(n));
        Assert.That(Encoding.ASCII.GetString(got), Is.EqualTo("xl info\n"));

        await hangUp();
        await broker.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        await transcript.DisposeAsync();
        Assert.That(broker.CloseReason, Is.EqualTo("end of stream"));
        Assert.That(await File.ReadAllBytesAsync(Path.Combine(dir, "console.raw")), Is.EqualTo(bytes));
        Assert.That(broker.Lines.Select(l => l.Text).Take(300), Is.EqualTo(Enumerable.Range(0, 300).Select(i => $"(XEN) line {i}")));
        await broker.DisposeAsync();
        Directory.Delete(dir, true);
    }
}

/// <summary>Reads from one stream, writes to another: a console transport for tests.</summary>
sealed class DuplexStream(Stream input, Stream output) : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() => output.Flush();
    public override int Read(byte[] buffer, int offset, int count) => input.Read(buffer, offset, count);
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) => input.ReadAsync(buffer, ct);
    public override void Write(byte[] buffer, int offset, int count) => output.Write(buffer, offset, count);
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default) => output.WriteAsync(buffer, ct);
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    protected override void Dispose(bool disposing) { if (disposing) { input.Dispose(); output.Dispose(); } base.Dispose(disposing); }
}
