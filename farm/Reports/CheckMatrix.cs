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
        : " (native)")
        // The QEMU under the board (7.2 system, 10.0 for the SMMU boards): "10.0.2", without Debian's package suffix.
        + (r.Provenance.QemuVersion is { Length: > 0 } q ? $" on QEMU {q.Split(' ')[0]}" : "");

    public static IReadOnlyList<string> CheckIds(IReadOnlyList<RunRecord> runs) =>
        runs.SelectMany(r => r.Checks).Select(c => c.Id).Distinct().ToList();

    /// <summary>One cell: the check's result on one run (null when the run did not have it) and its evidence footnote number (0: none).</summary>
    public sealed record Cell(CheckResult? Check, int Note);

    /// <summary>A footnote: the first evidence line of an xfail/n-a/fail, with the check and the column it belongs to.</summary>
    public sealed record Note(string Check, string Column, string Line)
    {
        public override string ToString() => $"{Check} on {Column}: {Line}";
    }

    /// <summary>The table every renderer draws: a row of cells per check id, and the footnotes.</summary>
    public sealed record Table(IReadOnlyList<(string Id, IReadOnlyList<Cell> Cells)> Rows, IReadOnlyList<Note> Notes);

    public static Table Build(IReadOnlyList<RunRecord> runs)
    {
        var notes = new List<Note>();
        var rows = new List<(string, IReadOnlyList<Cell>)>();
        foreach (var id in CheckIds(runs))
        {
            var cells = new List<Cell>();
            foreach (var r in runs)
            {
                var c = r.Checks.FirstOrDefault(x => x.Id == id);
                bool footnoted = c is not null && c.Verdict != CheckVerdict.Pass && c.Evidence.Count > 0;
                if (footnoted) notes.Add(new Note(id, Column(r), c!.Evidence[0]));
                cells.Add(new Cell(c, footnoted ? notes.Count : 0));
            }
            rows.Add((id, cells));
        }
        return new Table(rows, notes);
    }

    public static string Markdown(IReadOnlyList<RunRecord> runs)
    {
        var b = new StringBuilder("# vPCI check matrix\n\n");
        b.Append("| check | ").AppendJoin(" | ", runs.Select(Column)).Append(" |\n|---|").Append(string.Concat(runs.Select(_ => "---|"))).Append('\n');
        var table = Build(runs);
        foreach (var (id, cells) in table.Rows)
        {
            b.Append($"| `{id}` |");
            foreach (var cell in cells)
            {
                if (cell.Check is not { } c) { b.Append(" - |"); continue; }
                b.Append($" {JUnitReport.Wire(c.Verdict)}{(c.Unexpected ? $" (expected {JUnitReport.Wire(c.Expected)})" : "")}{(cell.Note > 0 ? $" [{cell.Note}]" : "")} |");
            }
            b.Append('\n');
        }
        if (table.Notes.Count > 0)
            b.Append("\nEvidence:\n\n").AppendJoin("\n", table.Notes.Select((n, i) => $"- [{i + 1}] {n with { Line = n.Line.Replace("|", "\\|") }}")).Append('\n');
        return b.ToString();
    }
}
