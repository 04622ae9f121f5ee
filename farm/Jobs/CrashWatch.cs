using System.Buffers;
using System.Text.RegularExpressions;
using Farm.Serial;

namespace Farm.Jobs;

/// <summary>One crash seen on a console: which pattern, the line, and where.</summary>
internal sealed record CrashSighting(string Console, CrashPattern Pattern, string Line, long LineIndex);

/// <summary>
/// Watches one console for crash lines for as long as the console lives. It observes the console's
/// read loop (never the expect path, so a stage's cursor is untouched): called there once per read
/// with that read's complete lines, with no task or thread hop of its own, it skips every line that
/// holds none of the patterns' literal hints with one vectorised search and runs the regexes only
/// on the rest. The first crash cancels <see cref="Crashed"/>: stages that wait on the console run
/// under <see cref="GuardAsync"/> and end at once as a check failure.
/// </summary>
internal sealed class CrashWatch : IAsyncDisposable, Farm.Serial.IConsoleObserver
{
    readonly CancellationTokenSource _crashed = new();
    readonly IConsole _console;
    readonly LineMatcher? _matcher;
    readonly IDisposable? _subscription;
    CrashSighting? _sighting;
    volatile bool _stopped;

    CrashWatch(IConsole console, string name, IReadOnlyList<CrashPattern> patterns)
    {
        _console = console;
        Name = name;
        Patterns = patterns;
        if (patterns.Count == 0) return;
        _matcher = new LineMatcher(patterns);
        _subscription = console.Observe(this);
    }

    /// <summary>Which console this watches ("console" for the board's, "guest g1" for a domU's).</summary>
    public string Name { get; }

    public IReadOnlyList<CrashPattern> Patterns { get; }

    public static CrashWatch Start(IConsole console, string name, IReadOnlyList<CrashPattern> patterns) => new(console, name, patterns);

    /// <summary>Cancelled at the first crash line.</summary>
    public CancellationToken Crashed => _crashed.Token;

    public CrashSighting? Sighting => Volatile.Read(ref _sighting);

    /// <summary>The first crash line of <paramref name="lines"/>, if any (the watch's own test, also for replays).</summary>
    public static (CrashPattern Pattern, string Line, int Index)? FindFirst(IEnumerable<string> lines, IReadOnlyList<CrashPattern> patterns)
    {
        var matcher = new LineMatcher(patterns);
        int i = 0;
        foreach (var line in lines)
        {
            if (matcher.Match(line) is { } p) return (p, line, i);
            i++;
        }
        return null;
    }

    void Farm.Serial.IConsoleObserver.OnRead(ReadOnlySpan<byte> raw, ReadOnlySpan<ConsoleLine> lines)
    {
        if (_stopped || _sighting is not null) return;
        foreach (var line in lines)
        {
            CrashPattern? p;
            try
            {
                p = _matcher!.Match(line.Text);
            }
            catch (RegexMatchTimeoutException)
            {
                continue; // a pathological line for one pattern is not a crash; the next line is tried
            }
            if (p is null) continue;
            Volatile.Write(ref _sighting, new CrashSighting(Name, p, line.Text, line.Sequence));
            // On the read loop: the guards' cancellation callbacks run on the pool, not here.
            _ = _crashed.CancelAsync();
            return;
        }
    }

    void Farm.Serial.IConsoleObserver.OnClosed(string reason) { }

    /// <summary>The check failure for a crash seen while <paramref name="stage"/> ran: the crash line, then the console tail.</summary>
    public CheckFailedException Failure(string stage, CrashSighting s, int tail = 30)
    {
        var lines = _console.Tail(tail);
        return new CheckFailedException(
            $"stage '{stage}': {s.Console} crashed ({s.Pattern.Id}, {s.Pattern.Source}): {s.Line.Trim()}",
            [s.LineIndex < 0 ? $"crash {s.Pattern.Id} on {s.Console}: {s.Line}" : $"crash {s.Pattern.Id} at {s.Console} line {s.LineIndex + 1}: {s.Line}", .. lines]);
    }

    /// <summary>
    /// Runs <paramref name="work"/> until it ends or this console shows a crash, whichever is
    /// first; a crash (also one seen before the stage began) is a <see cref="CheckFailedException"/>.
    /// </summary>
    public async Task GuardAsync(string stage, Func<CancellationToken, Task> work, CancellationToken ct)
    {
        if (Sighting is { } before) throw Failure(stage, before);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _crashed.Token);
        try
        {
            await work(linked.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (!ct.IsCancellationRequested && e is OperationCanceledException or InfrastructureException
                                  && (Sighting ?? SightingInTail()) is { } s)
        {
            // A console that closed right after the crash (Xen reboots, QEMU exits) is the crash's doing too;
            // the watch may not have read that far yet, so the tail is searched as well.
            throw Failure(stage, s);
        }
    }

    CrashSighting? SightingInTail()
    {
        if (Patterns.Count == 0) return null;
        var tail = _console.Tail(500);
        return FindFirst(tail, Patterns) is { } hit ? new CrashSighting(Name, hit.Pattern, hit.Line, -1) : null;
    }

    // _crashed stays undisposed: guards may still hold tokens linked to it, and it owns no timer.
    public ValueTask DisposeAsync()
    {
        _stopped = true;
        _subscription?.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>Per-line matching: one multi-literal search over the hints, then the regexes that may match.</summary>
    sealed class LineMatcher
    {
        readonly IReadOnlyList<CrashPattern> _hinted;
        readonly IReadOnlyList<CrashPattern> _always;
        readonly SearchValues<string>? _hints;

        public LineMatcher(IReadOnlyList<CrashPattern> patterns)
        {
            _hinted = patterns.Where(p => !string.IsNullOrEmpty(p.Hint)).ToList();
            _always = patterns.Where(p => string.IsNullOrEmpty(p.Hint)).ToList();
            _hints = _hinted.Count == 0 ? null : SearchValues.Create(_hinted.Select(p => p.Hint!).Distinct().ToArray(), StringComparison.Ordinal);
        }

        public CrashPattern? Match(string line)
        {
            if (_hints is not null && line.AsSpan().IndexOfAny(_hints) >= 0)
                foreach (var p in _hinted)
                    if (line.Contains(p.Hint!, StringComparison.Ordinal) && p.Pattern.IsMatch(line)) return p;
            foreach (var p in _always)
                if (p.Pattern.IsMatch(line)) return p;
            return null;
        }
    }
}
