using System.Xml.Linq;
using Farm.Reports;

namespace Farm.Scenarios;

/// <summary>What must survive every run, whatever happened: the run directory, run.json, junit.xml and the store row.</summary>
static class Recorded
{
    public static async Task AssertAsync(RunRecord r, string outDirectory)
    {
        Assert.That(Directory.Exists(r.RunDirectory), "run directory kept");
        var json = await RunJsonSink.ReadAsync(Path.Combine(r.RunDirectory!, RunJsonSink.FileName), CancellationToken.None);
        Assert.That(json.Verdict, Is.EqualTo(r.Verdict), "run.json holds the final verdict");
        Assert.That(json.Stages.Select(s => (s.Name, s.Status)), Is.EqualTo(r.Stages.Select(s => (s.Name, s.Status))));
        var junit = XDocument.Load(Path.Combine(r.RunDirectory!, JUnitReport.FileName));
        Assert.That(junit.Descendants("property").Single(p => (string?)p.Attribute("name") == "verdict").Attribute("value")!.Value,
            Is.EqualTo(r.Verdict.ToWire()));
        Assert.That(Directory.GetFiles(Path.Combine(r.RunDirectory!, AllureResults.DirectoryName), "*-result.json"), Is.Not.Empty);
        var store = await RunSinks.OpenStoreAsync(outDirectory, null, CancellationToken.None);
        var row = await store.GetAsync(r.RunId, CancellationToken.None);
        Assert.That(row, Is.Not.Null, "store row exists");
        Assert.That(row!.Verdict, Is.EqualTo(r.Verdict), "store row holds the final verdict");
        Assert.That(row.Message, Is.EqualTo(r.Message));
    }
}
