using System.Text.RegularExpressions;
using Farm.Boards;
using Farm.Deploy;
using Farm.Serial;
using Farm.Ssh;

namespace Farm.Jobs.Stages;

/// <summary>Verifies the artifact set against its MANIFEST and hands it to the board's deployer.</summary>
internal sealed class DeployStage(Board board, string artifactDirectory, bool needXen, SshKey? key, TimeSpan timeout)
    : Stage("deploy", timeout)
{
    public override async Task RunAsync(RunContext ctx, CancellationToken ct)
    {
        var set = await ArtifactStore.LoadAsync(artifactDirectory, needXen, ct).ConfigureAwait(false);
        foreach (var (name, sha) in set.Sha256) ctx.Facts[$"sha256:{name}"] = sha;
        foreach (var (k, v) in set.Manifest) ctx.Facts[$"manifest:{k}"] = v;
        await board.Deployer.DeployAsync(new DeployRequest(set, key is null ? [] : [key.KernelParameter]), ct).ConfigureAwait(false);
        ctx.SshKey = key;
        if (board.Snapshots is not { } snapshots) return;
        if (snapshots.Resume is { } resume)
        {
            ctx.Resume = resume;
            ctx.SshKey = SshKey.FromPem(resume.SshPrivateKeyPem);
            ctx.Facts["snapshot"] = $"resumed {resume.Key}, saved by run {resume.SavedByRun} at {resume.SavedAt:u}";
            // The boot this run stands on, beside its own console, so the evidence is all on disk.
            await File.WriteAllLinesAsync(Path.Combine(ctx.RunDirectory, "console.boot.log"), resume.BootLog, ct).ConfigureAwait(false);
        }
        else
        {
            ctx.Facts["snapshot"] = $"cold boot: {snapshots.ColdBootReason ?? "no snapshot"}";
        }
    }
}

/// <summary>Drives the board's boot loader (U-Boot over the console) from power-on to "Starting kernel".</summary>
internal sealed class BootloaderStage(Board board, TimeSpan timeout) : Stage("bootloader", timeout)
{
    public override bool ShouldRun(RunContext ctx) => ctx.Resume is null;

    public override async Task RunAsync(RunContext ctx, CancellationToken ct)
    {
        var cursor = ctx.Cursor ?? throw new InfrastructureException($"stage '{Name}': no console attached");
        await ctx.WatchedAsync(Name, t => board.Bootloader!.BootAsync(board.Console, cursor, t), ct).ConfigureAwait(false);
        ctx.Metrics["boot.bootloader.seconds"] = ctx.Time.GetElapsedTime(ctx.PoweredOnAt).TotalSeconds;
    }
}

/// <summary>
/// For a resumed boot: waits until QEMU has loaded the saved state and runs, then presses Enter
/// so the console shell prints a fresh prompt for the dom0-prompt stage.
/// </summary>
internal sealed class ResumeStage(Board board, TimeSpan timeout) : Stage("resume", timeout)
{
    public override bool ShouldRun(RunContext ctx) => ctx.Resume is not null;

    public override async Task RunAsync(RunContext ctx, CancellationToken ct)
    {
        await ctx.WatchedAsync(Name, t => board.Snapshots!.WaitResumedAsync(t), ct).ConfigureAwait(false);
        ctx.Metrics["boot.resume.seconds"] = ctx.Time.GetElapsedTime(ctx.PoweredOnAt).TotalSeconds;
        await board.Console.WriteAsync("\n", ct).ConfigureAwait(false);
    }
}

/// <summary>
/// After a cold boot reached the dom0 prompt: saves the machine for later runs, with the run's SSH
/// key and the boot log. A board QEMU cannot save is not a failure: the reason is recorded.
/// </summary>
internal sealed class SaveSnapshotStage(Board board, TimeSpan timeout) : Stage("snapshot", timeout)
{
    public override bool ShouldRun(RunContext ctx) => board.Snapshots is not null && ctx.Resume is null;

    public override async Task RunAsync(RunContext ctx, CancellationToken ct)
    {
        if (ctx.SshKey is null)
        {
            ctx.Facts["snapshot"] += "; not saved: the job logs in to nothing, and a snapshot without its SSH key is of no use";
            return;
        }
        var boot = board.Console.Tail(int.MaxValue);
        long t0 = ctx.Time.GetTimestamp();
        var outcome = await board.Snapshots!.SaveAsync(new SnapshotContents(ctx.SshKey.PrivateKeyPem, boot, ctx.RunId), ct).ConfigureAwait(false);
        ctx.Facts["snapshot"] += outcome.Saved ? $"; {outcome.Detail}" : $"; not saved: {outcome.Detail}";
        if (outcome.Saved)
        {
            ctx.Metrics["snapshot.save.seconds"] = ctx.Time.GetElapsedTime(t0).TotalSeconds;
            ctx.Metrics["snapshot.bytes"] = outcome.Bytes;
        }
    }
}

/// <summary>Switches the board on and reads the state back; a board that does not report On is a lab fault.</summary>
internal sealed class PowerOnStage(Board board, TimeSpan timeout, IReadOnlyList<CrashPattern>? crashPatterns = null) : Stage("power-on", timeout)
{
    public override async Task RunAsync(RunContext ctx, CancellationToken ct)
    {
        await board.Power.SetAsync(PowerState.On, ct).ConfigureAwait(false);
        ctx.PoweredOnAt = ctx.Time.GetTimestamp();
        ctx.Console = board.Console;
        // From the first byte: a crash before the first expect stage must still be seen.
        ctx.Crashes ??= CrashWatch.Start(board.Console, "board console", crashPatterns ?? CrashPatterns.Defaults);
        var state = await board.Power.GetAsync(ct).ConfigureAwait(false);
        if (state != PowerState.On)
            throw new InfrastructureException($"board {board.Name} reads back {state} after power-on", ctx.ConsoleTail());
        ctx.Cursor = board.Console.Cursor(fromStart: true);
    }
}

/// <summary>
/// Waits for a console pattern (Xen banner, dom0 prompt). The first capture group, if any, is
/// recorded as a fact (e.g. the Xen version) and the time since power-on as a boot metric.
/// </summary>
internal sealed class ExpectStage(string name, TimeSpan timeout, Regex pattern, bool partialLine = false, string? fact = null, bool bootOnly = false)
    : Stage(name, timeout)
{
    /// <summary>A boot-only pattern (the Xen banner) is not printed again by a resumed machine.</summary>
    public override bool ShouldRun(RunContext ctx) => !bootOnly || ctx.Resume is null;

    public override async Task RunAsync(RunContext ctx, CancellationToken ct)
    {
        var cursor = ctx.Cursor ?? throw new InfrastructureException($"stage '{Name}': no console attached");
        ConsoleMatch? m = null;
        await ctx.WatchedAsync(Name, async t => m = await cursor.ExpectAsync(pattern, t, partialLine).ConfigureAwait(false), ct).ConfigureAwait(false);
        ctx.Metrics[$"boot.{Name}.seconds"] = ctx.Time.GetElapsedTime(ctx.PoweredOnAt).TotalSeconds;
        if (fact is not null && m!.Match.Groups.Count > 1) ctx.Facts[fact] = m.Match.Groups[1].Value;
    }
}

/// <summary>Connects SSH with the run's key, retrying until the target's sshd answers or the stage times out.</summary>
internal sealed class SshReadyStage(Board board, SshKey key, TimeSpan timeout) : Stage("ssh-ready", timeout)
{
    public override async Task RunAsync(RunContext ctx, CancellationToken ct)
    {
        var ep = board.Ssh ?? throw new ConfigurationException($"board {board.Name} has no SSH endpoint but the job runs commands");
        SshCommandRunner? ssh = null;
        // Keys the target printed on its console before sshd answered: only those are logged in to.
        var pinned = Farm.Ssh.HostKeyPin.FromConsole(ctx.FullConsole());
        await ctx.WatchedAsync(Name, async t => ssh = await SshCommandRunner.ConnectAsync(ep, ctx.SshKey ?? key, ctx.Time, t, pinned).ConfigureAwait(false), ct)
            .ConfigureAwait(false);
        if (ssh is null) throw new InfrastructureException($"stage '{Name}': SSH did not connect");
        ctx.Shell = ssh;
        ctx.Facts["ssh-host-key"] = $"SHA256:{Farm.Ssh.HostKeyPin.Normalize(ssh.HostKeyFingerprint)} ({(pinned.Count > 0 ? "printed on the console" : "trusted on first use: the console printed no host key")})";
        ctx.Metrics["boot.ssh-ready.seconds"] = ctx.Time.GetElapsedTime(ctx.PoweredOnAt).TotalSeconds;
    }
}

/// <summary>Switches the board off whatever happened before, and reads the state back.</summary>
internal sealed class PowerOffStage(Board board, TimeSpan timeout) : Stage("power-off", timeout)
{
    public override bool AlwaysRun => true;

    public override async Task RunAsync(RunContext ctx, CancellationToken ct)
    {
        (ctx.Shell as IDisposable)?.Dispose();
        ctx.Shell = null;
        await board.Power.SetAsync(PowerState.Off, ct).ConfigureAwait(false);
        if (ctx.Crashes is { } watch) await watch.DisposeAsync().ConfigureAwait(false);
        var state = await board.Power.GetAsync(ct).ConfigureAwait(false);
        if (state != PowerState.Off)
            throw new InfrastructureException($"board {board.Name} reads back {state} after power-off");
    }
}
