using System.Text;
using System.Text.RegularExpressions;
using System.Threading.Channels;

namespace Farm.Serial;

/// <summary>
/// The one reader of a console stream. A single read loop drains the transport as fast as
/// bytes arrive (QEMU's serial chardev blocks the guest when its socket buffer fills, so a
/// reader that pauses slows the system under test), timestamps complete lines and fans them out
/// to any number of subscribers. Nothing is dropped: every subscriber channel is unbounded,
/// the full line history is kept for replay and expect(), and the raw bytes are kept verbatim.
/// </summary>
internal sealed class ConsoleBroker : IConsole, IAsyncDisposable
{
    const int ReadBufferSize = 64 * 1024;

    readonly Stream _transport;
    readonly TimeProvider _time;
    readonly object _gate = new();
    readonly List<ConsoleLine> _lines = [];
    readonly List<Channel<ConsoleLine>> _subscribers = [];
    readonly Channel<ReadOnlyMemory<byte>> _raw = Channel.CreateUnbounded<ReadOnlyMemory<byte>>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    readonly Decoder _decoder = new UTF8Encoding(false, false).GetDecoder();
    readonly StringBuilder _partial = new();
    readonly CancellationTokenSource _stop = new();
    readonly SemaphoreSlim _writeLock = new(1, 1);
    TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    Task? _readLoop;
    long _bytes;

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

    /// <summary>The raw byte stream, exactly as received (one reader: the transcript writer).</summary>
    public ChannelReader<ReadOnlyMemory<byte>> Raw => _raw.Reader;

    public void Start() => _readLoop ??= Task.Run(ReadLoopAsync);

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
                int c = _decoder.GetChars(buffer, 0, n, chars, 0, flush: false);
                // Lines before raw bytes: a transcript woken by the raw chunk finds its lines queued too.
                Publish(chars.AsSpan(0, c));
                _raw.Writer.TryWrite(buffer.AsSpan(0, n).ToArray());
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
            lock (_gate)
            {
                if (_partial.Length > 0) EmitLine(_partial.ToString());
                _partial.Clear();
                IsClosed = true;
                CloseReason = reason;
                foreach (var s in _subscribers) s.Writer.TryComplete();
                SignalChanged();
            }
            _raw.Writer.TryComplete();
        }
    }

    void Publish(ReadOnlySpan<char> text)
    {
        lock (_gate)
        {
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
            SignalChanged();
        }
    }

    // Xen ends its own lines with \r\n and relays dom0's with \r\r\n: strip every trailing \r.
    void EmitLine(string text)
    {
        var line = new ConsoleLine(_lines.Count, _time.GetUtcNow(), text.TrimEnd('\r'));
        _lines.Add(line);
        foreach (var s in _subscribers) s.Writer.TryWrite(line);
    }

    void SignalChanged()
    {
        var old = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        old.TrySetResult();
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
    public ConsoleCursor Cursor(bool fromStart = true)
    {
        lock (_gate) return new ConsoleCursor(this, fromStart ? 0 : _lines.Count, 0);
    }

    /// <summary>
    /// Finds the first match at or after (line, offset): complete lines first, then the
    /// partial line (a shell prompt has no newline). Patterns match within one line.
    /// </summary>
    internal (Match? match, int line, Task changed, bool closed) Scan(Regex pattern, int line, int offset, bool partial)
    {
        lock (_gate)
        {
            for (int i = line; i < _lines.Count; i++)
            {
                int start = i == line ? Math.Min(offset, _lines[i].Text.Length) : 0;
                var m = pattern.Match(_lines[i].Text, start);
                if (m.Success) return (m, i, _changed.Task, IsClosed);
            }
            if (partial && _partial.Length > 0)
            {
                var text = _partial.ToString();
                int start = line == _lines.Count ? Math.Min(offset, text.Length) : 0;
                var m = pattern.Match(text, start);
                if (m.Success) return (m, _lines.Count, _changed.Task, IsClosed);
            }
            return (null, _lines.Count, _changed.Task, IsClosed);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        if (_readLoop is not null) await _readLoop.ConfigureAwait(false);
        await _transport.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }
}

/// <summary>Where an expect() found its pattern, with the line it matched (evidence).</summary>
internal sealed record ConsoleMatch(Match Match, int LineIndex, string LineText);

internal sealed class ConsoleCursor
{
    readonly ConsoleBroker _broker;
    int _line;
    int _offset;

    internal ConsoleCursor(ConsoleBroker broker, int line, int offset) => (_broker, _line, _offset) = (broker, line, offset);

    /// <summary>
    /// Waits until <paramref name="pattern"/> appears after the cursor and moves the cursor past it.
    /// The caller's token bounds the wait (a stage timeout); a console that closes first is an
    /// infrastructure failure carrying the console tail. Only complete lines are matched unless
    /// <paramref name="partialLine"/> is set (a shell prompt never ends its line), because a
    /// pattern like <c>version (\S+)</c> would otherwise capture half a word.
    /// </summary>
    public async Task<ConsoleMatch> ExpectAsync(Regex pattern, CancellationToken ct, bool partialLine = false)
    {
        while (true)
        {
            var (m, line, changed, closed) = _broker.Scan(pattern, _line, _offset, partialLine);
            if (m is not null)
            {
                _line = line;
                _offset = m.Index + Math.Max(m.Length, 1);
                return new ConsoleMatch(m, line, m.Result("$_"));
            }
            // Unmatched complete lines never need scanning again; the partial line does.
            _offset = line == _line ? _offset : 0;
            _line = line;
            if (closed)
                throw new InfrastructureException(
                    $"console {_broker.Name} closed ({_broker.CloseReason}) while waiting for /{pattern}/",
                    _broker.Tail(30));
            await changed.WaitAsync(ct).ConfigureAwait(false);
        }
    }
}
