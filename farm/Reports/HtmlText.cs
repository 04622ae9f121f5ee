using System.Globalization;
using System.Net;

namespace Farm.Reports;

/// <summary>
/// The HTML pieces the summary report and the dashboard share: encoding, numbers, verdict badges and
/// the stylesheet. Here, below the web layer, so a report renders without knowing the web.
/// </summary>
internal static class HtmlText
{
    public static string E(string? s) => WebUtility.HtmlEncode(s ?? "");

    /// <summary>A URL query value.</summary>
    public static string Q(string? s) => Uri.EscapeDataString(s ?? "");

    public static string N(double v, string format = "0.###") => v.ToString(format, CultureInfo.InvariantCulture);

    public static string Verdict(string verdict) => $"<span class=\"verdict {E(verdict.Replace('/', '-'))}\">{E(verdict)}</span>";

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
