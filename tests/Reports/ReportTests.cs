using System.Text.Json;
using System.Xml.Linq;
using Farm.Checks;
using Farm.Reports;

namespace Farm.Tests.Reports;

public class ReportTests
{
    string _dir = "";

    [SetUp]
    public void SetUp() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "farm-report-" + Guid.NewGuid().ToString("N")));

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public async Task RunJsonRoundTripsWithWireNamesAndLeavesNoTemporaryFile()
    {
        var run = Runs.Sample(_dir);
        await RunJsonSink.WriteAsync(run, CancellationToken.None);

        var text = await File.ReadAllTextAsync(Path.Combine(_dir, "run.json"));
        using var doc = JsonDocument.Parse(text);
        Assert.That(doc.RootElement.GetProperty("verdict").GetString(), Is.EqualTo("fail"));
        Assert.That(doc.RootElement.GetProperty("stages")[1].GetProperty("status").GetString(), Is.EqualTo("incomplete"));
        Assert.That(doc.RootElement.GetProperty("stages")[1].GetProperty("timeout").GetDouble(), Is.EqualTo(4));
        Assert.That(doc.RootElement.GetProperty("checks")[1].GetProperty("verdict").GetString(), Is.EqualTo("xfail"));
        Assert.That(doc.RootElement.GetProperty("checks")[3].GetProperty("expected").GetString(), Is.EqualTo("n/a"));
        Assert.That(doc.RootElement.GetProperty("provenance").GetProperty("xenVersion").GetString(), Is.EqualTo("4.17.7"));

        var back = await RunJsonSink.ReadAsync(Path.Combine(_dir, "run.json"), CancellationToken.None);
        Assert.That(back.Stages, Is.EqualTo(run.Stages));
        Assert.That(back.Checks.Select(c => (c.Id, c.Verdict, c.Expected)), Is.EqualTo(run.Checks.Select(c => (c.Id, c.Verdict, c.Expected))));
        Assert.That(back.Message, Is.EqualTo(run.Message));
        Assert.That(Directory.GetFiles(_dir, "*.tmp"), Is.Empty);
    }

    [Test]
    public async Task GarbledRunJsonIsAConfigurationErrorNamingTheFile()
    {
        var path = Path.Combine(_dir, "run.json");
        await File.WriteAllTextAsync(path, "{\"runId\": \"x\", \"verdict\": ");
        var e = await Assert.ThrowsAsync<ConfigurationException>(() => RunJsonSink.ReadAsync(path, CancellationToken.None));
        Assert.That(e!.Message, Does.StartWith(path));
    }

    [Test]
    public void JUnitMapsFailuresErrorsAndSkipsAndEscapesConsoleText()
    {
        var xml = JUnitReport.ToXml(JUnitReport.Render(Runs.Sample(_dir)));
        Assert.That(xml, Does.StartWith("<?xml"));
        var suite = XDocument.Parse(xml).Root!.Element("testsuite")!;
        Assert.That((int)suite.Attribute("tests")!, Is.EqualTo(8));
        Assert.That((int)suite.Attribute("failures")!, Is.EqualTo(2), "failed stage + failed check");
        Assert.That((int)suite.Attribute("errors")!, Is.EqualTo(1), "the incomplete stage is an error, not a failure");
        Assert.That((int)suite.Attribute("skipped")!, Is.EqualTo(3), "skipped stage, xfail and n/a checks");
        var xfail = suite.Elements("testcase").Single(c => (string?)c.Attribute("name") == "bar.relocated");
        Assert.That(xfail.Element("skipped")!.Attribute("message")!.Value, Does.StartWith("xfail:"));
        Assert.That(xfail.Element("system-out")!.Value, Does.Contain("<script>alert(1)</script>"), "text survives escaping intact");
    }

    [Test]
    public void JUnitForARunThatNeverStartedAStageHasOneErrorCase()
    {
        var run = Runs.Sample(_dir, Verdict.Error) with { Stages = [], Checks = [], Message = "job file not found" };
        var suite = JUnitReport.Render(run).Root!.Element("testsuite")!;
        Assert.That((int)suite.Attribute("errors")!, Is.EqualTo(1));
        Assert.That(suite.Element("testcase")!.Element("error")!.Attribute("message")!.Value, Is.EqualTo("job file not found"));
    }

    [Test]
    public async Task AllureResultsFollowTheDocumentedFormatWithAttachmentsThatExist()
    {
        var board = Path.Combine(_dir, "qemu-xen");
        Directory.CreateDirectory(Path.Combine(board, "evidence"));
        await File.WriteAllTextAsync(Path.Combine(board, "console.log"), "[2026-11-25T01:02:03.000Z] (XEN) Xen version 4.17.7\n");
        await File.WriteAllTextAsync(Path.Combine(board, "evidence", "xl-info.txt"), "xen_version : 4.17.7\n");
        var results = Path.Combine(_dir, "allure-results");
        await AllureResults.WriteAsync(Runs.Sample(_dir), results, CancellationToken.None);

        var files = Directory.GetFiles(results, "*-result.json");
        Assert.That(files, Has.Length.EqualTo(5), "the run and its four checks");
        var statuses = new List<string>();
        foreach (var f in files)
        {
            using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(f));
            var r = doc.RootElement;
            Assert.That(Path.GetFileName(f), Is.EqualTo(r.GetProperty("uuid").GetString() + "-result.json"));
            Assert.That(r.GetProperty("historyId").GetString(), Has.Length.EqualTo(32));
            Assert.That(r.GetProperty("stop").GetInt64(), Is.GreaterThanOrEqualTo(r.GetProperty("start").GetInt64()));
            Assert.That(r.GetProperty("labels").EnumerateArray().Select(l => l.GetProperty("name").GetString()), Does.Contain("suite"));
            foreach (var a in r.GetProperty("attachments").EnumerateArray())
                Assert.That(File.Exists(Path.Combine(results, a.GetProperty("source").GetString()!)), a.ToString());
            statuses.Add(r.GetProperty("status").GetString()!);
        }
        Assert.That(statuses, Is.EquivalentTo(new[] { "failed", "passed", "skipped", "failed", "skipped" }));
        var run = files.Select(f => JsonDocument.Parse(File.ReadAllText(f)).RootElement).Single(r => r.TryGetProperty("steps", out _));
        Assert.That(run.GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("status").GetString()),
            Is.EqualTo(new[] { "passed", "broken", "failed", "skipped" }));
        Assert.That(run.GetProperty("attachments").EnumerateArray().Select(a => a.GetProperty("name").GetString()),
            Is.EqualTo(new[] { "console.log", "evidence/xl-info.txt" }));
        Assert.That(File.ReadAllText(Path.Combine(results, "environment.properties")), Does.Contain("xen.version=4.17.7"));
    }
}
