using System.Runtime.InteropServices;

namespace Farm.Serial;

/// <summary>
/// One epoll loop for every tty and console socket Farm has open: a console waiting for bytes costs
/// no thread and no CPU, and 64 serial consoles are served by one thread that sleeps in
/// <c>epoll_wait</c> until one of them has data (.NET's own socket engine works the same way; its
/// file streams do not, and System.IO.Ports polls each port every millisecond while a read is pending).
/// Waits are one-shot: a reader that saw EAGAIN arms its fd and is woken once it is readable.
/// Arming is level-triggered, so data that arrived between the EAGAIN and the arm is not missed.
/// <para>
/// Reads are paced: an fd is reported readable at most once per <see cref="ReadInterval"/>. QEMU's
/// PL011 hands its chardev one byte per guest write (pl011_write: <c>qemu_chr_fe_write_all(&amp;s->chr,
/// &amp;ch, 1)</c>), so a reader woken at once would read a byte per wake-up and pay a thread-pool hop,
/// a decode and two transcript writes for each. Woken after a quiet interval it reads everything that
/// came meanwhile in one call. The first byte after a quiet spell is reported at once, so a prompt
/// is never delayed by more than one interval; the kernel buffers (a socket's, a tty's 4 KiB+) hold
/// far more than one interval of a 115200-baud line, so nothing waits on the pacing but the reader.
/// </para>
/// </summary>
sealed unsafe class TtyReactor
{
    static readonly Lazy<TtyReactor> _shared = new(() => new TtyReactor());
    public static TtyReactor Shared => _shared.Value;

    // struct epoll_event is packed on x86_64 (12 bytes) and naturally aligned elsewhere (16 bytes).
    static readonly int EventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;
    static readonly int DataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    /// <summary>The least time between two readable reports of one fd: the transcript's flush interval too.</summary>
    public static readonly TimeSpan ReadInterval = TimeSpan.FromMilliseconds(5);
    static readonly long IntervalTicks = (long)(ReadInterval.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);

    readonly int _epoll;
    readonly object _gate = new();
    readonly Dictionary<int, Waiters> _fds = [];
    // Read reports held back until their interval has passed; touched only by the loop thread.
    readonly List<(int fd, Waiters w, long due)> _held = [];

    sealed class Waiters
    {
        public TaskCompletionSource? Read;
        // A reader that reads on this thread (ConsoleBroker's pump); true when it read something.
        public Func<bool>? Pump;
        public TaskCompletionSource? Write;
        public long LastRead = long.MinValue / 2;
        public bool ReadHeld;
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

    /// <summary>
    /// Calls <paramref name="pump"/> on the reactor thread when <paramref name="fd"/> is readable (has
    /// hung up, or errs), until <see cref="StopPump"/>. Paced with one wake-up per read: a pump that
    /// read something is called again <see cref="ReadInterval"/> later without waiting for epoll (so
    /// the bytes QEMU sends meanwhile do not wake this thread); one that found nothing re-arms the fd,
    /// and the first byte after the quiet spell is read at once. The pump must not block: every
    /// console of the process shares this thread.
    /// </summary>
    public void StartPump(int fd, Func<bool> pump)
    {
        lock (_gate)
        {
            if (!_fds.TryGetValue(fd, out var w)) throw new ObjectDisposedException("tty closed");
            w.Pump = pump;
            Arm(fd, w);
        }
    }

    public void StopPump(int fd)
    {
        lock (_gate)
            if (_fds.TryGetValue(fd, out var w)) w.Pump = null;
    }

    void RunPump(int fd, Func<bool> pump)
    {
        bool read = pump();
        lock (_gate)
        {
            // Only if still pumping the same registration (a pump that saw EOF stopped itself).
            if (!_fds.TryGetValue(fd, out var w) || w.Pump != pump || w.ReadHeld) return;
            if (read)
            {
                w.ReadHeld = true;
                _held.Add((fd, w, System.Diagnostics.Stopwatch.GetTimestamp() + IntervalTicks));
                // Held: the fd stays disarmed (one-shot) unless a writer waits on it; no epoll_ctl per read.
                if (w.Write is null) return;
            }
            Arm(fd, w);
        }
    }

    void Arm(int fd, Waiters w)
    {
        uint events = LibC.EPOLLONESHOT;
        if ((w.Read is { Task.IsCompleted: false } || w.Pump is not null) && !w.ReadHeld) events |= LibC.EPOLLIN;
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
            int n = LibC.EpollWait(_epoll, events, Max, TimeoutMs());
            for (int i = 0; i < n; i++)
            {
                byte* e = events + i * EventSize;
                Fired(*(uint*)e, (int)*(long*)(e + DataOffset));
            }
            ReleaseHeld();
            // n < 0 is EINTR: the loop simply waits again.
        }
    }

    void Fired(uint flags, int fd)
    {
        TaskCompletionSource? read = null, write = null;
        Func<bool>? pump = null;
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        lock (_gate)
        {
            if (!_fds.TryGetValue(fd, out var w)) return;
            bool failed = (flags & (LibC.EPOLLERR | LibC.EPOLLHUP)) != 0;
            if (failed || (flags & LibC.EPOLLIN) != 0)
            {
                // A pump is armed for reads only after a quiet interval: it reads at once.
                if (w.Pump is not null) pump = w.ReadHeld && !failed ? null : w.Pump;
                else if (failed || now - w.LastRead >= IntervalTicks) { (read, w.Read) = (w.Read, null); w.LastRead = now; }
                else if (!w.ReadHeld) { w.ReadHeld = true; _held.Add((fd, w, w.LastRead + IntervalTicks)); }
            }
            if (failed || (flags & LibC.EPOLLOUT) != 0) (write, w.Write) = (w.Write, null);
            // One-shot: whoever is still waiting (e.g. a writer woken only for reads) re-arms; a pump re-arms after it ran.
            if ((w.Read is not null && !w.ReadHeld) || w.Write is not null || (w.Pump is not null && pump is null && !w.ReadHeld)) Arm(fd, w);
        }
        // Waiters retry the syscall, which reports EOF or the error itself.
        read?.TrySetResult();
        write?.TrySetResult();
        if (pump is not null) RunPump(fd, pump);
    }

    int TimeoutMs()
    {
        if (_held.Count == 0) return -1;
        long first = long.MaxValue;
        foreach (var h in _held) first = Math.Min(first, h.due);
        long due = first - System.Diagnostics.Stopwatch.GetTimestamp();
        return due <= 0 ? 0 : (int)Math.Ceiling(due * 1000.0 / System.Diagnostics.Stopwatch.Frequency);
    }

    void ReleaseHeld()
    {
        if (_held.Count == 0) return;
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        List<TaskCompletionSource>? ready = null;
        List<(int, Func<bool>)>? pumps = null;
        lock (_gate)
        {
            for (int i = _held.Count - 1; i >= 0; i--)
            {
                var (fd, w, due) = _held[i];
                if (due > now) continue;
                _held.RemoveAt(i);
                w.ReadHeld = false;
                // An fd closed meanwhile (and maybe reused) is skipped: its waiter already failed.
                if (!_fds.TryGetValue(fd, out var current) || current != w) continue;
                if (w.Pump is not null)
                {
                    (pumps ??= []).Add((fd, w.Pump));
                    continue;
                }
                if (w.Read is null) continue;
                (ready ??= []).Add(w.Read);
                w.Read = null;
                w.LastRead = now;
            }
        }
        if (ready is not null) foreach (var r in ready) r.TrySetResult();
        if (pumps is not null) foreach (var (fd, pump) in pumps) RunPump(fd, pump);
    }
}
