using System.Text;
using Farm.Checks;

namespace Farm.Reports;

/// <summary>
/// The check × target table: one column per run (job on board, Xen and QEMU versions), one row per
/// check, each xfail/n-a/fail cell footnoted with the evidence line that justified it. Guest checks
/// judged on a guest form one row group per guest ("guest &lt;name&gt;") below the target's own rows;
/// runs without guests render exactly as before guests existed.
/// </summary>
internal static class CheckMatrix
{
    public const string FileName = "matrix.md";

    public static string Column(RunRecord r)
    {
        // The QEMU under the board (7.2 system, 10.0 for the SMMU boards): "10.0.2", without Debian's package suffix.
        var qemu = r.Provenance.QemuVersion is { Length: > 0 } q ? $", QEMU {q.Split(' ')[0]}" : "";
        // A toolstack built from the same tree (farm build xen --tools) is a different system under test than Debian's xl.
        var tools = r.Provenance.Packages.TryGetValue("xen_tools", out var t) && t.StartsWith("self-built", StringComparison.Ordinal) ? ", tools self-built" : "";
        return $"{r.Job}@{r.Board}" + (r.Provenance.XenVersion is { } x
            ? r.Provenance.Packages.ContainsKey("xen_build") ? $" (Xen {x}, self-built{tools}, PCI passthrough on{qemu})" : $" (Xen {x}{qemu})"
            : $" (native{qemu})");
    }

    public static IReadOnlyList<string> CheckIds(IReadOnlyList<RunRecord> runs) =>
        runs.SelectMany(r => r.Checks).Select(c => c.Id).Distinct().ToList();

    /// <summary>The guests with results in these runs, in order of appearance: one row group each.</summary>
    public static IReadOnlyList<string> Guests(IReadOnlyList<RunRecord> runs) =>
        runs.SelectMany(r => r.Checks).Select(c => c.Guest).OfType<string>().Distinct().ToList();

    /// <summary>One cell: the check's result on one run (null when the run did not have it) and its evidence footnote number (0: none).</summary>
    public sealed record Cell(CheckResult? Check, int Note);

    /// <summary>A footnote: the first evidence line of an xfail/n-a/fail, with the check and the column it belongs to.</summary>
    public sealed record Note(string Check, string Column, string Line)
    {
        public override string ToString() => $"{Check} on {Column}: {Line}";
    }

    /// <summary>The table every renderer draws: a row of cells per check id, and the footnotes.</summary>
    /// <summary>One row: a check on the targets' own view (<see cref="Guest"/> null) or on one guest; <see cref="Label"/> names both.</summary>
    public sealed record Row(string Label, IReadOnlyList<Cell> Cells)
    {
        public required string Id { get; init; }
        public string? Guest { get; init; }
    }

    public sealed record Table(IReadOnlyList<Row> Rows, IReadOnlyList<Note> Notes);

    public static Table Build(IReadOnlyList<RunRecord> runs)
    {
        var notes = new List<Note>();
        var rows = new List<Row>();
        foreach (var guest in Guests(runs).Prepend(null))
            foreach (var id in runs.SelectMany(r => r.Checks).Where(c => c.Guest == guest).Select(c => c.Id).Distinct())
            {
                var cells = new List<Cell>();
                foreach (var r in runs)
                {
                    var c = r.Checks.FirstOrDefault(x => x.Id == id && x.Guest == guest);
                    bool footnoted = c is not null && c.Verdict != CheckVerdict.Pass && c.Evidence.Count > 0;
                    if (footnoted) notes.Add(new Note(guest is null ? id : $"{id} (guest {guest})", Column(r), c!.Evidence[0]));
                    cells.Add(new Cell(c, footnoted ? notes.Count : 0));
                }
                rows.Add(new Row(guest is null ? id : $"guest {guest} · {id}", cells) { Id = id, Guest = guest });
            }
        return new Table(rows, notes);
    }

    public static string Markdown(IReadOnlyList<RunRecord> runs)
    {
        var b = new StringBuilder("# vPCI check matrix\n\n");
        b.Append("| check | ").AppendJoin(" | ", runs.Select(Column)).Append(" |\n|---|").Append(string.Concat(runs.Select(_ => "---|"))).Append('\n');
        var table = Build(runs);
        string? group = null;
        foreach (var (row, cells) in table.Rows.Select(r => (r, r.Cells)))
        {
            if (row.Guest is not null && row.Guest != group)
            {
                group = row.Guest;
                b.Append($"| **guest {group}** |").Append(string.Concat(runs.Select(_ => " |"))).Append('\n');
            }
            b.Append($"| `{row.Id}` |");
            foreach (var cell in cells)
            {
                if (cell.Check is not { } c) { b.Append(" - |"); continue; }
                b.Append($" {c.Verdict.ToWire()}{(c.Unexpected ? $" (expected {c.Expected.ToWire()})" : "")}{(cell.Note > 0 ? $" [{cell.Note}]" : "")} |");
            }
            b.Append('\n');
        }
        if (table.Notes.Count > 0)
            b.Append("\nEvidence:\n\n").AppendJoin("\n", table.Notes.Select((n, i) => $"- [{i + 1}] {n with { Line = n.Line.Replace("|", "\\|") }}")).Append('\n');
        return b.ToString();
    }
}
