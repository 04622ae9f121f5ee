using System.Text;
using System.Text.RegularExpressions;
using System.Threading.Channels;

namespace Farm.Serial;

/// <summary>
/// The one reader of a console stream. A single read loop drains the transport as fast as
/// bytes arrive (QEMU's serial chardev blocks the guest when its socket buffer fills, so a
/// reader that pauses slows the system under test), timestamps complete lines and fans them out.
/// Nothing is dropped: the full line history is kept for replay and expect(), every subscriber
/// channel is unbounded, and observers (the transcript, the crash watch) see the raw bytes and
/// lines of every read, in order.
/// <para>
/// Per read, everything happens on the read loop itself: observers are called synchronously, and
/// waiting expects are matched against the new lines there, so a read costs one wake-up of the loop
/// however many consumers the console has; an expect's task completes once, when it matches.
/// </para>
/// </summary>
internal sealed class ConsoleBroker : IConsole, ILineSource, IAsyncDisposable
{
    const int ReadBufferSize = 64 * 1024;
    // Bytes read before the transcript attached (it normally attaches before Start): kept for it, up to this.
    const int RawBacklogLimit = 16 << 20;

    readonly Stream _transport;
    readonly TimeProvider _time;
    readonly object _gate = new();
    readonly List<ConsoleLine> _lines = [];
    readonly List<Channel<ConsoleLine>> _subscribers = [];
    readonly List<Waiter> _waiters = [];
    readonly Decoder _decoder = new UTF8Encoding(false, false).GetDecoder();
    readonly StringBuilder _partial = new();
    readonly CancellationTokenSource _stop = new();
    readonly SemaphoreSlim _writeLock = new(1, 1);
    IConsoleObserver[] _observers = [];
    MemoryStream? _rawBacklog = new();
    Task? _readLoop;
    long _bytes;
    // The pump (reads on the reactor thread): its reads and its end are serialised with Farm's own close.
    readonly object _pumpGate = new();
    bool _pumpStopped;
    TaskCompletionSource? _pumpEnd;

    public ConsoleBroker(string name, Stream transport, TimeProvider? time = null)
    {
        Name = name;
        _transport = transport;
        _time = time ?? TimeProvider.System;
    }

    public string Name { get; }

    /// <summary>Completes when the transport reached end of stream or failed; carries the reason.</summary>
    public Task Completion => _readLoop ?? Task.CompletedTask;

    public bool IsClosed { get; private set; }

    public string? CloseReason { get; private set; }

    public long BytesReceived => Interlocked.Read(ref _bytes);

    public int LineCount
    {
        get { lock (_gate) return _lines.Count; }
    }

    public void Start()
    {
        if (_readLoop is not null) return;
        if (_transport is ReactorStream reactor)
        {
            // A tty or QEMU's socket: read on the epoll thread itself, so a paced read costs no
            // thread-pool hop at all (everything after the read is synchronous, see Publish).
            _pumpEnd = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _readLoop = _pumpEnd.Task;
            var chars = new char[Encoding.UTF8.GetMaxCharCount(ReadBufferSize)];
            reactor.StartPump(new byte[ReadBufferSize], chunk =>
            {
                lock (_pumpGate)
                {
                    if (_pumpStopped) return;
                    Interlocked.Add(ref _bytes, chunk.Length);
                    Publish(chunk, chars);
                }
            }, EndPump);
            return;
        }
        _readLoop = Task.Run(ReadLoopAsync);
    }

    void EndPump(string reason)
    {
        lock (_pumpGate)
        {
            if (_pumpStopped) return;
            _pumpStopped = true;
            Close(reason);
        }
        _pumpEnd!.TrySetResult();
    }

    async Task ReadLoopAsync()
    {
        var buffer = new byte[ReadBufferSize];
        var chars = new char[Encoding.UTF8.GetMaxCharCount(ReadBufferSize)];
        string reason = "end of stream";
        try
        {
            while (true)
            {
                int n = await _transport.ReadAsync(buffer, _stop.Token).ConfigureAwait(false);
                if (n == 0) break;
                Interlocked.Add(ref _bytes, n);
                Publish(buffer.AsSpan(0, n), chars);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            reason = "closed by Farm";
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
            reason = e.Message;
        }
        finally
        {
            Close(reason);
        }
    }

    /// <summary>One read: split it into lines, then hand it to the observers and the waiting expects.</summary>
    void Publish(ReadOnlySpan<byte> raw, char[] chars)
    {
        int c = _decoder.GetChars(raw, chars, flush: false);
        ReadOnlySpan<char> text = chars.AsSpan(0, c);
        IConsoleObserver[] observers;
        List<(Waiter, Match?)>? done = null;
        int from;
        lock (_gate)
        {
            from = _lines.Count;
            while (!text.IsEmpty)
            {
                int nl = text.IndexOf('\n');
                if (nl < 0)
                {
                    _partial.Append(text);
                    break;
                }
                _partial.Append(text[..nl]);
                EmitLine(_partial.ToString());
                _partial.Clear();
                text = text[(nl + 1)..];
            }
            if (_rawBacklog is not null)
            {
                if (_rawBacklog.Length + raw.Length <= RawBacklogLimit) _rawBacklog.Write(raw);
                else _rawBacklog = null;
            }
            observers = _observers;
            if (_waiters.Count > 0) MatchWaiters(ref done, closed: false);
        }
        // Only this loop appends to _lines, so the new lines stay where they are while observers read them.
        var lines = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_lines)[from..];
        foreach (var o in observers)
        {
            try { o.OnRead(raw, lines); }
            catch (Exception) when (Detach(o)) { }
        }
        Complete(done);
    }

    void Close(string reason)
    {
        IConsoleObserver[] observers;
        List<(Waiter, Match?)>? done = null;
        int from;
        lock (_gate)
        {
            from = _lines.Count;
            if (_partial.Length > 0) EmitLine(_partial.ToString());
            _partial.Clear();
            IsClosed = true;
            CloseReason = reason;
            foreach (var s in _subscribers) s.Writer.TryComplete();
            _rawBacklog = null;
            observers = _observers;
            _observers = [];
            if (_waiters.Count > 0) MatchWaiters(ref done, closed: true);
        }
        var lines = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_lines)[from..];
        foreach (var o in observers)
        {
            try
            {
                if (!lines.IsEmpty) o.OnRead([], lines);
                o.OnClosed(reason);
            }
            catch (Exception) when (Detach(o)) { }
        }
        Complete(done);
    }

    // Xen ends its own lines with \r\n and relays dom0's with \r\r\n: strip every trailing \r.
    void EmitLine(string text)
    {
        var line = new ConsoleLine(_lines.Count, _time.GetUtcNow(), text.TrimEnd('\r'));
        _lines.Add(line);
        foreach (var s in _subscribers) s.Writer.TryWrite(line);
    }

    public ChannelReader<ConsoleLine> Subscribe(bool replay = false)
    {
        var ch = Channel.CreateUnbounded<ConsoleLine>(new UnboundedChannelOptions { SingleWriter = true });
        lock (_gate)
        {
            if (replay)
                foreach (var l in _lines) ch.Writer.TryWrite(l);
            if (IsClosed) ch.Writer.TryComplete();
            else _subscribers.Add(ch);
        }
        return ch.Reader;
    }

    /// <summary>
    /// Calls <paramref name="observer"/> on the read loop for every read from now on (with
    /// <paramref name="replay"/>, first once with every line so far and, for the first observer that
    /// asks for <paramref name="raw"/>, the bytes read before it came). Dispose the result to stop.
    /// </summary>
    internal IDisposable Observe(IConsoleObserver observer, bool replay = true, bool raw = false)
    {
        lock (_gate)
        {
            // Under the lock, so no read can fall between the replay and the first live call.
            if (replay)
            {
                var backlog = raw && _rawBacklog is { } b ? b.GetBuffer().AsSpan(0, (int)b.Length) : [];
                if (raw) _rawBacklog = null;
                if (_lines.Count > 0 || !backlog.IsEmpty) observer.OnRead(backlog, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_lines));
            }
            else if (raw) _rawBacklog = null;
            if (IsClosed)
            {
                observer.OnClosed(CloseReason!);
                return NoSubscription.Instance;
            }
            _observers = [.. _observers, observer];
        }
        return new Subscription(this, observer);
    }

    void Unobserve(IConsoleObserver observer)
    {
        lock (_gate) _observers = _observers.Where(o => o != observer).ToArray();
    }

    // An observer must not throw; one that does is dropped rather than stop the read loop (and the guest).
    bool Detach(IConsoleObserver observer)
    {
        Unobserve(observer);
        return true;
    }

    sealed class Subscription(ConsoleBroker broker, IConsoleObserver observer) : IDisposable
    {
        public void Dispose() => broker.Unobserve(observer);
    }

    sealed class NoSubscription : IDisposable
    {
        public static readonly NoSubscription Instance = new();
        public void Dispose() { }
    }

    IDisposable IConsole.Observe(IConsoleObserver observer) => Observe(observer);

    public IReadOnlyList<string> Tail(int count)
    {
        lock (_gate)
        {
            var tail = _lines.Skip(Math.Max(0, _lines.Count - count)).Select(l => l.Text).ToList();
            if (_partial.Length > 0) tail.Add(_partial.ToString().TrimEnd('\r'));
            return tail.Count > count ? tail.GetRange(tail.Count - count, count) : tail;
        }
    }

    public IReadOnlyList<ConsoleLine> Lines
    {
        get { lock (_gate) return _lines.ToList(); }
    }

    public async Task WriteAsync(string text, CancellationToken ct)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        await _writeLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            await _transport.WriteAsync(bytes, ct).ConfigureAwait(false);
            await _transport.FlushAsync(ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
            throw new InfrastructureException($"console {Name}: write failed: {e.Message}", Tail(20), e);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>A pexpect-style cursor: successive expects consume the console in order.</summary>
    public ConsoleCursor Cursor(bool fromStart = true) => new(this, fromStart ? 0 : LineCount);

    /// <summary>An expect waiting for its pattern: matched on the read loop as lines arrive.</summary>
    sealed class Waiter(Regex pattern, LinePosition at, bool partial)
    {
        public readonly Regex Pattern = pattern;
        public readonly LinePosition At = at;
        public readonly bool Partial = partial;
        public readonly TaskCompletionSource<Match?> Result = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public CancellationTokenRegistration Cancel;
    }

    Task<Match?> ILineSource.FindAsync(Regex pattern, LinePosition at, bool partial, CancellationToken ct)
    {
        var w = new Waiter(pattern, at, partial);
        lock (_gate)
        {
            if (TryMatch(w, out var m)) return Task.FromResult(m);
            if (IsClosed) return Task.FromResult<Match?>(null);
            if (ct.IsCancellationRequested) return Task.FromCanceled<Match?>(ct);
            // Before the waiter is visible to the read loop, so whoever completes it can dispose this.
            if (ct.CanBeCanceled)
                w.Cancel = ct.UnsafeRegister(static (o, t) =>
                {
                    var (broker, w) = ((ConsoleBroker, Waiter))o!;
                    lock (broker._gate) broker._waiters.Remove(w);
                    w.Result.TrySetCanceled(t);
                }, (this, w));
            _waiters.Add(w);
        }
        return w.Result.Task;
    }

    /// <summary>Under the lock: completes (into <paramref name="done"/>) every waiter that now matches, or all once closed.</summary>
    void MatchWaiters(ref List<(Waiter, Match?)>? done, bool closed)
    {
        for (int i = _waiters.Count - 1; i >= 0; i--)
        {
            var w = _waiters[i];
            Match? m;
            try
            {
                if (!TryMatch(w, out m) && !closed) continue;
            }
            catch (RegexMatchTimeoutException e)
            {
                _waiters.RemoveAt(i);
                w.Result.TrySetException(new InfrastructureException($"console {Name}: /{w.Pattern}/ took too long on one line: {e.Message}"));
                continue;
            }
            _waiters.RemoveAt(i);
            (done ??= []).Add((w, m));
        }
    }

    static void Complete(List<(Waiter, Match?)>? done)
    {
        if (done is null) return;
        foreach (var (w, m) in done)
        {
            w.Cancel.Dispose();
            w.Result.TrySetResult(m);
        }
    }

    /// <summary>
    /// Under the lock: the first match at or after the waiter's position, complete lines first, then
    /// the partial line (a shell prompt has no newline); patterns match within one line. Moves the
    /// position past the match, or past the complete lines that did not match.
    /// </summary>
    bool TryMatch(Waiter w, out Match? match)
    {
        var at = w.At;
        for (int i = at.Line; i < _lines.Count; i++)
        {
            int start = i == at.Line ? Math.Min(at.Offset, _lines[i].Text.Length) : 0;
            var m = w.Pattern.Match(_lines[i].Text, start);
            if (m.Success) return Found(i, m, out match);
        }
        // Unmatched complete lines never need scanning again; the partial line does.
        if (at.Line != _lines.Count) (at.Line, at.Offset) = (_lines.Count, 0);
        if (w.Partial && _partial.Length > 0)
        {
            var text = _partial.ToString();
            var m = w.Pattern.Match(text, Math.Min(at.Offset, text.Length));
            if (m.Success) return Found(_lines.Count, m, out match);
        }
        match = null;
        return false;

        bool Found(int line, Match m, out Match? match)
        {
            (at.Line, at.Offset) = (line, m.Index + Math.Max(m.Length, 1));
            match = m;
            return true;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        if (_pumpEnd is not null) EndPump("closed by Farm");
        if (_readLoop is not null) await _readLoop.ConfigureAwait(false);
        else Close("closed by Farm");
        await _transport.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }
}

/// <summary>Where an expect() found its pattern, with the line it matched (evidence).</summary>
internal sealed record ConsoleMatch(Match Match, int LineIndex, string LineText);

internal sealed class ConsoleCursor
{
    readonly ILineSource _source;
    readonly LinePosition _at;

    internal ConsoleCursor(ILineSource source, int line) => (_source, _at) = (source, new LinePosition { Line = line });

    /// <summary>
    /// Waits until <paramref name="pattern"/> appears after the cursor and moves the cursor past it.
    /// The caller's token bounds the wait (a stage timeout); a console that closes first is an
    /// infrastructure failure carrying the console tail. Only complete lines are matched unless
    /// <paramref name="partialLine"/> is set (a shell prompt never ends its line), because a
    /// pattern like <c>version (\S+)</c> would otherwise capture half a word.
    /// </summary>
    public async Task<ConsoleMatch> ExpectAsync(Regex pattern, CancellationToken ct, bool partialLine = false)
    {
        var m = await _source.FindAsync(pattern, _at, partialLine, ct).ConfigureAwait(false);
        if (m is null)
            throw new InfrastructureException(
                $"console {_source.Name} closed ({_source.CloseReason}) while waiting for /{pattern}/",
                _source.Tail(30));
        return new ConsoleMatch(m, _at.Line, m.Result("$_"));
    }
}
