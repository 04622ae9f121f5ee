using System.Text;
using Farm.Boards.Spec;
using Farm.Checks;
using Farm.Jobs;
using Farm.Spec;
using Farm.Lab.Leases;
using Farm.Reports;
using Farm.Reports.Trends;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.StaticFiles;
using static Farm.Reports.HtmlText;
using static Farm.Web.Ui.Html;

namespace Farm.Web.Ui;

/// <summary>
/// The dashboard served by <c>farm serve</c>: boards, reservations, runs (one run with stages,
/// checks and evidence), a live console (server-sent events), trends with shifts marked, and the
/// Allure report. Sign-in is with the same bearer token as the API; the cookie (HttpOnly,
/// SameSite=Strict, Secure under HTTPS) carries a random session id, never the token. The same
/// roles decide who may reserve, and every form post is audited like an API write.
/// </summary>
internal static class WebUi
{
    public const string Cookie = "farm_session";

    public static void Map(WebApplication app, LabView view, Microsoft.Extensions.Logging.ILogger signIn)
    {
        // /metrics needs a token like everything else unless the lab chose anonymous scraping.
        string[] open = view.Options.AnonymousMetrics ? ["/login", "/static", "/healthz", "/metrics", "/api"] : ["/login", "/static", "/healthz", "/api"];
        app.Use(async (ctx, next) =>
        {
            var path = ctx.Request.Path;
            if (!path.StartsWithSegments("/api")) ctx.Response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
            // The pages' forms are posted as forms; anything else is a bad request, not a failed form read.
            if (HttpMethods.IsPost(ctx.Request.Method) && (path == "/login" || path.StartsWithSegments("/ui")) && !ctx.Request.HasFormContentType)
            {
                ctx.Response.StatusCode = StatusCodes.Status400BadRequest;
                await ctx.Response.WriteAsync("expected a form (application/x-www-form-urlencoded)");
                return;
            }
            if (open.Any(p => path.StartsWithSegments(p))) { await next(ctx); return; }
            var user = ctx.Request.Cookies.TryGetValue(Cookie, out var session) ? await view.Sessions.FindAsync(session, ctx.RequestAborted) : null;
            // A scraper (or a script) may show its bearer token instead of a session.
            if (user is null && LabApi.Bearer(ctx) is { } token)
            {
                (user, var wait) = await LabApi.CheckTokenAsync(view, ctx, token, signIn);
                if (wait > TimeSpan.Zero) { await LabApi.TooManyAsync(ctx, wait); return; }
            }
            if (user is null)
            {
                if (HttpMethods.IsGet(ctx.Request.Method) && path != "/metrics") ctx.Response.Redirect("/login?next=" + Q(path + ctx.Request.QueryString));
                else ctx.Response.StatusCode = StatusCodes.Status401Unauthorized;
                return;
            }
            ctx.Items[nameof(ApiUser)] = user;
            await next(ctx);
            if (!HttpMethods.IsGet(ctx.Request.Method))
                await view.AuditAsync(user.Name, LabApi.Remote(ctx), ctx.Request.Method, path + ctx.Request.QueryString, ctx.Response.StatusCode, CancellationToken.None);
        });

        app.MapGet("/static/farm.css", () => Results.Text(Css, "text/css"));
        app.MapGet("/static/console.js", () => Results.Text(ConsoleScript, "text/javascript"));

        app.MapGet("/login", (string? next, string? error) => Page("Sign in", null, $"""
            <form method="post" action="/login"><input type="hidden" name="next" value="{E(next ?? "/")}">
            <label>Token <input type="password" name="token" id="token" autocomplete="off" size="50"></label>
            <button id="signin">Sign in</button></form>
            <p>A token comes from <code>farm token --user NAME --role developer</code>.</p>
            """, error));

        app.MapPost("/login", async (HttpContext ctx) =>
        {
            var form = await ctx.Request.ReadFormAsync(ctx.RequestAborted);
            var token = form["token"].ToString().Trim();
            var next = LocalPath(form["next"].ToString());
            var (user, wait) = await LabApi.CheckTokenAsync(view, ctx, token, signIn);
            if (wait > TimeSpan.Zero)
                return Results.Content(Html.Page("Sign in", null, "<p>Too many failed sign-ins from this address.</p>", $"try again in {Math.Ceiling(wait.TotalSeconds)}s"),
                    "text/html; charset=utf-8", Encoding.UTF8, StatusCodes.Status429TooManyRequests);
            if (user is null)
                return Results.Redirect("/login?error=" + Q("that token is not valid") + "&next=" + Q(next));
            var session = await view.Sessions.OpenAsync(token, ctx.RequestAborted);
            ctx.Response.Cookies.Append(Cookie, session, new CookieOptions
            {
                HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/", IsEssential = true, Secure = ctx.Request.IsHttps, MaxAge = WebSessions.Lifetime,
            });
            return Results.Redirect(next);
        });

        app.MapPost("/logout", async (HttpContext ctx) =>
        {
            if (ctx.Request.Cookies.TryGetValue(Cookie, out var session)) await view.Sessions.CloseAsync(session, ctx.RequestAborted);
            ctx.Response.Cookies.Delete(Cookie, new CookieOptions { Path = "/", Secure = ctx.Request.IsHttps, HttpOnly = true, SameSite = SameSiteMode.Strict });
            return Results.Redirect("/login");
        });

        app.MapGet("/", async (HttpContext ctx, string? msg, CancellationToken ct) => Page("Boards", User(ctx), await BoardsAsync(view, User(ctx), ct), msg));
        app.MapGet("/reservations", async (HttpContext ctx, string? msg, CancellationToken ct) => Page("Reservations", User(ctx), await ReservationsAsync(view, User(ctx), ct), msg));

        app.MapPost("/ui/reserve", async (HttpContext ctx, CancellationToken ct) =>
        {
            var f = await ctx.Request.ReadFormAsync(ct);
            var (board, span, note) = (f["board"].ToString(), f["for"].ToString(), f["note"].ToString());
            if (view.Lab().Find(board) is null) return Back(ctx, $"no board named \"{LabApi.Clip(board)}\"", StatusCodes.Status404NotFound);
            if (note.Length > LabApi.MaxNote) return Back(ctx, $"a note has at most {LabApi.MaxNote} characters", StatusCodes.Status400BadRequest);
            if (!Duration.TryParse(string.IsNullOrWhiteSpace(span) ? "1h" : span, out var d)) return Back(ctx, $"\"{LabApi.Clip(span)}\" is not a duration of at most {Duration.MaxText} ({Duration.Hint})", StatusCodes.Status400BadRequest);
            var grant = await view.Leases.AcquireAsync(board, User(ctx).Name, d, LeaseKind.Interactive, string.IsNullOrWhiteSpace(note) ? null : note, ct);
            return Back(ctx, grant.Granted ? $"{board} is yours until {grant.Current.Expires:yyyy-MM-dd HH:mm} UTC" : grant.Describe, grant.Granted ? 303 : StatusCodes.Status409Conflict);
        }).AddEndpointFilter(Needs(ApiRole.Developer, "reserve"));

        app.MapPost("/ui/renew", async (HttpContext ctx, CancellationToken ct) =>
        {
            var f = await ctx.Request.ReadFormAsync(ct);
            if (!Duration.TryParse(f["for"].ToString() is { Length: > 0 } s ? s : "1h", out var d)) return Back(ctx, $"\"{LabApi.Clip(f["for"].ToString())}\" is not a duration of at most {Duration.MaxText}", StatusCodes.Status400BadRequest);
            try
            {
                var lease = await view.Leases.RenewAsync(f["board"].ToString(), User(ctx).Name, d, ct);
                return Back(ctx, $"{lease.Board} renewed until {lease.Expires:yyyy-MM-dd HH:mm} UTC", 303);
            }
            catch (InfrastructureException e) { return Back(ctx, e.Message, StatusCodes.Status409Conflict); }
        }).AddEndpointFilter(Needs(ApiRole.Developer, "renew"));

        app.MapPost("/ui/release", async (HttpContext ctx, CancellationToken ct) =>
        {
            var f = await ctx.Request.ReadFormAsync(ct);
            var board = f["board"].ToString();
            return await view.Leases.ReleaseAsync(board, User(ctx).Name, ct)
                ? Back(ctx, $"{board} released", 303)
                : Back(ctx, $"{User(ctx).Name} holds no lease on {board}", StatusCodes.Status409Conflict);
        }).AddEndpointFilter(Needs(ApiRole.Developer, "release"));

        app.MapGet("/runs", async (HttpContext ctx, string? board, string? job, string? verdict, CancellationToken ct) =>
            Page("Runs", User(ctx), await RunsAsync(view, Blank(board), Blank(job), Blank(verdict), ct)));

        app.MapGet("/runs/{id}", async (HttpContext ctx, string id, CancellationToken ct) =>
            await view.RunsAsync(ct) is { } store && await store.GetAsync(id, ct) is { } run
                ? Page($"Run {run.RunId}", User(ctx), RunPage(view, run))
                : Results.NotFound($"no run {id}"));

        app.MapGet("/runs/{id}/console", async (HttpContext ctx, string id, CancellationToken ct) =>
            await view.RunsAsync(ct) is { } store && await store.GetAsync(id, ct) is { } run
                ? Page($"Console of {run.RunId}", User(ctx), await ConsoleTail.PageAsync(run, ct))
                : Results.NotFound($"no run {id}"));

        app.MapGet("/runs/{id}/console/stream", async (HttpContext ctx, string id, long? from) =>
        {
            if (await view.RunsAsync(ctx.RequestAborted) is not { } store || await store.GetAsync(id, ctx.RequestAborted) is not { } run)
            {
                ctx.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }
            await ConsoleTail.StreamAsync(ctx, run, from ?? 0, async ct => await store.GetAsync(id, ct) is { } r && !JobRunner.IsPending(r), view.Time);
        });

        app.MapGet("/runs/{id}/files/{**file}", async (string id, string file, CancellationToken ct) =>
        {
            if (await view.RunsAsync(ct) is not { } store || await store.GetAsync(id, ct) is not { RunDirectory: { } dir }) return Results.NotFound();
            var root = Path.GetFullPath(dir) + Path.DirectorySeparatorChar;
            var full = Path.GetFullPath(Path.Combine(root, file));
            if (!full.StartsWith(root, StringComparison.Ordinal) || !File.Exists(full)) return Results.NotFound();
            // Evidence is shown as text whatever it contains: never sniffed into HTML.
            return Results.File(full, "text/plain; charset=utf-8");
        });

        app.MapGet("/trends", async (HttpContext ctx, string? metric, int? days, CancellationToken ct) =>
            Page("Trends", User(ctx), await TrendsAsync(view, Blank(metric), Math.Clamp(days ?? 365, 1, 3660), ct)));

        BisectPages.Map(app, view);

        app.MapGet("/report/{**file}", (string? file) =>
        {
            var root = Path.GetFullPath(Path.Combine(view.Options.Out, "report")) + Path.DirectorySeparatorChar;
            var full = Path.GetFullPath(Path.Combine(root, string.IsNullOrEmpty(file) ? "index.html" : file));
            if (!full.StartsWith(root, StringComparison.Ordinal) || !File.Exists(full)) return Results.NotFound("no report rendered yet (farm report renders one)");
            return Results.File(full, new FileExtensionContentTypeProvider().TryGetContentType(full, out var type) ? type : "application/octet-stream");
        });
    }

    static ApiUser User(HttpContext ctx) => (ApiUser)ctx.Items[nameof(ApiUser)]!;

    static string? Blank(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;

    /// <summary>
    /// A same-origin path to go back to, else "/". Browsers drop tabs and newlines and read '\\' as '/',
    /// so "/\t/evil.example" would become "//evil.example", another origin: any control character,
    /// whitespace or backslash, and a second leading '/', make it "/".
    /// </summary>
    internal static string LocalPath(string next) =>
        next.Length is > 0 and <= 2048 && next[0] == '/' && (next.Length == 1 || next[1] != '/')
        && !next.Any(c => char.IsControl(c) || char.IsWhiteSpace(c) || c == '\\' || c > '\u007e')
        && Uri.TryCreate(next, UriKind.Relative, out _) ? next : "/";

    /// <summary>A form the user's role does not allow is answered with a page saying so (403), before the form is read.</summary>
    static Func<EndpointFilterInvocationContext, EndpointFilterDelegate, ValueTask<object?>> Needs(ApiRole role, string what) => async (ctx, next) =>
        User(ctx.HttpContext).Role >= role ? await next(ctx) : Forbidden(ctx.HttpContext, what);

    static IResult Forbidden(HttpContext ctx, string what) =>
        Results.Content(Html.Page("Not allowed", User(ctx), $"<p>To {E(what)} a board you need the developer role; {E(User(ctx).Name)} is {E(User(ctx).Role.ToString().ToLowerInvariant())}.</p>"),
            "text/html; charset=utf-8", Encoding.UTF8, StatusCodes.Status403Forbidden);

    /// <summary>After a form: back to the page it came from with a message (303), or the message with its error status.</summary>
    static IResult Back(HttpContext ctx, string message, int status)
    {
        if (status == 303)
        {
            var from = ctx.Request.Headers.Referer.ToString() is { Length: > 0 } r && Uri.TryCreate(r, UriKind.Absolute, out var u) ? u.AbsolutePath : "/";
            return Results.Redirect(LocalPath(from) + "?msg=" + Q(message));
        }
        return Results.Content(Html.Page("Not done", User(ctx), $"<p id=\"error\">{E(message)}</p><p><a href=\"/\">Back to the boards</a></p>"), "text/html; charset=utf-8", Encoding.UTF8, status);
    }

    static IResult Page(string title, ApiUser? user, string body, string? flash = null) =>
        Results.Content(Html.Page(title, user, body, flash), "text/html; charset=utf-8", Encoding.UTF8);

    static async Task<string> BoardsAsync(LabView view, ApiUser user, CancellationToken ct)
    {
        var b = new StringBuilder("<table id=\"boards\"><tr><th>board</th><th>type</th><th>tags</th><th>health</th><th>lease</th><th>power</th><th>console</th><th>last run</th><th></th></tr>");
        foreach (var r in await view.BoardsAsync(ct))
        {
            var name = r.Spec.Name;
            b.Append($"<tr data-board=\"{E(name)}\"><td>{E(name)}</td><td>{E(r.Spec.TypeName)} ({E(r.Spec.Kind)})</td><td>{E(string.Join(", ", r.Spec.Tags))}</td>");
            b.Append($"<td>{Verdict(r.Health.Health.ToString().ToLowerInvariant())} <small>{E(r.Health.Reason)}</small></td>");
            b.Append(r.Lease is { } l
                ? $"<td class=\"lease\">held by <b>{E(l.Holder)}</b> ({E(l.Kind.ToString().ToLowerInvariant())}) until {l.Expires:yyyy-MM-dd HH:mm} UTC {E(l.Note)}</td>"
                : "<td class=\"lease\">free</td>");
            b.Append($"<td>{E(SecretMask.Mask(r.Spec.SharedPower))}</td><td>{E(SecretMask.Mask(r.Spec.SharedConsole))}</td>");
            b.Append(r.LastRun is { } run ? $"<td><a href=\"/runs/{Q(run.RunId)}\">{E(run.Job)}</a> {Verdict(run.Verdict.ToWire())}</td>" : "<td>-</td>");
            b.Append("<td>");
            if (user.Role >= ApiRole.Developer)
            {
                if (r.Lease is null)
                    b.Append($"<form method=\"post\" action=\"/ui/reserve\" class=\"inline\"><input type=\"hidden\" name=\"board\" value=\"{E(name)}\"><input name=\"for\" value=\"2h\" size=\"4\" aria-label=\"for\"><input name=\"note\" placeholder=\"note\" size=\"12\" aria-label=\"note\"><button class=\"reserve\">Reserve</button></form>");
                else if (r.Lease.Holder == user.Name)
                    b.Append(LeaseForms(name));
            }
            b.Append("</td></tr>");
        }
        return b.Append("</table>").ToString();
    }

    static string LeaseForms(string board) =>
        $"<form method=\"post\" action=\"/ui/renew\" class=\"inline\"><input type=\"hidden\" name=\"board\" value=\"{E(board)}\"><input name=\"for\" value=\"1h\" size=\"4\" aria-label=\"for\"><button class=\"renew\">Renew</button></form> " +
        $"<form method=\"post\" action=\"/ui/release\" class=\"inline\"><input type=\"hidden\" name=\"board\" value=\"{E(board)}\"><button class=\"release\">Release</button></form>";

    static async Task<string> ReservationsAsync(LabView view, ApiUser user, CancellationToken ct)
    {
        var leases = await view.Leases.ActiveAsync(ct);
        if (leases.Count == 0) return "<p>No board is reserved. Reserve one on the <a href=\"/\">boards</a> page.</p>";
        var b = new StringBuilder("<table id=\"leases\"><tr><th>board</th><th>holder</th><th>kind</th><th>since</th><th>until</th><th>note</th><th></th></tr>");
        foreach (var l in leases)
            b.Append($"<tr data-board=\"{E(l.Board)}\"><td>{E(l.Board)}</td><td>{E(l.Holder)}</td><td>{E(l.Kind.ToString().ToLowerInvariant())}</td><td>{l.Acquired:yyyy-MM-dd HH:mm}</td><td>{l.Expires:yyyy-MM-dd HH:mm}</td><td>{E(l.Note)}</td><td>{(l.Holder == user.Name && user.Role >= ApiRole.Developer ? LeaseForms(l.Board) : "")}</td></tr>");
        return b.Append("</table>").ToString();
    }

    static async Task<string> RunsAsync(LabView view, string? board, string? job, string? verdict, CancellationToken ct)
    {
        var b = new StringBuilder("<form method=\"get\" action=\"/runs\" id=\"filter\">");
        b.Append($"<label>board <input name=\"board\" value=\"{E(board)}\"></label> <label>job <input name=\"job\" value=\"{E(job)}\"></label> <label>verdict <select name=\"verdict\"><option value=\"\">any</option>");
        foreach (var v in Enum.GetValues<Verdict>()) b.Append($"<option{(v.ToWire() == verdict ? " selected" : "")}>{v.ToWire()}</option>");
        b.Append("</select></label> <button>Filter</button></form>");
        var queued = (await view.Queue.ListAsync(50, ct)).Where(j => j.State != "done").ToList();
        if (queued.Count > 0)
        {
            b.Append("<h2>Queue</h2><table id=\"queue\"><tr><th>job</th><th>file</th><th>board</th><th>state</th><th>agent</th><th>attempt</th><th>by</th><th>note</th></tr>");
            foreach (var j in queued)
                b.Append($"<tr><td>{E(j.Id)}</td><td>{E(Path.GetFileName(j.Job))}</td><td>{E(j.RanOn ?? j.Board)}</td><td>{E(j.State)}</td><td>{E(j.Agent ?? "-")}</td><td>{j.Attempts}</td><td>{E(j.Requester)}</td><td>{E(j.Note)}</td></tr>");
            b.Append("</table><h2>Runs</h2>");
        }
        if (await view.RunsAsync(ct) is not { } store) return b.Append("<p>No run recorded yet.</p>").ToString();
        var runs = await store.SearchAsync(board, job, verdict, 200, ct);
        b.Append("<table id=\"runs\"><tr><th>run</th><th>job</th><th>board</th><th>verdict</th><th>started (UTC)</th><th>seconds</th><th>xen</th><th>checks pass/fail/xfail/n-a</th><th>message</th></tr>");
        foreach (var r in runs)
        {
            int C(CheckVerdict v) => r.Checks.Count(c => c.Verdict == v);
            var state = JobRunner.IsPending(r) ? "<span class=\"verdict incomplete\">running?</span>" : Verdict(r.Verdict.ToWire());
            b.Append($"<tr><td><a href=\"/runs/{Q(r.RunId)}\">{E(r.RunId)}</a></td><td>{E(r.Job)}</td><td>{E(r.Board)}</td><td>{state}</td><td>{r.Start:yyyy-MM-dd HH:mm:ss}</td><td>{N(r.Duration.TotalSeconds, "0.0")}</td>");
            b.Append($"<td>{E(r.Provenance.XenVersion ?? "native")}</td><td>{(r.Checks.Count == 0 ? "-" : $"{C(CheckVerdict.Pass)}/{C(CheckVerdict.Fail)}/{C(CheckVerdict.XFail)}/{C(CheckVerdict.NotApplicable)}")}</td><td>{E(r.Message?.Split('\n')[0])}</td></tr>");
        }
        return b.Append("</table>").ToString();
    }

    static string RunPage(LabView view, RunRecord r)
    {
        var b = new StringBuilder();
        b.Append($"<p>{Verdict(r.Verdict.ToWire())} <b>{E(r.Job)}</b> on <b>{E(r.Board)}</b>, started {r.Start:yyyy-MM-dd HH:mm:ss} UTC, {N(r.Duration.TotalSeconds, "0.0")} s");
        if (JobRunner.IsPending(r)) b.Append(" — <b>running</b> (or stopped without a word)");
        b.Append("</p>");
        if (!string.IsNullOrEmpty(r.Message)) b.Append($"<pre id=\"message\">{E(r.Message)}</pre>");
        b.Append($"<p><a id=\"console-link\" href=\"/runs/{Q(r.RunId)}/console\">Console (live while it runs)</a>");
        if (File.Exists(Path.Combine(view.Options.Out, "report", "index.html"))) b.Append(" · <a href=\"/report/\">Allure report</a>");
        b.Append("</p>");

        b.Append("<h2>Provenance</h2><table id=\"provenance\">");
        foreach (var (k, v) in new[] { ("xen", r.Provenance.XenVersion), ("linux", r.Provenance.LinuxVersion), ("qemu", r.Provenance.QemuVersion), ("snapshot", r.Provenance.Snapshot), ("ssh host key", r.Provenance.SshHostKey) })
            if (v is not null) b.Append($"<tr><th>{k}</th><td>{E(v)}</td></tr>");
        foreach (var (k, v) in r.Provenance.ArtifactSha256) b.Append($"<tr><th>sha256 of {E(k)}</th><td><code>{E(v)}</code></td></tr>");
        foreach (var (k, v) in r.Provenance.Packages) b.Append($"<tr><th>{E(k)}</th><td>{E(v)}</td></tr>");
        b.Append("</table>");

        if (r.Stages.Count > 0)
        {
            var longest = Math.Max(0.001, r.Stages.Max(s => s.Duration.TotalSeconds));
            b.Append("<h2>Stages</h2><table id=\"stages\"><tr><th>stage</th><th>status</th><th>seconds</th><th></th><th>timeout</th><th>message</th></tr>");
            foreach (var s in r.Stages)
                b.Append($"<tr><td>{E(s.Name)}</td><td>{Verdict(s.Status.ToString().ToLowerInvariant())}</td><td>{N(s.Duration.TotalSeconds, "0.000")}</td><td><span class=\"bar\" style=\"width:{N(200 * s.Duration.TotalSeconds / longest, "0")}px\"></span></td><td>{N(s.Timeout.TotalSeconds, "0")}</td><td>{E(s.Message)}</td></tr>");
            b.Append("</table>");
        }
        if (r.Checks.Count > 0)
        {
            b.Append($"<h2>Checks</h2><p>{E(CheckMatrix.Column(r))}</p><table id=\"checks\"><tr><th>check</th><th>group</th><th>verdict</th><th>expected</th><th>summary</th><th>evidence</th></tr>");
            foreach (var c in r.Checks)
                b.Append($"<tr><td>{E(c.Id)}</td><td>{E(c.Group)}</td><td>{Verdict(c.Verdict.ToWire())}</td><td>{E(c.Expected.ToWire())}</td><td>{E(c.Summary)}<br><small>{E(c.Source)}</small></td>" +
                         $"<td><details><summary>{c.Evidence.Count} line(s)</summary><pre>{E(string.Join('\n', c.Evidence))}</pre></details></td></tr>");
            b.Append("</table>");
        }
        if (r.Metrics.Count > 0)
        {
            b.Append("<h2>Metrics</h2><table id=\"metrics\">");
            foreach (var (k, v) in r.Metrics.OrderBy(m => m.Key, StringComparer.Ordinal))
                b.Append($"<tr><th><a href=\"/trends?metric={Q(k)}\">{E(k)}</a></th><td>{E(N(v))}</td></tr>");
            b.Append("</table>");
        }
        if (r.RunDirectory is { } dir && Directory.Exists(dir))
        {
            b.Append("<h2>Files</h2><ul id=\"files\">");
            foreach (var f in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Where(f => !f.Contains(AllureResults.DirectoryName, StringComparison.Ordinal)).Order(StringComparer.Ordinal).Take(200))
            {
                var rel = Path.GetRelativePath(dir, f).Replace('\\', '/');
                b.Append($"<li><a href=\"/runs/{Q(r.RunId)}/files/{string.Join('/', rel.Split('/').Select(Q))}\">{E(rel)}</a> ({new FileInfo(f).Length} bytes)</li>");
            }
            b.Append("</ul>");
        }
        return b.ToString();
    }

    static async Task<string> TrendsAsync(LabView view, string? metric, int days, CancellationToken ct)
    {
        if (await view.RunsAsync(ct) is not { } store) return "<p>No run recorded yet.</p>";
        var names = await store.MetricNamesAsync(ct);
        if (names.Count == 0) return "<p>No metric recorded yet.</p>";
        metric ??= TrendQuery.Headline.FirstOrDefault(names.Contains) ?? names[0];
        var b = new StringBuilder("<form method=\"get\" action=\"/trends\" id=\"pick\"><label>metric <select name=\"metric\" id=\"metric\">");
        foreach (var n in names) b.Append($"<option{(n == metric ? " selected" : "")}>{E(n)}</option>");
        b.Append($"</select></label> <label>days <input name=\"days\" value=\"{days}\" size=\"4\"></label> <button>Show</button></form>");
        var series = await TrendQuery.LoadAsync(store, metric, view.Time.GetUtcNow().AddDays(-days), ct);
        if (series.Count == 0) return b.Append($"<p>No pass/fail run recorded {E(metric)} in the last {days} days.</p>").ToString();
        b.Append("<p>Shifts are found by a rank change-point test (Pettitt, binary segmentation), not a fixed threshold; each names what changed between the run before and the first run after.</p>");
        foreach (var s in series)
        {
            b.Append($"<section class=\"series\" data-target=\"{E(s.Target)}\"><h2>{E(s.Target)}</h2>{SvgChart.Render(s)}");
            if (s.Shifts.Count > 0)
            {
                b.Append("<ul class=\"shifts\">");
                foreach (var sh in s.Shifts) b.Append($"<li>{E(sh.Describe(metric))} (<a href=\"/runs/{Q(sh.After.RunId)}\">first run after</a>)</li>");
                b.Append("</ul>");
            }
            b.Append("</section>");
        }
        return b.ToString();
    }

    /// <summary>The live console: lines arrive as server-sent events and are added as text nodes, never as markup.</summary>
    const string ConsoleScript = """
        (() => {
          const pre = document.getElementById('console');
          const state = document.getElementById('live');
          if (!pre || pre.dataset.live !== 'yes') return;
          const es = new EventSource(pre.dataset.stream);
          es.onmessage = e => {
            pre.appendChild(document.createTextNode(e.data + '\n'));
            pre.scrollTop = pre.scrollHeight;
          };
          es.addEventListener('end', () => { es.close(); state.textContent = 'finished'; });
          es.onerror = () => { state.textContent = 'reconnecting…'; };
          es.onopen = () => { state.textContent = 'live'; };
        })();
        """;
}
