using System.Text.Json.Serialization;
using Farm.Checks;

namespace Farm;

public enum StageStatus
{
    [JsonStringEnumMemberName("passed")] Passed,
    [JsonStringEnumMemberName("failed")] Failed,
    [JsonStringEnumMemberName("incomplete")] Incomplete,
    [JsonStringEnumMemberName("error")] Error,
    [JsonStringEnumMemberName("skipped")] Skipped,
}

public sealed record StageRecord(
    string Name,
    StageStatus Status,
    DateTimeOffset Start,
    TimeSpan Duration,
    TimeSpan Timeout,
    string? FailureClass = null,
    string? Message = null);

/// <summary>Where a run's inputs came from: artifact hashes and the versions that booted.</summary>
public sealed record Provenance(
    IReadOnlyDictionary<string, string> ArtifactSha256,
    IReadOnlyDictionary<string, string> Packages,
    string? QemuVersion = null,
    string? XenVersion = null,
    string? LinuxVersion = null,
    string? Snapshot = null);

/// <summary>Everything recorded about one run; serialised to run.json, junit.xml, allure-results and the store.</summary>
public sealed record RunRecord(
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
    string? RunDirectory = null);
