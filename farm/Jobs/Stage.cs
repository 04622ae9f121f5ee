namespace Farm.Jobs;

/// <summary>
/// One step of a job (LAVA's action): a name, a timeout that is data (shown in the job file and
/// the report), and work. A stage that runs <see cref="AlwaysRun"/> (power-off, finalisation)
/// runs even after a failure or cancellation, under a fresh token bounded by its own timeout.
/// </summary>
internal abstract class Stage(string name, TimeSpan timeout)
{
    public string Name { get; } = name;

    public TimeSpan Timeout { get; } = timeout;

    public virtual bool AlwaysRun => false;

    /// <summary>False when this run does not need the stage (e.g. the Xen banner of a resumed boot): recorded as skipped.</summary>
    public virtual bool ShouldRun(RunContext ctx) => true;

    public abstract Task RunAsync(RunContext ctx, CancellationToken ct);

    public override string ToString() => $"{Name} ({Timeout.TotalSeconds:0.###}s)";
}

/// <summary>A stage made of a delegate, for small glue steps and tests.</summary>
internal sealed class DelegateStage(string name, TimeSpan timeout, Func<RunContext, CancellationToken, Task> run, bool alwaysRun = false)
    : Stage(name, timeout)
{
    public override bool AlwaysRun => alwaysRun;

    public override Task RunAsync(RunContext ctx, CancellationToken ct) => run(ctx, ct);
}
