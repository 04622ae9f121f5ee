using System.Text;
using static Farm.Reports.HtmlText;

namespace Farm.Reports.Trends;

/// <summary>
/// One trend series as an inline SVG line chart (nothing fetched at run time): x is time, y the
/// metric, every point titled with its run, every shift drawn as a red dashed line at the first
/// run after it, labelled with the change and titled with what changed in between.
/// </summary>
internal static class SvgChart
{
    public static string Render(TrendSeries s, int width = 760, int height = 220)
    {
        const int left = 60, right = 20, top = 20, bottom = 30;
        var pts = s.Points;
        var b = new StringBuilder();
        b.Append($"<svg class=\"chart\" role=\"img\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" data-target=\"{E(s.Target)}\" data-metric=\"{E(s.Metric)}\">");
        b.Append($"<title>{E(s.Metric)} on {E(s.Target)}</title>");
        if (pts.Count == 0) return b.Append("</svg>").ToString();
        double t0 = pts[0].Start.ToUnixTimeSeconds(), t1 = pts[^1].Start.ToUnixTimeSeconds();
        double lo = pts.Min(p => p.Value), hi = pts.Max(p => p.Value);
        if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
        double pad = (hi - lo) * 0.08;
        lo -= pad; hi += pad;
        double X(int i) => left + (t1 > t0 ? (pts[i].Start.ToUnixTimeSeconds() - t0) / (t1 - t0) : i / Math.Max(1.0, pts.Count - 1)) * (width - left - right);
        double Y(double v) => top + (hi - v) / (hi - lo) * (height - top - bottom);

        b.Append($"<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{height - bottom}\" stroke=\"#999\"/>");
        b.Append($"<line x1=\"{left}\" y1=\"{height - bottom}\" x2=\"{width - right}\" y2=\"{height - bottom}\" stroke=\"#999\"/>");
        foreach (var v in new[] { lo + pad, (lo + hi) / 2, hi - pad })
            b.Append($"<text x=\"{left - 4}\" y=\"{N(Y(v), "0.#")}\" font-size=\"10\" text-anchor=\"end\">{E(N(v, "0.##"))}</text>");
        b.Append($"<text x=\"{left}\" y=\"{height - 10}\" font-size=\"10\">{pts[0].Start:yyyy-MM-dd}</text>");
        b.Append($"<text x=\"{width - right}\" y=\"{height - 10}\" font-size=\"10\" text-anchor=\"end\">{pts[^1].Start:yyyy-MM-dd}</text>");
        b.Append("<polyline fill=\"none\" stroke=\"#1d3557\" stroke-width=\"1.5\" points=\"");
        for (int i = 0; i < pts.Count; i++) b.Append(N(X(i), "0.#")).Append(',').Append(N(Y(pts[i].Value), "0.#")).Append(' ');
        b.Append("\"/>");
        if (pts.Count <= 400)
            for (int i = 0; i < pts.Count; i++)
                b.Append($"<circle cx=\"{N(X(i), "0.#")}\" cy=\"{N(Y(pts[i].Value), "0.#")}\" r=\"2\" fill=\"#1d3557\"><title>{E(pts[i].RunId)}: {E(N(pts[i].Value))}</title></circle>");
        foreach (var shift in s.Shifts)
        {
            double x = X(shift.Point.Index);
            var label = double.IsNaN(shift.Point.Relative) ? "shift" : $"shift {shift.Point.Relative:+0%;-0%}";
            b.Append($"<g class=\"shift\" data-run=\"{E(shift.After.RunId)}\"><title>{E(shift.Describe(s.Metric))}</title>");
            b.Append($"<line x1=\"{N(x, "0.#")}\" y1=\"{top}\" x2=\"{N(x, "0.#")}\" y2=\"{height - bottom}\"/>");
            b.Append($"<text x=\"{N(x + 3, "0.#")}\" y=\"{top + 10}\">{E(label)}</text></g>");
        }
        return b.Append("</svg>").ToString();
    }
}
