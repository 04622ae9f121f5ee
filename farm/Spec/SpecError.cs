namespace Farm.Spec;

/// <summary>Where a value sits in a spec file; lines and columns are 1-based, as editors show them.</summary>
internal readonly record struct SpecPosition(string Source, int Line, int Column)
{
    public override string ToString() => $"{Source}:{Line}:{Column}";
}

/// <summary>
/// One mistake in a job or lab file, e.g.
/// <c>jobs/x.yaml:7:16: timeouts.dom0-prompt: "5 minutes" is not a duration (use 90s, 5m, 1h30m)</c>.
/// The field path lets a reader find the value even when the position points at its parent.
/// </summary>
internal sealed record SpecError(SpecPosition At, string Path, string Message)
{
    /// <summary>Most mistakes one exception lists; a file with more gets "... and N more".</summary>
    public const int MaxShown = 100;

    /// <summary>On the marker a reader keeps after its last stored mistake: how many more it only counted.</summary>
    internal int Hidden { get; init; }

    public override string ToString() => Path.Length == 0 ? $"{At}: {Message}" : $"{At}: {Path}: {Message}";

    /// <summary>
    /// Every mistake in one exception, one line each and in file order, so a user fixes the
    /// whole file in one round instead of one error per run.
    /// </summary>
    internal static ConfigurationException Combine(IEnumerable<SpecError> errors)
    {
        var listed = errors.ToList();
        var all = listed.Where(e => e.Hidden == 0).ToList();
        long more = listed.Sum(e => (long)e.Hidden) + Math.Max(0, all.Count - MaxShown);
        // Files keep the order they were read in; within a file, mistakes go top to bottom.
        var fileOrder = all.Select(e => e.At.Source).Distinct().Select((s, i) => (s, i)).ToDictionary(x => x.s, x => x.i);
        var lines = all
            .Select((e, i) => (e, i))
            .OrderBy(x => fileOrder[x.e.At.Source])
            .ThenBy(x => x.e.At.Line).ThenBy(x => x.e.At.Column).ThenBy(x => x.i)
            .Take(MaxShown)
            .Select(x => x.e.ToString())
            .ToList();
        if (more > 0) lines.Add($"... and {more} more mistake(s) not shown");
        return new ConfigurationException(string.Join(Environment.NewLine, lines), lines);
    }
}
