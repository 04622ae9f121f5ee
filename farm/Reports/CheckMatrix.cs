using System.Text;
using Farm.Checks;

namespace Farm.Reports;

/// <summary>
/// The check × target table: one column per run (job on board, Xen version), one row per check,
/// each xfail/n-a/fail cell footnoted with the evidence line that justified it.
/// </summary>
public static class CheckMatrix
{
    public const string FileName = "matrix.md";

    public static string Column(RunRecord r) => $"{r.Job}@{r.Board}" + (r.Provenance.XenVersion is { } x
        ? r.Provenance.Packages.ContainsKey("xen_build") ? $" (Xen {x}, self-built, PCI passthrough on)" : $" (Xen {x})"
        : " (native)");

    public static IReadOnlyList<string> CheckIds(IReadOnlyList<RunRecord> runs) =>
        runs.SelectMany(r => r.Checks).Select(c => c.Id).Distinct().ToList();

    public static string Markdown(IReadOnlyList<RunRecord> runs)
    {
        var b = new StringBuilder("# vPCI check matrix\n\n");
        b.Append("| check | ").AppendJoin(" | ", runs.Select(Column)).Append(" |\n|---|").Append(string.Concat(runs.Select(_ => "---|"))).Append('\n');
        var notes = new List<string>();
        foreach (var id in CheckIds(runs))
        {
            b.Append($"| `{id}` |");
            foreach (var r in runs)
            {
                var c = r.Checks.FirstOrDefault(x => x.Id == id);
                if (c is null) { b.Append(" - |"); continue; }
                var cell = JUnitReport.Wire(c.Verdict) + (c.Unexpected ? $" (expected {JUnitReport.Wire(c.Expected)})" : "");
                if (c.Verdict != CheckVerdict.Pass && c.Evidence.Count > 0)
                {
                    notes.Add($"[{notes.Count + 1}] {id} on {Column(r)}: {c.Evidence[0].Replace("|", "\\|")}");
                    cell += $" [{notes.Count}]";
                }
                b.Append($" {cell} |");
            }
            b.Append('\n');
        }
        if (notes.Count > 0) b.Append("\nEvidence:\n\n").AppendJoin("\n", notes.Select(n => "- " + n)).Append('\n');
        return b.ToString();
    }
}
