using System.Runtime.InteropServices;

namespace Farm.Serial;

/// <summary>
/// A console fd (a tty, a connected socket) as a non-blocking stream: reads and writes never block
/// a thread; waiting is done by <see cref="TtyReactor"/>'s single epoll loop, which also paces reads
/// so that each one takes everything that arrived since the last.
/// </summary>
internal abstract class ReactorStream : Stream
{
    readonly TtyReactor _reactor = TtyReactor.Shared;
    readonly string _what;
    int _fd;
    // Writes go to this fd when it is not the read fd (a FIFO pair); -1: writes go to the read fd.
    int _writeFd = -1;

    private protected ReactorStream(int fd, string what, int writeFd = -1)
    {
        (_fd, _what) = (fd, what);
        _reactor.Register(fd);
        if (writeFd >= 0 && writeFd != fd)
        {
            _writeFd = writeFd;
            _reactor.Register(writeFd);
        }
    }

    /// <summary>An errno that means the other side is gone (end of stream, not an error).</summary>
    protected virtual bool IsHangUp(int errno) => false;

    protected abstract unsafe nint ReadSome(int fd, byte* buffer, int count);

    protected abstract unsafe nint WriteSome(int fd, byte* buffer, int count);

    /// <summary>Closes one of the stream's fds: the read fd, and the write fd when it has its own.</summary>
    protected abstract void Close(int fd);

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        if (buffer.IsEmpty) return 0;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            int fd = Fd();
            var (n, errno) = Call(fd, buffer, write: false);
            if (n >= 0) return (int)n;
            if (IsHangUp(errno)) return 0;
            switch (errno)
            {
                case LibC.EAGAIN: await _reactor.WaitAsync(fd, write: false, ct).ConfigureAwait(false); break;
                case LibC.EINTR: break;
                default: throw new IOException($"{_what}: read: {LibC.Describe(errno)}");
            }
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default)
    {
        while (!buffer.IsEmpty)
        {
            ct.ThrowIfCancellationRequested();
            int fd = Fd();
            if (_writeFd >= 0) fd = _writeFd;
            var (n, errno) = Call(fd, MemoryMarshal.AsMemory(buffer), write: true);
            if (n >= 0) { buffer = buffer[(int)n..]; continue; }
            switch (errno)
            {
                case LibC.EAGAIN: await _reactor.WaitAsync(fd, write: true, ct).ConfigureAwait(false); break;
                case LibC.EINTR: break;
                default: throw new IOException($"{_what}: write: {LibC.Describe(errno)}");
            }
        }
    }

    /// <summary>
    /// Reads on the reactor thread instead of through <see cref="ReadAsync(Memory{byte}, CancellationToken)"/>:
    /// <paramref name="onData"/> gets each chunk as the paced reactor finds the fd readable, with no
    /// task and no thread-pool hop per read; <paramref name="onEnd"/> is called once, with the reason,
    /// at end of stream or on an error. Both run on the reactor thread and must not block.
    /// </summary>
    internal void StartPump(byte[] buffer, ChunkHandler onData, Action<string> onEnd)
    {
        int fd = Fd();
        bool ended = false;
        _reactor.StartPump(fd, () =>
        {
            if (ended) return false;
            bool read = false;
            try
            {
                while (true)
                {
                    if (_fd < 0) return End($"{_what} is closed");
                    nint n = ReadInto(fd, buffer, out int errno);
                    if (n > 0)
                    {
                        read = true;
                        onData(buffer.AsSpan(0, (int)n));
                        // A short read took all there was; the reactor calls again after its interval.
                        if (n < buffer.Length) return true;
                        continue;
                    }
                    if (n == 0 || IsHangUp(errno)) return End("end of stream");
                    if (errno == LibC.EAGAIN) return read;
                    if (errno != LibC.EINTR) return End($"{_what}: read: {LibC.Describe(errno)}");
                }
            }
            catch (Exception e)
            {
                // Never let one console's failure stop the reactor that serves them all.
                return End(e.Message);
            }
        });

        bool End(string reason)
        {
            ended = true;
            _reactor.StopPump(fd);
            onEnd(reason);
            return false;
        }
    }

    internal delegate void ChunkHandler(ReadOnlySpan<byte> chunk);

    unsafe nint ReadInto(int fd, byte[] buffer, out int errno)
    {
        fixed (byte* p = buffer)
        {
            nint n = ReadSome(fd, p, buffer.Length);
            errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
            return n;
        }
    }

    unsafe (nint n, int errno) Call(int fd, Memory<byte> buffer, bool write)
    {
        using var pin = buffer.Pin();
        nint n = write ? WriteSome(fd, (byte*)pin.Pointer, buffer.Length) : ReadSome(fd, (byte*)pin.Pointer, buffer.Length);
        return (n, n < 0 ? Marshal.GetLastPInvokeError() : 0);
    }

    int Fd() => _fd >= 0 ? _fd : throw new ObjectDisposedException(GetType().Name, $"{_what} is closed");

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
        ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
        WriteAsync(buffer.AsMemory(offset, count), ct).AsTask();

    // Synchronous I/O would block a thread on the console: not offered.
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("use ReadAsync");
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("use WriteAsync");
    public override void Flush() { }
    public override Task FlushAsync(CancellationToken ct) => Task.CompletedTask;

    public override bool CanRead => _fd >= 0;
    public override bool CanWrite => _fd >= 0;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            int writeFd = Interlocked.Exchange(ref _writeFd, -1);
            if (writeFd >= 0)
            {
                _reactor.Unregister(writeFd);
                Close(writeFd);
            }
            _reactor.Unregister(fd);
            Close(fd);
        }
        base.Dispose(disposing);
    }
}

/// <summary>
/// A connected stream socket (QEMU's serial chardev) read through the reactor instead of .NET's
/// socket engine: the engine would complete one thread-pool continuation per one-byte
/// <c>sendmsg</c> QEMU makes, while the reactor's paced reads take a whole burst per call.
/// The socket is never used through .NET's async API, so it never joins the engine's epoll set.
/// </summary>
internal sealed class ConsoleSocketStream : ReactorStream
{
    readonly System.Net.Sockets.Socket _socket;

    public ConsoleSocketStream(System.Net.Sockets.Socket socket, string name)
        : base((int)socket.SafeHandle.DangerousGetHandle(), $"console socket {name}") => _socket = socket;

    // MSG_DONTWAIT per call: the socket itself stays in blocking mode, as .NET left it.
    protected override unsafe nint ReadSome(int fd, byte* buffer, int count) => LibC.Recv(fd, buffer, count, LibC.MSG_DONTWAIT);

    protected override unsafe nint WriteSome(int fd, byte* buffer, int count) =>
        LibC.Send(fd, buffer, count, LibC.MSG_DONTWAIT | LibC.MSG_NOSIGNAL);

    protected override void Close(int fd) => _socket.Dispose();
}

/// <summary>
/// QEMU's serial chardev as a FIFO pair (<c>-chardev pipe</c>): Farm reads <c>PATH.out</c> and writes
/// <c>PATH.in</c>. QEMU still writes a byte at a time, but a pipe merges small writes into its pages,
/// so a paced read takes them with one copy; a Unix socket queues (and its reader frees) one skb per
/// byte, which cost Farm's epoll thread more in the kernel than the reads cost it in user space.
/// </summary>
internal sealed class ConsolePipeStream : ReactorStream
{
    public ConsolePipeStream(int readFd, int writeFd, string name)
        : base(readFd, $"console pipe {name}", writeFd)
    {
    }

    protected override unsafe nint ReadSome(int fd, byte* buffer, int count) => LibC.Read(fd, buffer, count);

    protected override unsafe nint WriteSome(int fd, byte* buffer, int count) => LibC.Write(fd, buffer, count);

    protected override void Close(int fd) => LibC.Close(fd);
}
