using System.Buffers;
using System.Text.RegularExpressions;

namespace Farm.Jobs;

/// <summary>
/// A console line that means the system under test crashed (LAVA's kernel-message patterns).
/// <see cref="Hint"/> is a literal every match contains: lines without any hint skip the regex.
/// </summary>
internal sealed record CrashPattern(string Id, Regex Pattern, string Source, string? Hint = null);

/// <summary>
/// The default crash patterns, each with the source string it matches, and the merge of the
/// board type's, board's and job's <c>crash-patterns:</c> maps over them (an id replaces the
/// pattern of that id, a new id adds one, <c>off</c> removes one).
/// </summary>
internal static partial class CrashPatterns
{
    static Regex R(string pattern) => new(pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    public static IReadOnlyList<CrashPattern> Defaults { get; } =
    [
        // Linux arch/arm64/kernel/traps.c die(): pr_emerg("Internal error: %s: %016lx [#%d] ...", str, err, ...),
        // str is "Oops" (arm64_notify_die / die_kernel_fault); also "Internal error: Oops - BUG".
        new("linux.oops", R(@"Internal error: Oops"), "linux arch/arm64/kernel/traps.c die(): \"Internal error: %s: %016lx [#%d]\"", "Internal error: Oops"),
        // Linux kernel/panic.c panic(): pr_emerg("Kernel panic - not syncing: %s\n", buf).
        new("linux.panic", R(@"Kernel panic - not syncing"), "linux kernel/panic.c panic(): \"Kernel panic - not syncing: %s\"", "Kernel panic - not syncing"),
        // Linux arch/arm64/mm/fault.c die_kernel_fault(): pr_alert("Unable to handle kernel %s at virtual address %016lx\n", msg, addr).
        new("linux.unable-to-handle", R(@"Unable to handle kernel "), "linux arch/arm64/mm/fault.c die_kernel_fault(): \"Unable to handle kernel %s at virtual address %016lx\"", "Unable to handle kernel "),
        // Xen xen/drivers/char/console.c panic(): printk("Panic on CPU %d:\n", smp_processor_id()).
        new("xen.panic", R(@"Panic on CPU \d+:"), "xen xen/drivers/char/console.c panic(): \"Panic on CPU %d:\"", "Panic on CPU "),
        // Xen xen/common/bug.c (xen/arch/arm/traps.c before 4.18) do_bug_frame(), BUGFRAME_assert:
        // printk("Assertion '%s' failed at %s%s:%d\n", predicate, prefix, filename, lineno).
        new("xen.assert", R(@"Assertion '.*' failed at "), "xen xen/common/bug.c do_bug_frame(): \"Assertion '%s' failed at %s%s:%d\"", "Assertion '"),
        // Xen xen/common/bug.c do_bug_frame(), BUGFRAME_bug: printk("Xen BUG at %s%s:%d\n", prefix, filename, lineno).
        new("xen.bug", R(@"Xen BUG at "), "xen xen/common/bug.c do_bug_frame(): \"Xen BUG at %s%s:%d\"", "Xen BUG at "),
        // Xen xen/arch/arm/traps.c do_unexpected_trap(): printk("CPU%d: Unexpected Trap: %s\n", ...), e.g.
        // "Data Abort" from do_trap_hyp_sync() for HSR_EC_DATA_ABORT_CURR_EL (an abort taken in Xen itself).
        new("xen.trap", R(@"CPU\d+: Unexpected Trap: "), "xen xen/arch/arm/traps.c do_unexpected_trap(): \"CPU%d: Unexpected Trap: %s\"", "Unexpected Trap: "),
    ];

    /// <summary>Applies one layer of overrides: a null pattern removes that id, any other replaces or adds it.</summary>
    public static IReadOnlyList<CrashPattern> Merge(IReadOnlyList<CrashPattern> under, IReadOnlyDictionary<string, Regex?>? layer, string source)
    {
        if (layer is null || layer.Count == 0) return under;
        var result = under.Where(p => !layer.ContainsKey(p.Id)).ToList();
        foreach (var (id, pattern) in layer)
            if (pattern is not null) result.Add(new CrashPattern(id, pattern, source));
        return result;
    }

    /// <summary>What <c>crash-patterns:</c> ids look like: lowercase words joined by '.' or '-'.</summary>
    public static bool IsValidId(string id) => IdRule().IsMatch(id);

    public const string IdHint = "ids are lowercase letters, digits, '.' and '-', e.g. linux.oops";

    [GeneratedRegex(@"^[a-z0-9][a-z0-9.-]{0,63}$")]
    private static partial Regex IdRule();
}

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
