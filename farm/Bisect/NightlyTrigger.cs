using Farm.Checks;

namespace Farm.Bisect;

/// <summary>What a nightly asks <c>farm bisect</c> to find: a check that flipped between two builds of one checkout.</summary>
internal sealed record BisectTrigger(string Job, string CheckId, string GoodCommit, string BadCommit, string GoodRun, string BadRun);

/// <summary>
/// Decides whether a nightly result is worth a bisect (off by default; <c>farm nightly --bisect-source</c>):
/// the target's latest run has a check that failed where it was expected to pass, the newest earlier
/// run of the same job passed that check, and both booted a Xen that Farm built from the same
/// checkout at different commits (MANIFEST <c>xen_build_source</c> = <c>git:DIR@REF</c>, <c>xen_build_commit</c>).
/// Pure, so the rule is tested without a lab.
/// </summary>
internal static class NightlyTrigger
{
    public static BisectTrigger? Find(RunRecord latest, IEnumerable<RunRecord> history, string checkout)
    {
        if (Commit(latest, checkout) is not { } bad) return null;
        var flipped = latest.Checks.Where(c => c.Verdict == CheckVerdict.Fail && c.Unexpected).Select(c => c.Id).ToList();
        foreach (var earlier in history.Where(r => r.Job == latest.Job && r.RunId != latest.RunId && r.Start < latest.Start).OrderByDescending(r => r.Start))
        {
            if (Commit(earlier, checkout) is not { } good || good == bad) continue;
            foreach (var id in flipped)
                if (earlier.Checks.FirstOrDefault(c => c.Id == id) is { Verdict: CheckVerdict.Pass })
                    return new BisectTrigger(latest.Job, id, good, bad, earlier.RunId, latest.RunId);
            return null;   // only the newest earlier build of that checkout is the basis, as osstest's is
        }
        return null;
    }

    static string? Commit(RunRecord r, string checkout) =>
        r.Provenance.Packages.TryGetValue("xen_build_source", out var src) && src.StartsWith($"git:{Path.GetFullPath(checkout)}@", StringComparison.Ordinal)
        && r.Provenance.Packages.TryGetValue("xen_build_commit", out var c) && c.Length > 0 ? c : null;
}
