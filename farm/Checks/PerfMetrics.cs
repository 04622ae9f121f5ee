using System.Globalization;
using System.Text.RegularExpressions;

namespace Farm.Checks;

/// <summary>
/// Numbers for the trends, read from the same evidence the checks judge: every
/// <c>FARM-PERF &lt;name&gt; &lt;value&gt;</c> line a probe printed (e.g. <c>FARM-PERF nvme.write.MBps 182</c>)
/// and the NVMe interrupts the nvme-dma probe raised (<c>irq.nvme.count</c>). Garbled lines are skipped,
/// never guessed at.
/// </summary>
internal static partial class PerfMetrics
{
    public const string Marker = "FARM-PERF";

    public static IReadOnlyDictionary<string, double> From(Target t)
    {
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var output in t.Bundle.Commands.Values)
            foreach (Match m in PerfLine().Matches(output))
                if (double.TryParse(m.Groups[2].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v))
                    metrics[m.Groups[1].Value] = v;
        var irqs = t.NvmeDmaInterrupts();
        if (irqs.Count > 0) metrics["irq.nvme.count"] = irqs.Sum(p => p.After.Total - p.Before.Total);
        return metrics;
    }

    [GeneratedRegex(@"^FARM-PERF\s+([A-Za-z0-9_.\-]+)\s+(-?[0-9]+(?:\.[0-9]+)?)\s*$", RegexOptions.Multiline)]
    private static partial Regex PerfLine();
}
