using System.Threading.Channels;
using Renci.SshNet;

namespace Farm.Guests;

/// <summary>A host that can open an interactive terminal on the target (dom0), e.g. for <c>xl console</c>.</summary>
internal interface ITerminalHost
{
    /// <summary>A shell on a pseudo-terminal: bytes written are typed, bytes read are what the terminal shows.</summary>
    Stream OpenTerminal();
}

/// <summary>
/// An SSH shell channel as a stream a <see cref="Farm.Serial.ConsoleBroker"/> can read without
/// blocking a thread: SSH.NET raises <see cref="ShellStream.DataReceived"/> in arrival order from
/// its receive loop, and every chunk goes into an unbounded channel (nothing is dropped, the
/// guest never waits on Farm). End of stream when the channel closes or the stream is disposed.
/// </summary>
internal sealed class TerminalStream : Stream
{
    readonly ShellStream _shell;
    readonly Channel<byte[]> _chunks = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
    ReadOnlyMemory<byte> _current;
    int _disposed;

    public TerminalStream(ShellStream shell)
    {
        _shell = shell;
        _shell.DataReceived += (_, e) => _chunks.Writer.TryWrite(e.Data.ToArray());
        _shell.Closed += (_, _) => _chunks.Writer.TryComplete();
        _shell.ErrorOccurred += (_, e) => _chunks.Writer.TryComplete(new IOException($"ssh terminal: {e.Exception.Message}", e.Exception));
    }

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        while (_current.IsEmpty)
        {
            try
            {
                if (!await _chunks.Reader.WaitToReadAsync(ct).ConfigureAwait(false)) return 0;
            }
            catch (ChannelClosedException e)
            {
                throw e.InnerException ?? e;
            }
            if (_chunks.Reader.TryRead(out var chunk)) _current = chunk;
        }
        int n = Math.Min(buffer.Length, _current.Length);
        _current[..n].CopyTo(buffer);
        _current = _current[n..];
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
        ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default)
    {
        await _shell.WriteAsync(buffer, ct).ConfigureAwait(false);
        _shell.Flush();
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
        WriteAsync(buffer.AsMemory(offset, count), ct).AsTask();

    public override Task FlushAsync(CancellationToken ct) => Task.CompletedTask;
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("read asynchronously");
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("write asynchronously");
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _chunks.Writer.TryComplete();
            _shell.Dispose();
        }
        base.Dispose(disposing);
    }
}
