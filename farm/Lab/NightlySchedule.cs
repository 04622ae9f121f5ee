using Farm.Lab.Queue;

namespace Farm.Lab;

/// <summary>
/// The nightly inside <c>farm serve</c>: every day at a UTC time it queues the nightly jobs for the
/// agents (any board their job files allow, below interactive work), and every half minute it queues
/// again the jobs of agents that went silent. Time comes from a <see cref="TimeProvider"/>, so a test
/// can run a week of nights in milliseconds.
/// </summary>
internal sealed class NightlySchedule(JobQueue queue, TimeSpan at, IReadOnlyList<string> jobs, TimeProvider time, TimeSpan staleAfter)
{
    public const string Requester = "nightly";

    /// <summary>Nightly work runs after anything a person queued.</summary>
    public const int Priority = -10;

    public event Action<string>? Said;

    /// <summary>The next time of day <paramref name="at"/> (UTC) strictly after <paramref name="now"/>.</summary>
    public static DateTimeOffset Next(DateTimeOffset now, TimeSpan at)
    {
        var today = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero) + at;
        return today > now ? today : today.AddDays(1);
    }

    public async Task RunAsync(CancellationToken ct)
    {
        var next = Next(time.GetUtcNow(), at);
        var reap = time.GetUtcNow();
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var now = time.GetUtcNow();
                if (now >= reap)
                {
                    if (await queue.ReapAsync(staleAfter, ct).ConfigureAwait(false) is > 0 and var n) Said?.Invoke($"{n} job(s) of silent agents queued again");
                    reap = now + TimeSpan.FromSeconds(30);
                }
                if (now >= next)
                {
                    foreach (var job in jobs)
                    {
                        var q = await queue.EnqueueAsync(job, JobQueue.AnyBoard, Requester, Priority, ct).ConfigureAwait(false);
                        Said?.Invoke($"nightly {next:yyyy-MM-dd}: queued {q.Id} ({job})");
                    }
                    next = Next(now, at);
                }
                var wait = (next < reap ? next : reap) - time.GetUtcNow();
                if (wait > TimeSpan.Zero) await Task.Delay(wait, time, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
    }
}
