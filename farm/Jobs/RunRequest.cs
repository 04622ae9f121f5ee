using System.Text.RegularExpressions;
using Farm.Boards;
using Farm.Boards.Qemu;
using Farm.Serial;

namespace Farm.Jobs;

/// <summary>A kind of stage: its job-file name (a <c>timeouts:</c> key) and the timeout it has unless the job says otherwise.</summary>
internal sealed record StageKind(string Name, TimeSpan DefaultTimeout, string Description);

/// <summary>
/// Every stage Farm runs, in pipeline order, each with its own default ceiling (LAVA-style: every
/// action has its own timeout, shown in the job file, run.json and the report). A new stage
/// declares itself here once; job files, validation and reports follow. Defaults fit Xen on QEMU
/// TCG with a wide margin (a boot completes in ~5 s there, a domU in ~3 s).
/// </summary>
internal static class StageKinds
{
    static StageKind K(string name, int seconds, string description) => new(name, TimeSpan.FromSeconds(seconds), description);

    public static readonly StageKind Deploy = K("deploy", 60, "verify the artifact set and hand it to the board");
    public static readonly StageKind PowerOn = K("power-on", 30, "switch the board on");
    public static readonly StageKind Resume = K("resume", 60, "resume a saved boot");
    public static readonly StageKind Bootloader = K("bootloader", 120, "drive U-Boot to the kernel");
    public static readonly StageKind XenBanner = K("xen-banner", 60, "Xen's banner on the console");
    public static readonly StageKind Dom0Prompt = K("dom0-prompt", 300, "dom0's (or native Linux's) shell prompt");
    public static readonly StageKind Snapshot = K("snapshot", 120, "save the booted machine");
    public static readonly StageKind SshReady = K("ssh-ready", 120, "dom0's sshd answers");
    public static readonly StageKind Commands = K("commands", 300, "the job's commands in dom0");
    public static readonly StageKind GuestAssign = K("guest-assign", 60, "xl pci-assignable-add for each guest device");
    public static readonly StageKind GuestCreate = K("guest-create", 120, "xl create, and the guest console attached");
    public static readonly StageKind GuestPrompt = K("guest-prompt", 300, "the guest's shell prompt on its console");
    public static readonly StageKind GuestCommands = K("guest-commands", 300, "the guest's commands over its console");
    public static readonly StageKind GuestHotplug = K("guest-hotplug", 120, "xl pci-detach and pci-attach, pci-list around them");
    public static readonly StageKind GuestDestroy = K("guest-destroy", 60, "xl destroy (also after a failure)");
    public static readonly StageKind GuestDeassign = K("guest-deassign", 120, "xl pci-assignable-remove -r, then dom0 uses the device again");
    public static readonly StageKind Checks = K("checks", 60, "judge the evidence");
    public static readonly StageKind PowerOff = K("power-off", 30, "switch the board off (always)");

    public static IReadOnlyList<StageKind> All { get; } =
    [
        Deploy, PowerOn, Resume, Bootloader, XenBanner, Dom0Prompt, Snapshot, SshReady, Commands,
        GuestAssign, GuestCreate, GuestPrompt, GuestCommands, GuestHotplug, GuestDestroy, GuestDeassign, Checks, PowerOff,
    ];

    /// <summary>The stages each guest runs (a guest's own <c>timeouts:</c> may set these).</summary>
    public static IReadOnlyList<StageKind> Guest { get; } = [GuestAssign, GuestCreate, GuestPrompt, GuestCommands, GuestHotplug, GuestDestroy, GuestDeassign];

    public static StageKind? Find(string name) => All.FirstOrDefault(k => k.Name == name);
}

/// <summary>
/// The run's stage ceilings, keyed by stage name: what the job set, else each stage's own default;
/// and the whole job's ceiling.
/// </summary>
internal sealed class StageTimeouts : IEquatable<StageTimeouts>
{
    readonly SortedDictionary<string, TimeSpan> _set;

    public StageTimeouts(IReadOnlyDictionary<string, TimeSpan>? set = null, TimeSpan? job = null)
    {
        _set = new(StringComparer.Ordinal);
        foreach (var (name, timeout) in set ?? new Dictionary<string, TimeSpan>())
            _set[StageKinds.Find(name)?.Name ?? throw new ArgumentException($"no stage is named '{name}'", nameof(set))] = timeout;
        Job = job ?? DefaultJob;
    }

    public static readonly TimeSpan DefaultJob = TimeSpan.FromMinutes(30);

    public static StageTimeouts Default { get; } = new();

    /// <summary>The whole job, whatever the stages say.</summary>
    public TimeSpan Job { get; }

    /// <summary>The stages the job set explicitly.</summary>
    public IReadOnlyDictionary<string, TimeSpan> Set => _set;

    public TimeSpan this[StageKind stage] => _set.TryGetValue(stage.Name, out var t) ? t : stage.DefaultTimeout;

    public TimeSpan this[string stage] => this[StageKinds.Find(stage) ?? throw new ArgumentException($"no stage is named '{stage}'", nameof(stage))];

    /// <summary>A copy with one stage's ceiling changed.</summary>
    public StageTimeouts With(string stage, TimeSpan timeout) => new(new Dictionary<string, TimeSpan>(_set) { [stage] = timeout }, Job);

    public StageTimeouts WithJob(TimeSpan job) => new(_set, job);

    /// <summary>Every stage's ceiling by its job-file key, in pipeline order (not <see cref="Job"/>).</summary>
    public IReadOnlyList<(string Key, TimeSpan Timeout)> Stages => StageKinds.All.Select(k => (k.Name, this[k])).ToList();

    // Shortcuts for the boot stages the plan reads; new stages need none (use the indexer).
    public TimeSpan Deploy => this[StageKinds.Deploy];
    public TimeSpan PowerOn => this[StageKinds.PowerOn];
    public TimeSpan Resume => this[StageKinds.Resume];
    public TimeSpan Bootloader => this[StageKinds.Bootloader];
    public TimeSpan XenBanner => this[StageKinds.XenBanner];
    public TimeSpan Dom0Prompt => this[StageKinds.Dom0Prompt];
    public TimeSpan Snapshot => this[StageKinds.Snapshot];
    public TimeSpan SshReady => this[StageKinds.SshReady];
    public TimeSpan Commands => this[StageKinds.Commands];
    public TimeSpan Checks => this[StageKinds.Checks];
    public TimeSpan PowerOff => this[StageKinds.PowerOff];

    public bool Equals(StageTimeouts? other) =>
        other is not null && Job == other.Job && StageKinds.All.All(k => this[k] == other[k]);

    public override bool Equals(object? obj) => Equals(obj as StageTimeouts);

    public override int GetHashCode() => HashCode.Combine(Job, Dom0Prompt, Commands);

    public override string ToString() => string.Join(", ", Stages.Select(s => $"{s.Key}={s.Timeout.TotalSeconds:0.###}s")) + $", job={Job.TotalSeconds:0.###}s";
}

/// <summary>Everything one run needs, resolved from a job file and a lab file.</summary>
internal sealed record RunRequest(
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
    IReadOnlyList<CrashPattern>? CrashPatterns = null,
    IReadOnlyList<Farm.Jobs.Spec.GuestSpec>? Guests = null);

/// <summary>
/// How a job gets its board to a ready dom0. <c>cold</c>: power on and boot (checks see this boot's
/// log). <c>snapshot</c>: resume a saved boot of the same artifacts, command line and board when one
/// exists (checks see that boot's saved log), else boot cold and save one.
/// </summary>
internal enum BootMode { Cold, Snapshot }
