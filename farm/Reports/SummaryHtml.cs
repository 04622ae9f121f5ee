using System.Text;
using Farm.Checks;
using Farm.Lab;
using Farm.Reports.Trends;
using static Farm.Reports.HtmlText;

namespace Farm.Reports;

/// <summary>
/// A self-contained HTML summary of some runs (one file: styles inline, charts as inline SVG,
/// no script, nothing fetched), for mail and CI artifacts: verdicts, the check × target matrix
/// with the evidence line of every xfail/n-a/fail, each run's stages, and the trends of the
/// headline metrics for those runs' targets with shifts marked.
/// </summary>
internal static class SummaryHtml
{
    public const string FileName = "summary.html";

    public static async Task<string> RenderAsync(string title, IReadOnlyList<RunRecord> runs, IRunStore store, DateTimeOffset trendsSince, DateTimeOffset generated, CancellationToken ct)
    {
        var b = new StringBuilder();
        b.Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>").Append(E(title)).Append("</title><style>").Append(Css).Append("</style></head><body><main>");
        b.Append("<h1>").Append(E(title)).Append("</h1>");
        var worst = runs.Select(r => r.Verdict).Aggregate(Farm.Verdict.Pass, (a, x) => a.Worst(x));
        b.Append($"<p id=\"overall\">Overall: {Verdict(worst.ToWire())} · {runs.Count} run(s) · generated {generated.UtcDateTime:yyyy-MM-dd HH:mm} UTC</p>");

        b.Append("<h2>Runs</h2><table id=\"runs\"><tr><th>run</th><th>job</th><th>board</th><th>verdict</th><th>started (UTC)</th><th>seconds</th><th>xen</th><th>message</th></tr>");
        foreach (var r in runs)
            b.Append($"<tr><td>{E(r.RunId)}</td><td>{E(r.Job)}</td><td>{E(r.Board)}</td><td>{Verdict(r.Verdict.ToWire())}</td><td>{r.Start:yyyy-MM-dd HH:mm:ss}</td><td>{N(r.Duration.TotalSeconds, "0.0")}</td><td>{E(r.Provenance.XenVersion ?? "native")}</td><td>{E(r.Message?.Split('\n')[0])}</td></tr>");
        b.Append("</table>");

        var matrix = CheckMatrix.Build(runs);
        if (matrix.Rows.Count > 0)
        {
            b.Append("<h2>Check × target</h2><table id=\"matrix\"><tr><th>check</th>");
            foreach (var r in runs) b.Append("<th>").Append(E(CheckMatrix.Column(r))).Append("</th>");
            b.Append("</tr>");
            string? group = null;
            foreach (var row in matrix.Rows)
            {
                if (row.Guest is not null && row.Guest != group)
                {
                    group = row.Guest;
                    b.Append($"<tr class=\"guest\"><th colspan=\"{runs.Count + 1}\">guest {E(group)}</th></tr>");
                }
                b.Append("<tr><td>").Append(E(row.Id)).Append("</td>");
                foreach (var cell in row.Cells)
                    b.Append("<td>").Append(cell.Check is not { } c ? "-"
                        : Verdict(c.Verdict.ToWire()) + (c.Unexpected ? $" <b>expected {E(c.Expected.ToWire())}</b>" : "") + (cell.Note > 0 ? $" <sup>[{cell.Note}]</sup>" : "")).Append("</td>");
                b.Append("</tr>");
            }
            b.Append("</table>");
            if (matrix.Notes.Count > 0)
            {
                b.Append("<h3>Evidence</h3><ol id=\"evidence\">");
                foreach (var n in matrix.Notes) b.Append("<li><code>").Append(E(n.ToString())).Append("</code></li>");
                b.Append("</ol>");
            }
        }

        foreach (var r in runs.Where(r => r.Stages.Count > 0))
        {
            b.Append($"<h2>Stages of {E(r.RunId)}</h2><table><tr><th>stage</th><th>status</th><th>seconds</th><th>message</th></tr>");
            foreach (var s in r.Stages)
                b.Append($"<tr><td>{E(s.Name)}</td><td>{Verdict(s.Status.ToString().ToLowerInvariant())}</td><td>{N(s.Duration.TotalSeconds, "0.000")}</td><td>{E(s.Message)}</td></tr>");
            b.Append("</table>");
        }

        var targets = runs.Select(r => $"{r.Job}@{r.Board}").ToHashSet();
        var trends = new StringBuilder();
        foreach (var metric in TrendQuery.Headline)
            foreach (var s in await TrendQuery.LoadAsync(store, metric, trendsSince, ct).ConfigureAwait(false))
                if (targets.Contains(s.Target) && s.Points.Count >= 2)
                {
                    trends.Append($"<h3>{E(metric)} · {E(s.Target)}</h3>").Append(SvgChart.Render(s));
                    foreach (var sh in s.Shifts) trends.Append("<p class=\"shift-note\">").Append(E(sh.Describe(metric))).Append("</p>");
                }
        if (trends.Length > 0) b.Append("<h2>Trends</h2>").Append(trends);
        return b.Append("</main></body></html>").ToString();
    }
}
