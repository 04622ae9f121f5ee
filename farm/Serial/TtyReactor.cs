using System.Runtime.InteropServices;

namespace Farm.Serial;

/// <summary>
/// One epoll loop for every tty Farm has open: a console waiting for bytes costs no thread and no
/// CPU, and 64 serial consoles are served by one thread that sleeps in <c>epoll_wait</c> until
/// one of them has data (.NET's own socket engine works the same way; its file streams do not,
/// and System.IO.Ports polls each port every millisecond while a read is pending).
/// Waits are one-shot: a reader that saw EAGAIN arms its fd and is woken once it is readable.
/// Arming is level-triggered, so data that arrived between the EAGAIN and the arm is not missed.
/// </summary>
sealed unsafe class TtyReactor
{
    static readonly Lazy<TtyReactor> _shared = new(() => new TtyReactor());
    public static TtyReactor Shared => _shared.Value;

    // struct epoll_event is packed on x86_64 (12 bytes) and naturally aligned elsewhere (16 bytes).
    static readonly int EventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;
    static readonly int DataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    readonly int _epoll;
    readonly object _gate = new();
    readonly Dictionary<int, Waiters> _fds = [];

    sealed class Waiters
    {
        public TaskCompletionSource? Read;
        public TaskCompletionSource? Write;
    }

    TtyReactor()
    {
        _epoll = LibC.EpollCreate1(LibC.O_CLOEXEC);
        if (_epoll < 0) throw new InfrastructureException($"epoll_create1: {LibC.Describe(Marshal.GetLastPInvokeError())}");
        new Thread(Loop) { IsBackground = true, Name = "farm-tty-reactor" }.Start();
    }

    public void Register(int fd)
    {
        lock (_gate)
        {
            _fds[fd] = new Waiters();
            Control(LibC.EPOLL_CTL_ADD, fd, LibC.EPOLLONESHOT);
        }
    }

    public void Unregister(int fd)
    {
        Waiters? w;
        lock (_gate)
        {
            if (!_fds.Remove(fd, out w)) return;
            Control(LibC.EPOLL_CTL_DEL, fd, 0);
        }
        var closed = new ObjectDisposedException("tty closed");
        w.Read?.TrySetException(closed);
        w.Write?.TrySetException(closed);
    }

    /// <summary>Completes when <paramref name="fd"/> is readable (or writable), has hung up, or errs.</summary>
    public Task WaitAsync(int fd, bool write, CancellationToken ct)
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (!_fds.TryGetValue(fd, out var w)) throw new ObjectDisposedException("tty closed");
            if (write) w.Write = tcs; else w.Read = tcs;
            Arm(fd, w);
        }
        // A cancelled wait leaves its one-shot armed; when it fires it completes nobody's task.
        return ct.CanBeCanceled ? tcs.Task.WaitAsync(ct) : tcs.Task;
    }

    void Arm(int fd, Waiters w)
    {
        uint events = LibC.EPOLLONESHOT;
        if (w.Read is { Task.IsCompleted: false }) events |= LibC.EPOLLIN;
        if (w.Write is { Task.IsCompleted: false }) events |= LibC.EPOLLOUT;
        Control(LibC.EPOLL_CTL_MOD, fd, events);
    }

    void Control(int op, int fd, uint events)
    {
        byte* ev = stackalloc byte[16];
        *(uint*)ev = events;
        *(long*)(ev + DataOffset) = fd;
        if (LibC.EpollCtl(_epoll, op, fd, ev) < 0)
            throw new InfrastructureException($"epoll_ctl({op}) on fd {fd}: {LibC.Describe(Marshal.GetLastPInvokeError())}");
    }

    void Loop()
    {
        const int Max = 64;
        byte* events = (byte*)NativeMemory.Alloc((nuint)(Max * EventSize));
        while (true)
        {
            int n = LibC.EpollWait(_epoll, events, Max, -1);
            if (n < 0) continue; // EINTR
            for (int i = 0; i < n; i++)
            {
                byte* e = events + i * EventSize;
                uint flags = *(uint*)e;
                int fd = (int)*(long*)(e + DataOffset);
                TaskCompletionSource? read = null, write = null;
                lock (_gate)
                {
                    if (!_fds.TryGetValue(fd, out var w)) continue;
                    bool failed = (flags & (LibC.EPOLLERR | LibC.EPOLLHUP)) != 0;
                    if (failed || (flags & LibC.EPOLLIN) != 0) (read, w.Read) = (w.Read, null);
                    if (failed || (flags & LibC.EPOLLOUT) != 0) (write, w.Write) = (w.Write, null);
                    // One-shot: whoever is still waiting (e.g. a writer woken only for reads) re-arms.
                    if (w.Read is not null || w.Write is not null) Arm(fd, w);
                }
                // Waiters retry the syscall, which reports EOF or the error itself.
                read?.TrySetResult();
                write?.TrySetResult();
            }
        }
    }
}
