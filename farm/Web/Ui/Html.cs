using System.Globalization;
using System.Net;
using System.Text;

namespace Farm.Web.Ui;

/// <summary>
/// Server-rendered pages: every value from the lab, a run or a console goes through
/// <see cref="E"/> (HTML-encoded), the only script is served from /static (the CSP forbids inline
/// script), so text from a board can never become markup.
/// </summary>
internal static class Html
{
    public static string E(string? s) => WebUtility.HtmlEncode(s ?? "");

    /// <summary>A URL query value.</summary>
    public static string Q(string? s) => Uri.EscapeDataString(s ?? "");

    public static string N(double v, string format = "0.###") => v.ToString(format, CultureInfo.InvariantCulture);

    public const string ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'";

    public static string Verdict(string verdict) => $"<span class=\"verdict {E(verdict.Replace('/', '-'))}\">{E(verdict)}</span>";

    public static string Page(string title, ApiUser? user, string body, string? flash = null)
    {
        var b = new StringBuilder();
        b.Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">");
        b.Append("<title>").Append(E(title)).Append(" · Farm</title><link rel=\"stylesheet\" href=\"/static/farm.css\"></head><body>");
        b.Append("<header><a class=\"brand\" href=\"/\">Farm</a><nav>");
        foreach (var (href, label) in new[] { ("/", "Boards"), ("/reservations", "Reservations"), ("/runs", "Runs"), ("/bisects", "Bisects"), ("/trends", "Trends") })
            b.Append($"<a href=\"{href}\">{label}</a>");
        b.Append("</nav>");
        if (user is not null)
            b.Append($"<form method=\"post\" action=\"/logout\" class=\"who\"><span id=\"user\">{E(user.Name)} ({E(user.Role.ToString().ToLowerInvariant())})</span> <button>Log out</button></form>");
        b.Append("</header><main>");
        if (!string.IsNullOrEmpty(flash)) b.Append("<p class=\"flash\" id=\"flash\">").Append(E(flash)).Append("</p>");
        b.Append("<h1>").Append(E(title)).Append("</h1>").Append(body).Append("</main></body></html>");
        return b.ToString();
    }

    public const string Css = """
        body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222}
        header{display:flex;gap:1.5em;align-items:center;background:#1d3557;color:#fff;padding:.5em 1em}
        header a{color:#fff;text-decoration:none}.brand{font-weight:bold;font-size:1.2em}
        nav{display:flex;gap:1em;flex:1}.who{margin:0}
        main{padding:1em 2em}table{border-collapse:collapse;margin:.5em 0}
        th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}th{background:#f1f1f1}
        .verdict{padding:0 .4em;border-radius:3px;color:#fff;background:#777}
        .pass,.healthy,.passed{background:#2a9d8f}.fail,.failed,.error,.quarantined{background:#d62828}
        .incomplete,.xfail,.offline{background:#e9a23b}.n-a{background:#999}
        .flash{background:#fff3cd;border:1px solid #e9c46a;padding:.5em}
        pre{background:#111;color:#ddd;padding:.5em;overflow:auto;max-height:70vh;white-space:pre-wrap}
        .bar{background:#457b9d;height:.8em;display:inline-block}
        svg.chart{background:#fafafa;border:1px solid #ddd}.shift line{stroke:#d62828;stroke-dasharray:4 3}
        .shift text{fill:#d62828;font-size:11px}form.inline{display:inline}
        """;
}
