using System.Globalization;
using Farm.Lab;

namespace Farm.Reports.Trends;

/// <summary>A shift found in a series: the last run before it, the first run after it, and what changed between them.</summary>
internal sealed record TrendShift(ChangePoint Point, MetricPoint Before, MetricPoint After, string Change)
{
    public string Describe(string metric) =>
        $"{metric} moved {(Point.MedianAfter >= Point.MedianBefore ? "up" : "down")} " +
        $"{(double.IsNaN(Point.Relative) ? "" : Point.Relative.ToString("+0.#%;-0.#%", CultureInfo.InvariantCulture) + " ")}" +
        $"(median {Fmt(Point.MedianBefore)} → {Fmt(Point.MedianAfter)}, {(Point.PValue < 1e-4 ? "p<0.0001" : "p=" + Point.PValue.ToString("0.####", CultureInfo.InvariantCulture))}) " +
        $"at run {After.RunId} ({After.Start:yyyy-MM-dd}); changed since {Before.RunId}: {Change}";

    static string Fmt(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);
}

/// <summary>One metric of one target (job on board) over time, with the shifts found in it.</summary>
internal sealed record TrendSeries(string Metric, string Target, IReadOnlyList<MetricPoint> Points, IReadOnlyList<TrendShift> Shifts);

/// <summary>
/// Trends for the dashboard, the HTML summary and ci/bench: one store query per metric, split into
/// one series per target, each searched for shifts (<see cref="ChangePoints"/>); every shift names
/// what differed between the run before it and the first run after it (Xen/Linux/QEMU versions,
/// artifact hashes), so "boot got 20 % slower" comes with "xen 4.17.5 → 4.20.1".
/// </summary>
internal static class TrendQuery
{
    /// <summary>The metrics the dashboard shows first, when they were recorded.</summary>
    public static readonly string[] Headline =
    [
        "boot.xen-banner.seconds", "boot.dom0-prompt.seconds", "boot.ssh-ready.seconds",
        "nvme.write.MBps", "nvme.read.MBps", "nic.rx.MBps", "irq.nvme.count", "checks.pass", "checks.xfail",
    ];

    public static string Target(MetricPoint p) => $"{p.Job}@{p.Board}";

    public static async Task<IReadOnlyList<TrendSeries>> LoadAsync(IRunStore store, string metric, DateTimeOffset since, CancellationToken ct)
    {
        var points = await store.MetricHistoryAsync(metric, since, ct).ConfigureAwait(false);
        var series = new List<TrendSeries>();
        foreach (var group in points.GroupBy(Target))
        {
            var list = group.ToList();
            var shifts = new List<TrendShift>();
            foreach (var cp in ChangePoints.Detect(list.Select(p => p.Value).ToList()))
            {
                var (before, after) = (list[cp.Index - 1], list[cp.Index]);
                shifts.Add(new TrendShift(cp, before, after, await ChangeAsync(store, before.RunId, after.RunId, ct).ConfigureAwait(false)));
            }
            series.Add(new TrendSeries(metric, group.Key, list, shifts));
        }
        return series;
    }

    /// <summary>What differs between two runs' inputs, e.g. "xen 4.17.5 → 4.20.1; artifact xen: 1a2b3c4d → 9f8e7d6c".</summary>
    public static async Task<string> ChangeAsync(IRunStore store, string beforeId, string afterId, CancellationToken ct)
    {
        var a = await store.GetAsync(beforeId, ct).ConfigureAwait(false);
        var b = await store.GetAsync(afterId, ct).ConfigureAwait(false);
        return a is null || b is null ? "unknown (a run record is missing)" : Change(a.Provenance, b.Provenance);
    }

    public static string Change(Provenance a, Provenance b)
    {
        var parts = new List<string>();
        void Compare(string what, string? x, string? y)
        {
            if (!string.Equals(x, y, StringComparison.Ordinal)) parts.Add($"{what} {x ?? "none"} → {y ?? "none"}");
        }
        Compare("xen", a.XenVersion, b.XenVersion);
        Compare("linux", a.LinuxVersion, b.LinuxVersion);
        Compare("qemu", a.QemuVersion, b.QemuVersion);
        foreach (var key in a.ArtifactSha256.Keys.Union(b.ArtifactSha256.Keys).Order(StringComparer.Ordinal))
            Compare("artifact " + key, Short(a.ArtifactSha256.GetValueOrDefault(key)), Short(b.ArtifactSha256.GetValueOrDefault(key)));
        foreach (var key in a.Packages.Keys.Union(b.Packages.Keys).Order(StringComparer.Ordinal))
            Compare("package " + key, a.Packages.GetValueOrDefault(key), b.Packages.GetValueOrDefault(key));
        return parts.Count == 0 ? "no build or artifact changed (look at the lab or the host)" : string.Join("; ", parts);
    }

    static string? Short(string? sha) => sha is null ? null : sha[..Math.Min(12, sha.Length)];
}
