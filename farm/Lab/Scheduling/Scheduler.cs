namespace Farm.Lab.Scheduling;

/// <summary>Whether a board can take work: healthy, or why not.</summary>
internal enum BoardHealth { Healthy, Offline, Quarantined }

/// <summary>A board as the scheduler sees it: name, tags, health.</summary>
internal sealed record SchedBoard(string Name, IReadOnlyList<string> Tags, BoardHealth Health = BoardHealth.Healthy);

/// <summary>What asks for a board: a job (nightly, a developer's) or an interactive reservation.</summary>
internal enum WorkKind { Job, Reservation }

/// <summary>
/// One queued request: who asked, what for, which board (by name or by tags), its priority (higher
/// first), and when it was queued. Reservations outrank queued jobs of the same priority.
/// </summary>
internal sealed record QueuedWork(string Id, string User, WorkKind Kind, string? Board, IReadOnlyList<string> Tags, int Priority, DateTimeOffset Queued);

/// <summary>A decision: <see cref="Work"/> runs on <see cref="Board"/>.</summary>
internal sealed record Assignment(QueuedWork Work, string Board);

/// <summary>Everything decided in one pass: assignments, and for each waiting request, why it waits.</summary>
internal sealed record SchedulePlan(IReadOnlyList<Assignment> Assignments, IReadOnlyDictionary<string, string> Waiting);

/// <summary>
/// The scheduler as a pure function (LAVA's and osstest's lesson: keep the policy testable apart
/// from the database): (queue, boards, held boards) → assignments. Rules: a board that is offline,
/// quarantined or held (a lease: a reservation or a running job) is never assigned, so nothing
/// pre-empts a running job; requests are served by priority, reservations before jobs at equal
/// priority, then round-robin between users so one user's 50 nightly jobs cannot starve another's
/// one; within a user, oldest first. A request that cannot be served says why it waits.
/// </summary>
internal static class Scheduler
{
    public static SchedulePlan Plan(IReadOnlyList<QueuedWork> queue, IReadOnlyList<SchedBoard> boards, IReadOnlySet<string> held)
    {
        var free = boards.Where(b => b.Health == BoardHealth.Healthy && !held.Contains(b.Name)).Select(b => b.Name).ToHashSet();
        var assignments = new List<Assignment>();
        var waiting = new Dictionary<string, string>();
        foreach (var work in Order(queue))
        {
            var candidates = boards.Where(b => Fits(work, b)).ToList();
            var pick = candidates.FirstOrDefault(b => free.Contains(b.Name));
            if (pick is not null)
            {
                free.Remove(pick.Name);
                assignments.Add(new Assignment(work, pick.Name));
            }
            else
            {
                waiting[work.Id] = WhyWaiting(work, candidates, held, assignments);
            }
        }
        return new SchedulePlan(assignments, waiting);
    }

    static bool Fits(QueuedWork w, SchedBoard b) =>
        (w.Board is null || w.Board == b.Name) && w.Tags.All(t => b.Tags.Contains(t, StringComparer.Ordinal));

    /// <summary>Priority (high first), reservations first, then users in turn, each user's oldest first.</summary>
    static IEnumerable<QueuedWork> Order(IReadOnlyList<QueuedWork> queue)
    {
        foreach (var band in queue.GroupBy(w => (w.Priority, Reservation: w.Kind == WorkKind.Reservation))
                     .OrderByDescending(g => g.Key.Priority).ThenByDescending(g => g.Key.Reservation))
        {
            var perUser = band.GroupBy(w => w.User)
                .Select(g => new Queue<QueuedWork>(g.OrderBy(w => w.Queued).ThenBy(w => w.Id, StringComparer.Ordinal)))
                .OrderBy(q => q.Peek().Queued).ToList();
            while (perUser.Any(q => q.Count > 0))
                foreach (var q in perUser.Where(q => q.Count > 0))
                    yield return q.Dequeue();
        }
    }

    static string WhyWaiting(QueuedWork w, List<SchedBoard> candidates, IReadOnlySet<string> held, List<Assignment> assigned)
    {
        var wanted = w.Board is not null ? $"board {w.Board}" : $"board tagged {string.Join(", ", w.Tags)}";
        if (candidates.Count == 0) return $"no {wanted} in the lab";
        var reasons = candidates.Select(b =>
            b.Health != BoardHealth.Healthy ? $"{b.Name} {b.Health.ToString().ToLowerInvariant()}"
            : held.Contains(b.Name) ? $"{b.Name} held"
            : assigned.Any(a => a.Board == b.Name) ? $"{b.Name} given to {assigned.First(a => a.Board == b.Name).Work.Id}"
            : $"{b.Name} busy");
        var healthy = candidates.Count(b => b.Health == BoardHealth.Healthy);
        return healthy == 0
            ? $"waiting: no healthy {wanted} ({string.Join("; ", reasons)})"
            : $"waiting for {(w.Board is null ? "a " : "")}{wanted} ({string.Join("; ", reasons)})";
    }
}
