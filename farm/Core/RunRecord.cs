using System.Text.Json.Serialization;
using Farm.Checks;

namespace Farm;

internal enum StageStatus
{
    [JsonStringEnumMemberName("passed")] Passed,
    [JsonStringEnumMemberName("failed")] Failed,
    [JsonStringEnumMemberName("incomplete")] Incomplete,
    [JsonStringEnumMemberName("error")] Error,
    [JsonStringEnumMemberName("skipped")] Skipped,
}

internal sealed record StageRecord(
    string Name,
    StageStatus Status,
    DateTimeOffset Start,
    TimeSpan Duration,
    TimeSpan Timeout,
    string? FailureClass = null,
    string? Message = null);

/// <summary>Where a run's inputs came from: artifact hashes and the versions that booted.</summary>
internal sealed record Provenance(
    IReadOnlyDictionary<string, string> ArtifactSha256,
    IReadOnlyDictionary<string, string> Packages,
    string? QemuVersion = null,
    string? XenVersion = null,
    string? LinuxVersion = null,
    string? Snapshot = null,
    string? SshHostKey = null);

/// <summary>Everything recorded about one run; serialised to run.json, junit.xml, allure-results and the store.</summary>
internal sealed record RunRecord(
    string RunId,
    string Job,
    string Board,
    Verdict Verdict,
    DateTimeOffset Start,
    TimeSpan Duration,
    IReadOnlyList<StageRecord> Stages,
    IReadOnlyList<CheckResult> Checks,
    Provenance Provenance,
    IReadOnlyDictionary<string, double> Metrics,
    string? FailureClass = null,
    string? Message = null,
    string? RunDirectory = null,
    RunState? State = null)
{
    /// <summary>The failure class as the enum (<see cref="FailureClass"/> holds its wire name, as run.json and the store do).</summary>
    [JsonIgnore]
    public Farm.FailureClass? Class => FailureClasses.FromWire(FailureClass);
}

/// <summary>
/// Whether a recorded run is still going: a run is recorded <c>running</c> when it starts and
/// <c>finished</c> when it ends, so one that stays running died without a word. Null on records
/// written before runs had a state.
/// </summary>
internal enum RunState
{
    [JsonStringEnumMemberName("running")] Running,
    [JsonStringEnumMemberName("finished")] Finished,
}

/// <summary>
/// Run ids as <see cref="Farm.Jobs.JobRunner"/> makes them (<c>20261201-020304-xen-smoke-a1b2c3</c>).
/// A run id names a directory under the run store, so one from outside (the lab API) must be exactly
/// this shape: never <c>farm.db</c>, <c>report</c> or anything else the store keeps beside its runs.
/// </summary>
internal static partial class RunIds
{
    [System.Text.RegularExpressions.GeneratedRegex(@"^[0-9]{8}-[0-9]{6}-[a-z0-9_.-]{1,100}-[0-9a-f]{6}$", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex Shape();

    public static bool IsValid(string? id) => id is not null && Shape().IsMatch(id);
}
