namespace Farm.Jobs;

/// <summary>The outcome of running a pipeline: every stage's record and the run's verdict.</summary>
internal sealed record PipelineResult(IReadOnlyList<StageRecord> Stages, Verdict Verdict, FarmException? Failure);

/// <summary>
/// Runs stages in order, each under its named timeout. The first failure decides the verdict by
/// its class (infrastructure → incomplete, check → fail, configuration → error); later stages are
/// skipped except those that always run. A stage timeout is the lab's fault (incomplete) and names
/// the stage and its timeout; the caller's cancellation is reported as such, never as a timeout.
/// </summary>
internal sealed class StagePipeline(TimeProvider time)
{
    /// <summary>Raised as each stage starts and ends, for progress display.</summary>
    public event Action<Stage>? StageStarted;

    public event Action<Stage, StageRecord>? StageFinished;

    public async Task<PipelineResult> RunAsync(IReadOnlyList<Stage> stages, RunContext ctx, TimeSpan jobTimeout, CancellationToken ct)
    {
        var records = new List<StageRecord>();
        FarmException? failure = null;
        using var job = new CancellationTokenSource(jobTimeout, time);
        using var run = CancellationTokenSource.CreateLinkedTokenSource(ct, job.Token);

        foreach (var stage in stages)
        {
            bool skip = failure is not null || run.IsCancellationRequested;
            if ((skip && !stage.AlwaysRun) || !stage.ShouldRun(ctx))
            {
                records.Add(new StageRecord(stage.Name, StageStatus.Skipped, time.GetUtcNow(), TimeSpan.Zero, stage.Timeout));
                continue;
            }
            // A finaliser after a failure or cancellation gets a fresh token: it must still clean up.
            var outer = stage.AlwaysRun ? CancellationToken.None : run.Token;
            var (record, error) = await RunStageAsync(stage, ctx, outer, ct, job.Token, jobTimeout).ConfigureAwait(false);
            records.Add(record);
            failure ??= error;
        }
        return new PipelineResult(records, failure?.Verdict ?? Verdict.Pass, failure);
    }

    async Task<(StageRecord, FarmException?)> RunStageAsync(
        Stage stage, RunContext ctx, CancellationToken outer, CancellationToken caller, CancellationToken jobToken, TimeSpan jobTimeout)
    {
        StageStarted?.Invoke(stage);
        var start = time.GetUtcNow();
        long t0 = time.GetTimestamp();
        FarmException? error = null;
        using var timeout = new CancellationTokenSource(stage.Timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(outer, timeout.Token);
        try
        {
            await stage.RunAsync(ctx, linked.Token).ConfigureAwait(false);
        }
        catch (FarmException e)
        {
            error = e;
        }
        catch (OperationCanceledException e) when (timeout.IsCancellationRequested && !outer.IsCancellationRequested)
        {
            error = new InfrastructureException(
                $"stage '{stage.Name}' timed out after {Seconds(stage.Timeout)}", ctx.ConsoleTail(), e, FailureClass.Timeout);
        }
        catch (OperationCanceledException e) when (outer.IsCancellationRequested)
        {
            error = caller.IsCancellationRequested
                ? new InfrastructureException($"run cancelled during stage '{stage.Name}'", ctx.ConsoleTail(), e, FailureClass.Canceled)
                : jobToken.IsCancellationRequested
                    ? new InfrastructureException($"job timed out after {Seconds(jobTimeout)} during stage '{stage.Name}'", ctx.ConsoleTail(), e, FailureClass.Timeout)
                    : new InfrastructureException($"stage '{stage.Name}' was cancelled", ctx.ConsoleTail(), e, FailureClass.Canceled);
        }
        catch (Exception e)
        {
            // A bug in Farm: an error with its stack, never the system under test's fault nor the board's.
            error = new FarmBugException($"stage '{stage.Name}' crashed: {e.GetType().Name}: {e.Message}", e);
        }
        var duration = time.GetElapsedTime(t0);
        var status = error?.Verdict switch
        {
            null => StageStatus.Passed,
            Verdict.Fail => StageStatus.Failed,
            Verdict.Error => StageStatus.Error,
            _ => StageStatus.Incomplete,
        };
        var record = new StageRecord(stage.Name, status, start, duration, stage.Timeout, error?.FailureClass.ToWire(), error?.Message);
        StageFinished?.Invoke(stage, record);
        return (record, error);
    }

    static string Seconds(TimeSpan t) => $"{t.TotalSeconds:0.###}s";
}
