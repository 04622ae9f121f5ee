using System.Globalization;
using System.Text.RegularExpressions;
using Farm.Boards;
using Farm.Boards.Spec;
using Farm.Jobs.Stages;
using Farm.Ssh;
using Farm.Serial;

namespace Farm.Jobs;

/// <summary>
/// Runs one job on one board: makes the run directory, records the run as started, builds the
/// stage plan, runs it, and records the outcome everywhere — also when a stage failed, the run was
/// cancelled or Farm itself threw. Layout: <c>&lt;out&gt;/&lt;run-id&gt;/run.json</c>,
/// <c>&lt;out&gt;/&lt;run-id&gt;/&lt;board&gt;/{console.log,console.raw,qemu.log,evidence/}</c>.
/// </summary>
internal sealed partial class JobRunner(TimeProvider time, IReadOnlyList<IRunSink> sinks)
{
    /// <summary>The message of the record written when a run starts; it stays only if the run never finished.</summary>
    public const string PendingMessage = "run did not finish";

    /// <summary>Whether a stored record is the one written at start (running, or died without a word).</summary>
    public static bool IsPending(RunRecord r) => r.State switch
    {
        RunState.Running => true,
        RunState.Finished => false,
        // Written before runs had a state: the start record was the one with this message and no stages.
        _ => r.Verdict == Verdict.Incomplete && r.Stages.Count == 0 && r.Message == PendingMessage,
    };

    public event Action<Stage>? StageStarted;

    public event Action<Stage, StageRecord>? StageFinished;

    /// <summary>For fault-injection scenarios: the board, once created (its <see cref="Board.Lifetime"/> is the kind's own object).</summary>
    public event Action<Board>? BoardCreated;

    public async Task<RunRecord> RunAsync(RunRequest request, CancellationToken ct)
    {
        var start = time.GetUtcNow();
        var runId = $"{start.UtcDateTime:yyyyMMdd-HHmmss}-{Sanitize(request.JobName)}-{Guid.NewGuid().ToString("N")[..6]}";
        var runDir = Path.GetFullPath(Path.Combine(request.OutDirectory, runId));
        var boardDir = Path.Combine(runDir, request.Board.Name);
        Directory.CreateDirectory(boardDir);
        var ctx = new RunContext(runId, boardDir, time);
        long t0 = time.GetTimestamp();

        RunRecord Snapshot(Verdict verdict, IReadOnlyList<StageRecord> stages, FailureClass? failureClass, string? message, RunState state) => new(
            runId, request.JobName, request.Board.Name, verdict, start, time.GetElapsedTime(t0), stages, ctx.Checks.ToList(),
            Provenance(ctx), new Dictionary<string, double>(ctx.Metrics), failureClass?.ToWire(), message, runDir, state);

        // Recorded before anything can go wrong: a crash leaves "incomplete" and running, never nothing.
        var pending = Snapshot(Verdict.Incomplete, [], FailureClass.Infrastructure, PendingMessage, RunState.Running);
        await Task.WhenAll(sinks.Select(s => s.StartedAsync(pending, ct))).ConfigureAwait(false);

        PipelineResult result;
        try
        {
            result = await RunStagesAsync(request, ctx, ct).ConfigureAwait(false);
        }
        catch (FarmException e)
        {
            result = new PipelineResult([], e.Verdict, e);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Farm failed outside a stage (building the board, say): recorded as Farm's error, not left "running".
            result = new PipelineResult([], Verdict.Error, new FarmBugException($"the run crashed: {e.GetType().Name}: {e.Message}", e));
        }
        foreach (var (k, v) in result.Stages.Select(s => (s.Name, s.Duration.TotalSeconds)))
            ctx.Metrics[$"stage.{k}.seconds"] = v;
        ctx.Metrics["run.seconds"] = time.GetElapsedTime(t0).TotalSeconds;

        // A Farm bug keeps the top of its stack (where it threw); anything else the last console lines.
        var evidence = result.Failure is FarmBugException ? result.Failure.Evidence.Take(20) : result.Failure?.Evidence.TakeLast(20) ?? [];
        var final = Snapshot(result.Verdict, result.Stages, result.Failure?.FailureClass,
            result.Failure is null ? null : string.Join(Environment.NewLine, [result.Failure.Message, .. evidence]), RunState.Finished);
        // Record even if the caller cancelled: the outcome of a cancelled run is still an outcome.
        await Task.WhenAll(sinks.Select(s => s.FinishedAsync(final, CancellationToken.None))).ConfigureAwait(false);
        return final;
    }

    async Task<PipelineResult> RunStagesAsync(RunRequest request, RunContext ctx, CancellationToken ct)
    {
        var snapshots = request.Boot == BootMode.Snapshot ? request.SnapshotDirectory ?? Path.Combine(request.OutDirectory, ".snapshots") : null;
        var board = request.Board.Create(new BoardContext(ctx.RunDirectory, time, snapshots));
        await using var lifetime = board.Lifetime;
        BoardCreated?.Invoke(board);
        var result = await RunPlanAsync(request, ctx, board, ct).ConfigureAwait(false);
        foreach (var (k, v) in board.Facts?.Invoke() ?? []) ctx.Facts[k] = v;
        return result;
    }

    async Task<PipelineResult> RunPlanAsync(RunRequest request, RunContext ctx, Board board, CancellationToken ct)
    {
        // A key only when the plan logs in: generating one loads OpenSSL, which a boot-only run need not pay for.
        using var key = request.Commands.Count > 0 || request.Checks.Count > 0 || request.Guests is { Count: > 0 } ? new SshKey() : null;
        var pipeline = new StagePipeline(time);
        pipeline.StageStarted += s => StageStarted?.Invoke(s);
        pipeline.StageFinished += (s, r) => StageFinished?.Invoke(s, r);
        var result = await pipeline.RunAsync(Plan(request, board, key), ctx, request.Timeouts.Job, ct).ConfigureAwait(false);
        if (!ReferenceEquals(ctx.SshKey, key)) ctx.SshKey?.Dispose();   // the resumed snapshot's key
        foreach (var line in ctx.FullConsole())
        {
            if (!ctx.Facts.ContainsKey("xen-version") && XenVersion().Match(line) is { Success: true } x) ctx.Facts["xen-version"] = x.Groups[1].Value;
            if (!ctx.Facts.ContainsKey("linux-version") && LinuxVersion().Match(line) is { Success: true } l) ctx.Facts["linux-version"] = l.Groups[1].Value;
        }
        return result;
    }

    /// <summary>The stage plan: LAVA's deploy → boot → test, with finalisation that always runs.</summary>
    public static IReadOnlyList<Stage> Plan(RunRequest r, Board board, SshKey? key)
    {
        var t = r.Timeouts;
        bool xen = r.Board.Mode == BoardMode.Xen;
        var stages = new List<Stage>
        {
            new DeployStage(board, r.ArtifactDirectory, xen, key, t.Deploy),
            new PowerOnStage(board, t.PowerOn, r.CrashPatterns),
        };
        if (board.Snapshots is not null) stages.Add(new ResumeStage(board, t.Resume));
        if (board.Bootloader is not null) stages.Add(new BootloaderStage(board, t.Bootloader));
        if (xen && r.XenBanner is not null) stages.Add(new ExpectStage("xen-banner", t.XenBanner, r.XenBanner, fact: "xen-version", bootOnly: true));
        stages.Add(new ExpectStage("dom0-prompt", t.Dom0Prompt, r.Dom0Prompt, partialLine: true));
        if (board.Snapshots is not null) stages.Add(new SaveSnapshotStage(board, t.Snapshot));
        if (key is not null)
        {
            stages.Add(new SshReadyStage(board, key, t.SshReady));
            stages.Add(new CommandsStage(r.Commands, t.Commands));
            foreach (var g in r.Guests ?? [])
            {
                bool judged = r.Checks.Count > 0;
                stages.Add(new GuestAssignStage(g, g.TimeoutFor(StageKinds.GuestAssign, t)) { JudgedByChecks = judged });
                stages.Add(new GuestCreateStage(g, g.TimeoutFor(StageKinds.GuestCreate, t), r.CrashPatterns ?? CrashPatterns.Defaults) { JudgedByChecks = judged });
                stages.Add(new GuestPromptStage(g, g.TimeoutFor(StageKinds.GuestPrompt, t)));
                stages.Add(new GuestCommandsStage(g, g.TimeoutFor(StageKinds.GuestCommands, t)));
                stages.Add(new GuestHotplugStage(g, g.TimeoutFor(StageKinds.GuestHotplug, t)));
                stages.Add(new GuestDestroyStage(g, g.TimeoutFor(StageKinds.GuestDestroy, t)));
                stages.Add(new GuestDeassignStage(g, g.TimeoutFor(StageKinds.GuestDeassign, t)) { JudgedByChecks = judged });
            }
            if (r.Checks.Count > 0)
                stages.Add(new ChecksStage(r.Board.Name, Farm.Checks.CheckSuite.Resolve(r.Checks), r.ExpectedPci ?? [], t.Checks));
        }
        stages.Add(new PowerOffStage(board, t.PowerOff));
        return stages;
    }

    static Provenance Provenance(RunContext ctx)
    {
        var sha = ctx.Facts.Where(f => f.Key.StartsWith("sha256:")).ToDictionary(f => f.Key["sha256:".Length..], f => f.Value);
        var packages = ctx.Facts.Where(f => f.Key.StartsWith("manifest:")).ToDictionary(f => f.Key["manifest:".Length..], f => f.Value);
        return new Provenance(sha, packages, ctx.Facts.GetValueOrDefault("qemu-version"),
            ctx.Facts.GetValueOrDefault("xen-version"), ctx.Facts.GetValueOrDefault("linux-version"), ctx.Facts.GetValueOrDefault("snapshot"),
            ctx.Facts.GetValueOrDefault("ssh-host-key"));
    }

    static string Sanitize(string s) => NonWord().Replace(s, "-").ToLower(CultureInfo.InvariantCulture);

    // Xen: xen/drivers/char/console.c prints "Xen version %d.%d%s (...)"; Linux: init/version.c linux_banner.
    [GeneratedRegex(@"\(XEN\) Xen version (\S+)")]
    private static partial Regex XenVersion();

    [GeneratedRegex(@"Linux version (\S+)")]
    private static partial Regex LinuxVersion();

    [GeneratedRegex("[^A-Za-z0-9_.-]+")]
    private static partial Regex NonWord();
}
