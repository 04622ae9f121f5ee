using Farm.Checks;

namespace Farm.Reports.Trends;

/// <summary>
/// Nightly histories for demonstrations, the dashboard's browser tests and the trend benchmark:
/// one run per target per night with boot times, NVMe throughput, interrupt counts and check
/// counts carrying realistic noise, and optionally one build change (a new Xen) from a given
/// night on that makes the first target's dom0 boot 25 % slower. Deterministic for a seed.
/// </summary>
internal static class SyntheticHistory
{
    public static IEnumerable<RunRecord> Nightly(int nights, int targets, DateTimeOffset lastNight, int? changeAt, int seed = 1)
    {
        var random = new Random(seed);
        double Noise(double sigma) => sigma * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        for (int night = 0; night < nights; night++)
        {
            var start = lastNight.AddDays(night - nights + 1);
            bool changed = changeAt is { } c && night >= c;
            for (int t = 0; t < targets; t++)
            {
                var board = $"board-{t:00}";
                var xen = changed ? "4.20.1" : "4.17.5";
                double slower = changed && t == 0 ? 1.25 : 1.0;
                var metrics = new Dictionary<string, double>
                {
                    ["boot.xen-banner.seconds"] = 1.1 + Noise(0.05),
                    ["boot.dom0-prompt.seconds"] = (9.0 + t * 0.1) * slower + Noise(0.3),
                    ["boot.ssh-ready.seconds"] = (10.0 + t * 0.1) * slower + Noise(0.3),
                    ["nvme.write.MBps"] = 150 + Noise(8),
                    ["nvme.read.MBps"] = 180 + Noise(8),
                    ["irq.nvme.count"] = Math.Round(120 + Noise(4)),
                    ["checks.pass"] = 14,
                    ["checks.xfail"] = 6,
                };
                var id = $"{start:yyyyMMdd}-020000-nightly-{board}";
                yield return new RunRecord(id, "xen-smoke", board, Verdict.Pass, start, TimeSpan.FromSeconds(metrics["boot.ssh-ready.seconds"] + 15),
                    [new StageRecord("boot", StageStatus.Passed, start, TimeSpan.FromSeconds(metrics["boot.ssh-ready.seconds"]), TimeSpan.FromMinutes(5))],
                    Array.Empty<CheckResult>(),
                    new Provenance(new Dictionary<string, string> { ["xen"] = changed ? "9f8e7d6c5b4a39281706f5e4d3c2b1a0" : "1a2b3c4d5e6f708192a3b4c5d6e7f809" },
                        new Dictionary<string, string>(), "7.2.19", xen, "6.1.0-56-arm64"),
                    metrics);
            }
        }
    }
}
