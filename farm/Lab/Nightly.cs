using Farm.Lab.Leases;

namespace Farm.Lab;

/// <summary>One target of a nightly: the job, where it finally ran, its verdict, and every attempt.</summary>
internal sealed record NightlyTarget(string Job, string? Board, Verdict Verdict, IReadOnlyList<string> RunIds, string Note);

/// <summary>
/// The nightly matrix: every job on a healthy board that can run it, each board held with a job
/// lease while it runs (so a developer's reservation and the nightly never share a board), and a
/// run that ends <c>incomplete</c> (the lab's fault) retried once on another healthy board, so one
/// flaky board does not cost the night its verdict. Boards are tried in lab order.
/// </summary>
internal sealed class Nightly(LeaseStore? leases, string holder, TimeSpan leaseFor)
{
    /// <param name="candidates">The healthy boards that can run a job, best first.</param>
    /// <param name="run">Runs a job on a board and returns its record (never throws for a verdict).</param>
    public async Task<IReadOnlyList<NightlyTarget>> RunAsync<TJob>(IReadOnlyList<TJob> jobs, Func<TJob, string> name,
        Func<TJob, IReadOnlyList<string>> candidates, Func<TJob, string, CancellationToken, Task<RunRecord>> run, int parallel, CancellationToken ct)
    {
        var results = new NightlyTarget[jobs.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, jobs.Count), new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, parallel) }, async (i, _) =>
            results[i] = await OneAsync(jobs[i], name(jobs[i]), candidates(jobs[i]), run, ct).ConfigureAwait(false)).ConfigureAwait(false);
        return results;
    }

    async Task<NightlyTarget> OneAsync<TJob>(TJob job, string name, IReadOnlyList<string> boards, Func<TJob, string, CancellationToken, Task<RunRecord>> run, CancellationToken ct)
    {
        if (boards.Count == 0) return new NightlyTarget(name, null, Verdict.Error, [], "no healthy board can run it");
        var runs = new List<RunRecord>();
        var tried = new HashSet<string>();
        var busy = new List<string>();
        while (runs.Count < 2)
        {
            string? board = null;
            foreach (var b in boards.Where(b => !tried.Contains(b)))
            {
                if (leases is null || (await leases.AcquireAsync(b, holder, leaseFor, LeaseKind.Job, $"nightly {name}", ct).ConfigureAwait(false)).Granted) { board = b; break; }
                busy.Add(b);
            }
            if (board is null) break;
            tried.Add(board);
            try
            {
                runs.Add(await run(job, board, ct).ConfigureAwait(false));
            }
            finally
            {
                if (leases is not null) await leases.ReleaseAsync(board, holder, CancellationToken.None).ConfigureAwait(false);
            }
            // Another board helps only when this one failed the lab's way; a cancel is final.
            if (runs[^1].Verdict != Verdict.Incomplete || runs[^1].Class is FailureClass.Canceled) break;
        }
        if (runs.Count == 0) return new NightlyTarget(name, null, Verdict.Incomplete, [], $"every board was held ({string.Join(", ", busy.Distinct())})");
        var last = runs[^1];
        var note = runs.Count == 1 ? "" : $"retried on {last.Board} after incomplete on {runs[0].Board}: {runs[0].Message?.Split('\n')[0]}";
        if (runs.Count == 1 && last.Verdict == Verdict.Incomplete) note = "incomplete, and no other healthy board to retry on";
        return new NightlyTarget(name, last.Board, last.Verdict, runs.Select(r => r.RunId).ToList(), note);
    }
}
