using System.Text;
using static Farm.Reports.HtmlText;

namespace Farm.Web.Ui;

/// <summary>
/// Server-rendered pages: every value from the lab, a run or a console goes through
/// <see cref="HtmlText.E"/> (HTML-encoded), the only script is served from /static (the CSP forbids inline
/// script), so text from a board can never become markup.
/// </summary>
internal static class Html
{
    public const string ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'";

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
}
