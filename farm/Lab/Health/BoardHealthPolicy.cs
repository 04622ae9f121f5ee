using Farm.Lab.Scheduling;

namespace Farm.Lab.Health;

/// <summary>An operator's word on a board: take it out of service, or bring it back.</summary>
internal sealed record BoardEvent(DateTimeOffset At, string Board, string Action, string Actor, string? Reason);

/// <summary>A board's health and the evidence for it.</summary>
internal sealed record BoardHealthStatus(string Board, BoardHealth Health, string Reason, IReadOnlyList<string> Evidence);

/// <summary>
/// Health from what actually happened (osstest's "blame the lab, not the product" rule): a board
/// whose last <see cref="Threshold"/> runs all ended <c>incomplete</c> for infrastructure reasons
/// (power, console, network) is quarantined with those runs as evidence; a run that reached a
/// verdict about the system under test (pass, fail) proves the board works and resets the count;
/// an operator can quarantine a board or bring it back, and only runs after that count.
/// </summary>
internal static class BoardHealthPolicy
{
    public const int Threshold = 3;

    /// <summary>How many of a board's newest runs health looks at.</summary>
    public const int History = 20;

    /// <summary>A board's health from its newest runs in <paramref name="store"/> (none if null), with those runs, newest first.</summary>
    public static async Task<(BoardHealthStatus Health, IReadOnlyList<RunRecord> Runs)> EvaluateAsync(
        string board, IRunStore? store, IReadOnlyList<BoardEvent> events, CancellationToken ct)
    {
        var runs = store is null ? [] : await store.ForBoardAsync(board, History, ct).ConfigureAwait(false);
        return (Evaluate(board, runs, events), runs);
    }

    /// <param name="runs">This board's runs, any order.</param>
    /// <param name="events">Operators' events, in the order they were written (<see cref="BoardEventStore.AllAsync"/>):
    /// the last one for this board stands, even if it shares its millisecond with another or a controller's clock was behind.</param>
    public static BoardHealthStatus Evaluate(string board, IEnumerable<RunRecord> runs, IEnumerable<BoardEvent> events)
    {
        var lastEvent = events.LastOrDefault(e => e.Board == board);
        if (lastEvent is { Action: "quarantine" })
            return new BoardHealthStatus(board, BoardHealth.Quarantined, $"quarantined by {lastEvent.Actor}: {lastEvent.Reason}", []);
        var since = lastEvent?.At ?? DateTimeOffset.MinValue;
        var streak = new List<RunRecord>();
        foreach (var r in runs.Where(r => r.Board == board && r.Start > since).OrderByDescending(r => r.Start))
        {
            // Only the lab's failures count: a run someone cancelled, a Farm bug, bad input, or a run still
            // running (or whose agent died) says nothing about the board.
            bool lab = r.Class is FailureClass.Infrastructure or FailureClass.Timeout;
            if (r.Verdict == Verdict.Incomplete && lab && !Farm.Jobs.JobRunner.IsPending(r)) streak.Add(r);
            else if (r.Verdict is Verdict.Pass or Verdict.Fail) break;
            // error (bad input) and unfinished runs say nothing about the board: skip them
            if (streak.Count == Threshold) break;
        }
        return streak.Count >= Threshold
            ? new BoardHealthStatus(board, BoardHealth.Quarantined,
                $"quarantined: {Threshold} infrastructure failures in a row, last: {FirstLine(streak[0].Message)}",
                streak.Select(r => $"{r.RunId}: {FirstLine(r.Message)}").ToList())
            : new BoardHealthStatus(board, BoardHealth.Healthy, streak.Count == 0 ? "healthy" : $"healthy ({streak.Count} infrastructure failure(s) in a row)", []);
    }

    static string FirstLine(string? s) => (s ?? "").Split('\n')[0].Trim();
}
