using System.Text.RegularExpressions;
using Farm.Boards;
using Farm.Boards.Qemu;

namespace Farm.Jobs;

/// <summary>
/// Per-stage ceilings (LAVA-style: every action has its own timeout, shown in the job file,
/// run.json and the report). Defaults fit Xen on QEMU TCG with a wide margin; a boot completes in ~5 s there.
/// </summary>
public sealed record StageTimeouts
{
    public TimeSpan Deploy { get; init; } = TimeSpan.FromSeconds(60);
    public TimeSpan PowerOn { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan XenBanner { get; init; } = TimeSpan.FromSeconds(60);
    public TimeSpan Dom0Prompt { get; init; } = TimeSpan.FromSeconds(300);
    public TimeSpan SshReady { get; init; } = TimeSpan.FromSeconds(120);
    public TimeSpan Commands { get; init; } = TimeSpan.FromSeconds(300);
    public TimeSpan Checks { get; init; } = TimeSpan.FromSeconds(60);
    public TimeSpan PowerOff { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan Resume { get; init; } = TimeSpan.FromSeconds(60);
    public TimeSpan Bootloader { get; init; } = TimeSpan.FromSeconds(120);
    public TimeSpan Snapshot { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>The whole job, whatever the stages say.</summary>
    public TimeSpan Job { get; init; } = TimeSpan.FromMinutes(30);

    public static StageTimeouts Default { get; } = new();

    /// <summary>The per-stage timeouts by their job-file key, in pipeline order (not <see cref="Job"/>).</summary>
    public IReadOnlyList<(string Key, TimeSpan Timeout)> Stages =>
    [
        ("deploy", Deploy), ("power-on", PowerOn), ("resume", Resume), ("bootloader", Bootloader), ("xen-banner", XenBanner), ("dom0-prompt", Dom0Prompt),
        ("snapshot", Snapshot), ("ssh-ready", SshReady), ("commands", Commands), ("checks", Checks), ("power-off", PowerOff),
    ];
}

/// <summary>Everything one run needs, resolved from a job file and a lab file.</summary>
public sealed record RunRequest(
    string JobName,
    IBoardConfig Board,
    string ArtifactDirectory,
    StageTimeouts Timeouts,
    Regex? XenBanner,
    Regex Dom0Prompt,
    IReadOnlyList<string> Commands,
    IReadOnlyList<string> Checks,
    string OutDirectory,
    string? JobFile = null,
    IReadOnlyList<string>? ExpectedPci = null,
    BootMode Boot = BootMode.Cold,
    string? SnapshotDirectory = null,
    IReadOnlyList<CrashPattern>? CrashPatterns = null);

/// <summary>
/// How a job gets its board to a ready dom0. <c>cold</c>: power on and boot (checks see this boot's
/// log). <c>snapshot</c>: resume a saved boot of the same artifacts, command line and board when one
/// exists (checks see that boot's saved log), else boot cold and save one.
/// </summary>
public enum BootMode { Cold, Snapshot }
