using System.Threading.Channels;

namespace Farm;

internal enum PowerState { Off, On, Unknown }

/// <summary>Switches a board's power and reads the state back (labgrid's PowerProtocol).</summary>
internal interface IPowerSwitch
{
    Task SetAsync(PowerState state, CancellationToken ct);
    Task<PowerState> GetAsync(CancellationToken ct);
}

/// <summary>One line of console output, timestamped when its last byte arrived.</summary>
internal sealed record ConsoleLine(long Sequence, DateTimeOffset Timestamp, string Text);

/// <summary>A board's console: any number of subscribers see every line, in order.</summary>
internal interface IConsole
{
    /// <summary>A reader that sees every line from the moment of subscription (and, with replay, from the start).</summary>
    ChannelReader<ConsoleLine> Subscribe(bool replay = false);
    Task WriteAsync(string text, CancellationToken ct);
    /// <summary>The last <paramref name="count"/> lines, for evidence in error messages.</summary>
    IReadOnlyList<string> Tail(int count);

    /// <summary>A pexpect-style cursor over this console's lines (from the start, or from now).</summary>
    Farm.Serial.ConsoleCursor Cursor(bool fromStart = true);

    /// <summary>
    /// Calls <paramref name="observer"/> on the console's read loop for every read, after replaying
    /// every line so far (the crash watch: no task and no thread hop per read). Dispose to stop.
    /// </summary>
    internal IDisposable Observe(Farm.Serial.IConsoleObserver observer);
}

internal sealed record CommandResult(string Command, int ExitCode, string StdOut, string StdErr, TimeSpan Duration);

/// <summary>Runs a shell command on the target (SSH into dom0, a serial shell, ...).</summary>
internal interface ICommandRunner
{
    Task<CommandResult> RunAsync(string command, TimeSpan timeout, CancellationToken ct);
}

/// <summary>Puts a run's artifacts where the board boots them from (direct boot, TFTP, SD card).</summary>
internal interface IDeployer
{
    Task DeployAsync(DeployRequest request, CancellationToken ct);
}

/// <summary>What to boot, and the kernel arguments this run adds (e.g. its SSH key).</summary>
internal sealed record DeployRequest(ArtifactSet Artifacts, IReadOnlyList<string> KernelArguments);

/// <summary>The files a job boots, with their sha256 (provenance).</summary>
internal sealed record ArtifactSet(
    string Directory,
    string Xen,
    string Kernel,
    string Initrd,
    IReadOnlyDictionary<string, string> Sha256,
    IReadOnlyDictionary<string, string> Manifest);

/// <summary>A boot loader driven over the console after power-on (U-Boot: stop autoboot, load over TFTP, boot).</summary>
internal interface IBootloader
{
    Task BootAsync(IConsole console, Farm.Serial.ConsoleCursor cursor, CancellationToken ct);
}

/// <summary>
/// A board that can keep a booted state and start from it later (QEMU: migration to a file).
/// After deploy, <see cref="Resume"/> says whether this power-on resumes a saved state or boots cold.
/// </summary>
internal interface IBootSnapshots
{
    /// <summary>The saved state the next power-on resumes, or null: cold boot. Set by deploy.</summary>
    ResumePoint? Resume { get; }

    /// <summary>The key of the state this deploy boots (hash of everything that determines it); set by deploy.</summary>
    string? Key { get; }

    /// <summary>Why this deploy boots cold (no snapshot yet, which inputs changed); null when it resumes.</summary>
    string? ColdBootReason { get; }

    /// <summary>Completes when a resumed machine runs again; fails as infrastructure if the state does not load.</summary>
    Task WaitResumedAsync(CancellationToken ct);

    /// <summary>Saves the running state under <see cref="Key"/>; returns why not if the board cannot (e.g. a non-migratable device).</summary>
    Task<SnapshotOutcome> SaveAsync(SnapshotContents contents, CancellationToken ct);
}

/// <summary>What a run needs from a saved boot: the key the target accepts and the log of the boot it skipped.</summary>
internal sealed record ResumePoint(string Key, string SshPrivateKeyPem, IReadOnlyList<string> BootLog, string SavedByRun, DateTimeOffset SavedAt);

/// <summary>What is stored beside a machine state.</summary>
internal sealed record SnapshotContents(string SshPrivateKeyPem, IReadOnlyList<string> BootLog, string RunId);

/// <summary>Saved (with its size) or not (with the reason).</summary>
internal sealed record SnapshotOutcome(bool Saved, string Detail, long Bytes = 0);
