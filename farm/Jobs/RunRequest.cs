using System.Text.RegularExpressions;
using Farm.Boards.Qemu;

namespace Farm.Jobs;

/// <summary>Named per-stage timeouts: data from the job file, shown in run.json and the report.</summary>
public sealed record StageTimeouts(
    TimeSpan Deploy,
    TimeSpan PowerOn,
    TimeSpan XenBanner,
    TimeSpan Dom0Prompt,
    TimeSpan SshReady,
    TimeSpan Commands,
    TimeSpan Checks,
    TimeSpan PowerOff,
    TimeSpan Job)
{
    public static StageTimeouts Default { get; } = new(
        Deploy: TimeSpan.FromSeconds(60),
        PowerOn: TimeSpan.FromSeconds(30),
        XenBanner: TimeSpan.FromSeconds(60),
        Dom0Prompt: TimeSpan.FromSeconds(300),
        SshReady: TimeSpan.FromSeconds(120),
        Commands: TimeSpan.FromSeconds(300),
        Checks: TimeSpan.FromSeconds(60),
        PowerOff: TimeSpan.FromSeconds(30),
        Job: TimeSpan.FromMinutes(30));
}

/// <summary>Everything one run needs, resolved from a job file and a lab file.</summary>
public sealed record RunRequest(
    string JobName,
    QemuBoardConfig Board,
    string ArtifactDirectory,
    StageTimeouts Timeouts,
    Regex? XenBanner,
    Regex Dom0Prompt,
    IReadOnlyList<string> Commands,
    IReadOnlyList<string> Checks,
    string OutDirectory,
    string? JobFile = null);
