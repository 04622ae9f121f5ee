using System.Text;
using System.Text.RegularExpressions;
using Farm.Bisect;
using Farm.Reports;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using static Farm.Reports.HtmlText;
using static Farm.Web.Ui.Html;

namespace Farm.Web.Ui;

/// <summary>
/// The bisects recorded beside the runs (<c>farm bisect</c>): a list, and one bisect with each step's
/// commit, build, runs (linked to their run pages) and verdict, and the answer with its confidence.
/// </summary>
internal static partial class BisectPages
{
    public static void Map(WebApplication app, LabView view)
    {
        app.MapGet("/bisects", async (HttpContext ctx, CancellationToken ct) =>
        {
            var b = new StringBuilder("<table id=\"bisects\"><tr><th>bisect</th><th>started</th><th>job</th><th>criterion</th><th>status</th><th>answer</th></tr>");
            if (await StoreAsync(view, ct) is { } store)
                foreach (var r in await store.ListAsync(200, ct))
                    b.Append($"<tr><td><a href=\"/bisects/{Q(r.Id)}\">{E(r.Id)}</a></td><td>{E(r.Started.ToString("u"))}</td><td>{E(r.Job)}</td><td>{E(r.Criterion)}</td>")
                     .Append($"<td>{Verdict(r.Status)}</td><td>{E(r.Conclusion)}</td></tr>");
            return Page("Bisects", ctx, b.Append("</table>").ToString());
        });

        app.MapGet("/bisects/{id}", async (HttpContext ctx, string id, CancellationToken ct) =>
        {
            if (!Id().IsMatch(id)) return Results.BadRequest("not a bisect id");
            if (await StoreAsync(view, ct) is not { } store || await store.GetAsync(id, ct) is not { } r) return Results.NotFound($"no bisect {id}");
            var b = new StringBuilder($"<p id=\"answer\"><b>{E(r.Conclusion)}</b></p>");
            b.Append($"<p>{E(r.Source)}: {E(Short(r.Good))} (good) .. {E(Short(r.Bad))} (bad), job {E(r.Job)}, {E(r.Criterion)}, {Verdict(r.Status)}</p>");
            if (r.Outcome is { } o)
            {
                b.Append("<table id=\"steps\"><tr><th>#</th><th>commit</th><th>role</th><th>build</th><th>runs</th><th>verdict</th></tr>");
                foreach (var s in o.Steps)
                {
                    var build = s.Build.Failure is { } f ? $"does not build: {f}" : s.Build.CacheHit ? "cache hit" : $"built in {N(s.Build.Seconds, "0")} s";
                    var runs = string.Join("<br>", s.Runs.Select(x => $"<a href=\"/runs/{Q(x.RunId)}\">{E(x.RunId)}</a> {E(x.Observation.ToString().ToLowerInvariant())}: {E(x.Why)}"));
                    var verdict = s.Verdict.State.ToString().ToLowerInvariant();
                    b.Append($"<tr><td>{s.Index}</td><td>{E(Short(s.Commit))}</td><td>{E(s.Role)}</td><td>{E(build)}</td><td>{runs}</td>")
                     .Append($"<td>{Verdict(verdict == "good" ? "pass" : verdict == "bad" ? "fail" : "n/a")} {E(s.Verdict.Reason)}</td></tr>");
                }
                b.Append("</table>");
            }
            return Page($"Bisect {r.Id}", ctx, b.ToString());
        });
    }

    static async Task<BisectStore?> StoreAsync(LabView view, CancellationToken ct) =>
        RunSinks.BisectStorePath(view.Options.Out, view.Options.Store) is var path && File.Exists(path) ? await BisectStore.OpenAsync(path, ct) : null;

    static IResult Page(string title, HttpContext ctx, string body) =>
        Results.Content(Html.Page(title, ctx.Items[nameof(ApiUser)] as ApiUser, body), "text/html; charset=utf-8", Encoding.UTF8);

    static string Short(string c) => c.Length > 12 ? c[..12] : c;

    [GeneratedRegex(@"^[0-9]{8}-[0-9]{6}-bisect-[0-9a-f]{6}$")]
    private static partial Regex Id();
}
