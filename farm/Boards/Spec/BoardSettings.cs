using Farm.Spec;

namespace Farm.Boards.Spec;

/// <summary>Every board field that a board type sets and a board may override; null means "not set here".</summary>
internal sealed record BoardSettings
{
    /// <summary>The kind's name (<c>kind:</c>), checked against <see cref="BoardKinds"/> when read.</summary>
    public string? Kind { get; init; }
    public BoardMode? Mode { get; init; }
    public string? XenCmdline { get; init; }
    public string? LinuxCmdline { get; init; }
    public IReadOnlyList<string>? ExpectedPci { get; init; }

    /// <summary>The kinds' sections read here (<c>qemu</c>, <c>power</c>...), by key, as their sections read them.</summary>
    internal IReadOnlyDictionary<string, object> Sections { get; init; } = new Dictionary<string, object>();

    /// <summary>Kind-owned keys written here, also those whose value was wrong.</summary>
    internal IReadOnlySet<string> Written { get; init; } = new HashSet<string>();

    /// <summary>crash-patterns: id → regex, or null to drop that id; a board's entries lie over its type's.</summary>
    public IReadOnlyDictionary<string, System.Text.RegularExpressions.Regex?>? CrashPatterns { get; init; }

    public static BoardSettings Empty { get; } = new();

    static BoardKindSection? SectionOf(string key) => BoardKinds.All.SelectMany(k => k.Sections).FirstOrDefault(s => s.Key == key);

    /// <summary>These settings laid over <paramref name="lower"/>; a section merges as its kind says (<c>qemu</c> key by key).</summary>
    public BoardSettings Over(BoardSettings lower) => new()
    {
        Kind = Kind ?? lower.Kind,
        Mode = Mode ?? lower.Mode,
        XenCmdline = XenCmdline ?? lower.XenCmdline,
        LinuxCmdline = LinuxCmdline ?? lower.LinuxCmdline,
        ExpectedPci = ExpectedPci ?? lower.ExpectedPci,
        Sections = lower.Sections.Keys.Union(Sections.Keys).ToDictionary(k => k, k =>
            (Sections.GetValueOrDefault(k), lower.Sections.GetValueOrDefault(k)) switch
            {
                ({ } upper, { } below) => SectionOf(k)?.Over(upper, below) ?? upper,
                (var upper, var below) => (upper ?? below)!,
            }),
        Written = Written.Union(lower.Written).ToHashSet(),
        CrashPatterns = CrashPatterns is null ? lower.CrashPatterns : lower.CrashPatterns is null ? CrashPatterns
            : lower.CrashPatterns.Where(p => !CrashPatterns.ContainsKey(p.Key)).Concat(CrashPatterns).ToDictionary(),
    };
}

/// <summary>A board type from a lab file (LAVA's device type): the shared settings of a family of boards.</summary>
internal sealed record BoardTypeSpec
{
    public required string Name { get; init; }
    public required BoardSettings Settings { get; init; }
    public string SourcePath { get; init; } = "";
    public int Line { get; init; }
    public int Column { get; init; }
    public SpecPosition At => new(SourcePath, Line, Column);
}
