using Farm.Serial;

namespace Farm.Tests.Serial;

public class TelnetStreamTests
{
    /// <summary>Reads come from a script, writes are recorded.</summary>
    sealed class Wire(params byte[][] reads) : Stream
    {
        readonly Queue<byte[]> _reads = new(reads);
        public MemoryStream Written { get; } = new();
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            if (!_reads.TryDequeue(out var next)) return ValueTask.FromResult(0);
            next.CopyTo(buffer);
            return ValueTask.FromResult(next.Length);
        }
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default) { Written.Write(buffer.Span); return ValueTask.CompletedTask; }
        public override Task FlushAsync(CancellationToken ct) => Task.CompletedTask;
        public override bool CanRead => true; public override bool CanWrite => true; public override bool CanSeek => false;
        public override long Length => 0; public override long Position { get; set; }
        public override void Flush() { }
        public override int Read(byte[] b, int o, int c) => throw new NotSupportedException();
        public override void Write(byte[] b, int o, int c) => throw new NotSupportedException();
        public override long Seek(long o, SeekOrigin s) => throw new NotSupportedException();
        public override void SetLength(long v) => throw new NotSupportedException();
    }

    static async Task<byte[]> ReadAllAsync(Stream s)
    {
        var all = new MemoryStream();
        var buf = new byte[64];
        int n;
        while ((n = await s.ReadAsync(buf)) > 0) all.Write(buf, 0, n);
        return all.ToArray();
    }

    [Test]
    public async Task CommandsAreStrippedAndAnsweredDataPassesUnchanged()
    {
        var wire = new Wire(
            [255, 251, 1, 255, 253, 0, (byte)'A', 255, 255, (byte)'B'],            // WILL ECHO, DO BINARY, A, 0xFF, B
            [255, 250, 44, 1, 255, 255, 0, 255, 240, 13, 0, (byte)'C'],              // SB COM-PORT ... SE (with an escaped 0xFF inside), CR NUL, C
            [255, 251, 1, 255],                                                      // WILL ECHO again (answered once), an IAC cut by the read boundary
            [241, (byte)'D', 255, 253, 44]);                                         // ... NOP, D, DO COM-PORT-OPTION
        await using var telnet = new TelnetStream(wire);
        Assert.That(await ReadAllAsync(telnet), Is.EqualTo(new byte[] { (byte)'A', 255, (byte)'B', 13, 0, (byte)'C', (byte)'D' }));
        Assert.That(wire.Written.ToArray(), Is.EqualTo(new byte[] { 255, 254, 1, 255, 251, 0, 255, 252, 44 }),
            "DONT ECHO, WILL BINARY, WONT COM-PORT-OPTION: each answered once");
    }

    [Test]
    public async Task WrittenIacIsDoubled()
    {
        var wire = new Wire();
        await using var telnet = new TelnetStream(wire);
        await telnet.WriteAsync(new byte[] { 1, 255, 2 });
        Assert.That(wire.Written.ToArray(), Is.EqualTo(new byte[] { 1, 255, 255, 2 }));
    }
}
