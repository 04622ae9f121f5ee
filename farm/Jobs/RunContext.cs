using System.Collections.Concurrent;
using Farm.Checks;

namespace Farm.Jobs;

/// <summary>What the stages of one run share: where to write, the clock, what was collected.</summary>
internal sealed class RunContext(string runId, string runDirectory, TimeProvider time)
{
    public string RunId { get; } = runId;

    public string RunDirectory { get; } = runDirectory;

    public string EvidenceDirectory => Path.Combine(RunDirectory, "evidence");

    public TimeProvider Time { get; } = time;

    /// <summary>The console, once a stage has attached one; the source of evidence for failures.</summary>
    public IConsole? Console { get; set; }

    /// <summary>The run's position in the console: expect stages consume it in order.</summary>
    public Farm.Serial.ConsoleCursor? Cursor { get; set; }

    /// <summary>The crash watch on <see cref="Console"/>, started at power-on.</summary>
    public CrashWatch? Crashes { get; set; }

    /// <summary>
    /// Runs a stage's work under the board console's crash watch (when there is one): an oops or
    /// a Xen panic seen meanwhile ends it at once as a check failure.
    /// </summary>
    public Task WatchedAsync(string stage, Func<CancellationToken, Task> work, CancellationToken ct) =>
        Crashes is { } watch ? watch.GuardAsync(stage, work, ct) : work(ct);

    /// <summary>When the board was switched on (boot-time metrics are measured from here).</summary>
    public long PoweredOnAt { get; set; }

    /// <summary>The shell on the target, once SSH (or another runner) is ready.</summary>
    public ICommandRunner? Shell { get; set; }

    /// <summary>Output of each command run on the target, keyed by the command line.</summary>
    public ConcurrentDictionary<string, string> CommandOutputs { get; } = new();

    public List<CheckResult> Checks { get; } = [];

    /// <summary>The job's guests that have begun their stages, by name.</summary>
    public ConcurrentDictionary<string, Farm.Jobs.Stages.GuestSession> Guests { get; } = new();

    public ConcurrentDictionary<string, double> Metrics { get; } = new();

    /// <summary>Versions and hashes discovered while running (QEMU, Xen, Linux, artifacts).</summary>
    public ConcurrentDictionary<string, string> Facts { get; } = new();

    /// <summary>Set when this run resumes a saved boot instead of booting: its key and the log of the boot.</summary>
    public ResumePoint? Resume { get; set; }

    /// <summary>The key the target accepts: the run's own, or the one saved with the resumed boot.</summary>
    public Farm.Ssh.SshKey? SshKey { get; set; }

    /// <summary>Everything the board printed for this run: the resumed boot's log (if any), then the live console.</summary>
    public IReadOnlyList<string> FullConsole() => [.. Resume?.BootLog ?? [], .. Console?.Tail(int.MaxValue) ?? []];

    public IReadOnlyList<string> ConsoleTail(int count = 30) => Console?.Tail(count) ?? [];
}
