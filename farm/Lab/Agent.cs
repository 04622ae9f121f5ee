using Farm.Boards.Spec;
using Farm.Jobs;
using Farm.Jobs.Spec;
using Farm.Lab.Leases;
using Farm.Lab.Queue;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Farm.Lab;

/// <summary>How an agent works: who it is, its boards, how often it proves it is alive.</summary>
internal sealed record AgentOptions(string Name, IReadOnlyList<BoardSpec> Boards, string Out, TimeSpan Heartbeat, TimeSpan LeaseFor, TimeSpan StaleAfter, TimeSpan Poll)
{
    /// <summary>Where queued job files may be loaded from (<c>farm agent</c>: the checkout's <c>jobs/</c>, or <c>--job-root</c>); none refuses every path.</summary>
    public JobRoots Jobs { get; init; } = new([]);
}

/// <summary>
/// <c>farm agent</c>: one per bench host. It claims queued jobs its boards can run (the queue in
/// the lab database; <c>FOR UPDATE SKIP LOCKED</c> on PostgreSQL), holds the board with a job lease,
/// runs the job, and while it runs heart-beats both the queue row and the lease. If the agent dies,
/// both stop: the lease lapses (the board is free again) and any agent's reaper queues the job again
/// for another board, once. It talks only to the database, so a controller (<c>farm serve</c>)
/// restarting does not disturb a running job.
/// </summary>
internal sealed partial class Agent(JobQueue queue, LeaseStore leases, AgentOptions options, Func<RunRequest, CancellationToken, Task<RunRecord>> run, TimeProvider time, ILogger? log = null)
{
    readonly ILogger _log = log ?? NullLogger.Instance;

    /// <summary>What the agent did with one claim, for its log.</summary>
    public event Action<string>? Said;

    /// <summary>Claims and runs jobs until cancelled (or, with <paramref name="untilIdle"/>, until the queue has nothing for it).</summary>
    public async Task RunAsync(bool untilIdle, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            bool ran;
            try { ran = await RunOneAsync(ct).ConfigureAwait(false); }
            catch (Exception e) when (!(e is OperationCanceledException && ct.IsCancellationRequested))
            {
                PollFailed(_log, options.Name, e.GetType().Name, MessageText.OneLine(e.Message), e);
                throw;
            }
            if (!ran)
            {
                if (untilIdle) return;
                await Task.Delay(options.Poll, time, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Reaps dead agents' jobs, then claims and runs one job. False when there was nothing to run.</summary>
    public async Task<bool> RunOneAsync(CancellationToken ct)
    {
        if (await queue.ReapAsync(options.StaleAfter, ct).ConfigureAwait(false) is > 0 and var n)
            Said?.Invoke($"{n} job(s) of silent agents queued again");
        var job = await queue.ClaimAsync(options.Name, BoardFor, ct).ConfigureAwait(false);
        if (job is null) return false;
        var board = job.RanOn!;
        Said?.Invoke($"claimed {job.Id} ({job.Job}) for {board}, attempt {job.Attempts}");

        var grant = await leases.AcquireAsync(board, options.Name, options.LeaseFor, LeaseKind.Job, $"queue {job.Id}", ct).ConfigureAwait(false);
        if (!grant.Granted)
        {
            await queue.ReturnAsync(job.Id, options.Name, $"{board} is held: {grant.Describe}", ct).ConfigureAwait(false);
            Said?.Invoke($"{board} is held ({grant.Describe}); {job.Id} goes back to the queue");
            return false;
        }
        try
        {
            RunRequest request;
            try
            {
                request = RunRequests.Create(options.Jobs.Load(job.Job), options.Boards.Single(b => b.Name == board), RunRequests.RepoRoot(job.Job), options.Out);
            }
            catch (ConfigurationException e)
            {
                // Every viewer reads the note: one line of the reason, never the file.
                var why = MessageText.OneLine(e.Message);
                await queue.FinishAsync(job.Id, options.Name, "-", Verdict.Error, why, ct).ConfigureAwait(false);
                Said?.Invoke($"{job.Id}: error: {why}");
                return true;
            }
            // Loaded: from here a silent agent is the lab's fault (retried), not the job file's (failed).
            await queue.LoadedAsync(job.Id, options.Name, ct).ConfigureAwait(false);
            using var beating = CancellationTokenSource.CreateLinkedTokenSource(ct);
            using var running = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var heart = HeartbeatAsync(job.Id, board, running, beating.Token);
            RunRecord record;
            try
            {
                record = await run(request, running.Token).ConfigureAwait(false);
            }
            finally
            {
                await beating.CancelAsync().ConfigureAwait(false);
                await heart.ConfigureAwait(false);
            }
            var note = record.Verdict == Verdict.Incomplete ? $"incomplete on {board}: {record.Message?.Split('\n')[0]}" : null;
            await queue.FinishAsync(job.Id, options.Name, record.RunId, record.Verdict, note, CancellationToken.None).ConfigureAwait(false);
            Said?.Invoke($"{job.Id}: {record.Verdict.ToWire()} ({record.RunId})");
            return true;
        }
        finally
        {
            await leases.ReleaseAsync(board, options.Name, CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>The first of this agent's boards that the job allows: its board, or any board with all its tags; not the one it last died on.</summary>
    string? BoardFor(QueuedJob j)
    {
        // A job file that does not load goes to a board anyway: running it reports the error as the job's verdict.
        if (Spec(j.Job) is not { } spec)
            return j.Board == JobQueue.AnyBoard ? options.Boards.FirstOrDefault()?.Name : options.Boards.FirstOrDefault(b => b.Name == j.Board)?.Name;
        return options.Boards.FirstOrDefault(b =>
            (j.Board == JobQueue.AnyBoard ? (spec.BoardName is null || spec.BoardName == b.Name) && b.Name != j.Avoid : b.Name == j.Board)
            && spec.Tags.All(t => b.Tags.Contains(t)))?.Name;
    }

    readonly Dictionary<string, (DateTime Written, JobSpec? Spec)> _specs = [];

    /// <summary>A queued job's file, parsed once per version (the agent looks at every queued job on every poll).</summary>
    JobSpec? Spec(string path)
    {
        var written = File.Exists(path) && !path.Any(char.IsControl) ? File.GetLastWriteTimeUtc(path) : DateTime.MinValue;
        if (_specs.TryGetValue(path, out var known) && known.Written == written) return known.Spec;
        JobSpec? spec;
        try { spec = options.Jobs.Load(path); }
        catch (ConfigurationException) { spec = null; }
        _specs[path] = (written, spec);
        return spec;
    }

    async Task HeartbeatAsync(string id, string board, CancellationTokenSource run, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(options.Heartbeat, time);
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                try
                {
                    if (!await queue.HeartbeatAsync(id, options.Name, null, ct).ConfigureAwait(false))
                    {
                        // Canceled (farm queue --cancel) or handed to another agent: this run has no job any more.
                        Said?.Invoke($"{id} is no longer this agent's (canceled or reaped); stopping its run");
                        await run.CancelAsync().ConfigureAwait(false);
                        return;
                    }
                    await leases.RenewAsync(board, options.Name, options.LeaseFor, ct).ConfigureAwait(false);
                }
                catch (InfrastructureException e)
                {
                    // The database is away (restarting): the run goes on; the next beat tries again.
                    Said?.Invoke($"heartbeat for {id} missed: {e.Message}");
                    HeartbeatMissed(_log, options.Name, id, e.GetType().Name, MessageText.OneLine(e.Message));
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
    }

    [LoggerMessage(EventId = 20, Level = LogLevel.Error, Message = "agent {Agent}: poll failed: {ExceptionType}: {ExceptionMessage}")]
    static partial void PollFailed(ILogger log, string agent, string exceptionType, string exceptionMessage, Exception exception);

    [LoggerMessage(EventId = 21, Level = LogLevel.Warning, Message = "agent {Agent}: heartbeat for {Job} missed: {ExceptionType}: {ExceptionMessage}")]
    static partial void HeartbeatMissed(ILogger log, string agent, string job, string exceptionType, string exceptionMessage);
}
