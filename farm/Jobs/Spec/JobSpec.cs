using System.Text.RegularExpressions;
using Farm.Spec;
using Farm.Serial;

namespace Farm.Jobs.Spec;

/// <summary>
/// A validated job file: which board, which artifacts, how long each stage may take, what to
/// wait for on the console and what to run on the target. Built only by <see cref="JobFile"/>
/// (or by tests with an object initializer); everything in it has already been checked.
/// </summary>
internal sealed record JobSpec
{
    public required string Name { get; init; }
    public string Description { get; init; } = "";

    /// <summary>A board picked by name; null when the job matches boards by <see cref="Tags"/> only.</summary>
    public string? BoardName { get; init; }

    /// <summary>Tags a board must all carry (LAVA-style: with a board name they further restrict it).</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>An artifact set name or a path, as written; see <see cref="ArtifactDirectory"/>.</summary>
    public required string Artifacts { get; init; }

    /// <summary>Cold boot, or resume a saved boot of the same inputs when there is one (<c>boot: snapshot</c>).</summary>
    public BootMode Boot { get; init; } = BootMode.Cold;

    public StageTimeouts StageTimeouts { get; init; } = StageTimeouts.Default;
    public required ConsoleExpectations Expect { get; init; }

    /// <summary>Shell commands run on the target; their output is stored as evidence keyed by the command line.</summary>
    public IReadOnlyList<string> Commands { get; init; } = [];

    /// <summary>Check suites or check ids to run over the evidence.</summary>
    public IReadOnlyList<string> Checks { get; init; } = [];

    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// crash-patterns: laid over the board's (id → regex; null drops the pattern of that id), e.g. to
    /// watch for a driver's own fatal message or to accept an oops a negative test provokes.
    /// </summary>
    public IReadOnlyDictionary<string, Regex?>? CrashPatterns { get; init; }

    /// <summary>domUs started from dom0 once its SSH is ready, each through the guest stages.</summary>
    public IReadOnlyList<GuestSpec> Guests { get; init; } = [];

    /// <summary>The file the job came from, as given to the loader (or the source name given to Parse).</summary>
    public string SourcePath { get; init; } = "";

    /// <summary>
    /// Where each field was written, keyed by field path (<c>board</c>, <c>expect.dom0-prompt</c>,
    /// <c>commands[2]</c>), so errors found after loading (no such board, a prompt that never
    /// appeared) can still point at the line to fix.
    /// </summary>
    public IReadOnlyDictionary<string, SpecPosition> Positions { get; init; } = new Dictionary<string, SpecPosition>();

    /// <summary>
    /// The artifact directory: a bare name is a set under <c>&lt;repo&gt;/.cache/artifacts/</c>
    /// (what the artifact fetcher fills); anything that looks like a path is taken as one, relative
    /// to the job file so a job means the same thing from any working directory.
    /// </summary>
    public string ArtifactDirectory(string repoRoot)
    {
        if (Path.IsPathRooted(Artifacts)) return Artifacts;
        if (Artifacts.Contains('/') || Artifacts.Contains('\\') || Artifacts.StartsWith('.'))
        {
            var jobDirectory = SourcePath.Length == 0 ? Directory.GetCurrentDirectory() : Path.GetDirectoryName(Path.GetFullPath(SourcePath))!;
            return Path.GetFullPath(Path.Combine(jobDirectory, Artifacts));
        }
        return Path.Combine(repoRoot, ".cache", "artifacts", Artifacts);
    }

    /// <summary>The position of a field, or the top of the file when it was not written.</summary>
    public SpecPosition PositionOf(string fieldPath) =>
        Positions.TryGetValue(fieldPath, out var p) ? p : new SpecPosition(SourcePath, 1, 1);
}

/// <summary>
/// Console lines that mark boot milestones. <see cref="XenBanner"/> is null for native jobs;
/// <see cref="Dom0Prompt"/> is the shell prompt of dom0, or of Linux itself when booted natively.
/// </summary>
internal sealed record ConsoleExpectations
{
    public Regex? XenBanner { get; init; }
    public required Regex Dom0Prompt { get; init; }
}
