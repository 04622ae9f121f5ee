using Farm.Lab;
using Farm.Reports;
using Farm.Reports.Trends;

namespace Farm.Tests.Reports;

/// <summary>The self-contained HTML summary: escaped evidence, the matrix, trends with the shift marked, nothing external.</summary>
public class SummaryHtmlTests
{
    [Test]
    public async Task OneFileWithMatrixEvidenceAndMarkedTrendsAndNoScript()
    {
        var dir = Directory.CreateTempSubdirectory("farm-summary-").FullName;
        try
        {
            var store = await RunStores.OpenAsync(Path.Combine(dir, "farm.db"), default);
            var end = DateTimeOffset.UtcNow;
            var history = SyntheticHistory.Nightly(30, 1, end, changeAt: 20).ToList();
            await store.SaveManyAsync(history, default);
            var sample = Runs.Sample(dir);
            var html = await SummaryHtml.RenderAsync("Nightly <2026-12-01>", [sample, history[^1]], store, end.AddDays(-60), end, default);

            Assert.That(html, Does.Contain("<title>Nightly &lt;2026-12-01&gt;</title>"));
            Assert.That(html, Does.Not.Contain("<script").And.Not.Contain("src=\"http").And.Not.Contain("href=\"http"), "self-contained and inert");
            Assert.That(html, Does.Contain("(XEN) &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;"), "evidence is shown as text");
            Assert.That(html, Does.Contain("expected pass"), "an unexpected verdict says what was expected");
            Assert.That(html, Does.Contain($"class=\"shift\" data-run=\"{history[20].RunId}\""), "the trend of the nightly's target marks the shift");
            Assert.That(html, Does.Contain("xen 4.17.5 → 4.20.1"));
            Assert.That(html, Does.Contain("id=\"overall\">Overall: <span class=\"verdict fail\">fail</span>"));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }
}
