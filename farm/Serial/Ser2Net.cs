using System.Net.Sockets;

namespace Farm.Serial;

/// <summary>How a ser2net port speaks: raw bytes, or telnet (ser2net's <c>telnet</c> / <c>telnet(rfc2217)</c> accepters).</summary>
internal enum Ser2NetMode { Raw, Telnet }

/// <summary>
/// A board's UART on a console server (ser2net, or any raw/telnet TCP console), as a stream a
/// <see cref="ConsoleBroker"/> reads: same broker, same transcripts, same expect as QEMU's serial.
/// </summary>
internal static class Ser2Net
{
    public static async Task<Stream> ConnectAsync(string host, int port, Ser2NetMode mode, CancellationToken ct)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(host, port, ct).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new InfrastructureException(
                $"console {host}:{port} ({mode.ToString().ToLowerInvariant()}): {e.Message}; is ser2net running with this port in its configuration?", null, e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var stream = new NetworkStream(socket, ownsSocket: true);
        return mode == Ser2NetMode.Raw ? stream : new TelnetStream(stream);
    }
}

/// <summary>
/// The data of a telnet connection (RFC 854): IAC sequences are removed from what is read
/// (IAC IAC is a 0xFF data byte), option requests are answered (binary and suppress-go-ahead
/// accepted, so console bytes pass unchanged; everything else, RFC 2217 included, refused: the
/// line settings are the console server's), and 0xFF in what is written is doubled.
/// </summary>
internal sealed class TelnetStream(Stream inner) : Stream
{
    const byte Iac = 255, Dont = 254, Do = 253, Wont = 252, Will = 251, Sb = 250, Se = 240;
    const byte Binary = 0, SuppressGoAhead = 3;
    enum State { Data, Iac, Option, Sub, SubIac }

    readonly byte[] _in = new byte[16384];
    readonly SemaphoreSlim _writeLock = new(1, 1);
    readonly HashSet<(byte, byte)> _answered = [];
    State _state;
    byte _command;

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        while (true)
        {
            int n = await inner.ReadAsync(_in.AsMemory(0, Math.Min(_in.Length, buffer.Length)), ct).ConfigureAwait(false);
            if (n == 0) return 0;
            var replies = new List<byte>();
            int produced = 0;
            var output = buffer.Span;
            for (int i = 0; i < n; i++)
            {
                byte b = _in[i];
                switch (_state)
                {
                    case State.Data:
                        if (b == Iac) _state = State.Iac;
                        else output[produced++] = b;
                        break;
                    case State.Iac:
                        if (b == Iac) { output[produced++] = b; _state = State.Data; }
                        else if (b is Will or Wont or Do or Dont) { _command = b; _state = State.Option; }
                        else _state = b == Sb ? State.Sub : State.Data;   // NOP, GA, BRK, ...: nothing to do
                        break;
                    case State.Option:
                        Answer(_command, b, replies);
                        _state = State.Data;
                        break;
                    case State.Sub:
                        if (b == Iac) _state = State.SubIac;
                        break;
                    case State.SubIac:
                        _state = b == Se ? State.Data : State.Sub;
                        break;
                }
            }
            if (replies.Count > 0) await WriteRawAsync(replies.ToArray(), ct).ConfigureAwait(false);
            if (produced > 0) return produced;
        }
    }

    /// <summary>Accepts binary and suppress-go-ahead, refuses the rest; answers each request once (no negotiation loops).</summary>
    void Answer(byte command, byte option, List<byte> replies)
    {
        if (!_answered.Add((command, option))) return;
        bool wanted = option is Binary or SuppressGoAhead;
        byte? reply = command switch
        {
            Will => wanted ? Do : Dont,
            Do => wanted ? Will : Wont,
            _ => null,   // WONT / DONT need no answer
        };
        if (reply is { } r) replies.AddRange([Iac, r, option]);
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default)
    {
        var escaped = new List<byte>(buffer.Length + 8);
        foreach (var b in buffer.Span)
        {
            escaped.Add(b);
            if (b == Iac) escaped.Add(Iac);
        }
        await WriteRawAsync(escaped.ToArray(), ct).ConfigureAwait(false);
    }

    async Task WriteRawAsync(byte[] bytes, CancellationToken ct)
    {
        await _writeLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            await inner.WriteAsync(bytes, ct).ConfigureAwait(false);
            await inner.FlushAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) => ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken ct) => WriteAsync(buffer.AsMemory(offset, count), ct).AsTask();

    public override Task FlushAsync(CancellationToken ct) => inner.FlushAsync(ct);

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() => inner.Flush();
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("async only");
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("async only");
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
