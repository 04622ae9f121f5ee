using System.Text.Json;
using Farm.Checks;
using Farm.Lab;
using Farm.Reports;
using Farm.Tests.Checks;

namespace Farm.Tests.Reports;

/// <summary>Each guest is its own row group in matrix.md and summary.html, and its own tests in Allure and JUnit.</summary>
public class GuestReportTests
{
    /// <summary>A run whose checks judged the synthesized guest g1 and a refused guest g2, beside the sample run.</summary>
    static RunRecord GuestRun(string dir)
    {
        var commands = GuestEvidence.Good();
        commands["domU:g2:xl.cfg"] = "name = \"g2\"\nkernel = \"/k\"\npci = [ '0000:00:01.0' ]";
        commands["dom0:g2:create:xl create g2.cfg"] = "libxl: error: libxl_create.c:1159:libxl__domain_config_setdefault: Domain 4294967295:passthrough not supported on this platform\nFARM-EXIT 1";
        var checks = CheckRunner.Run(new Target(new EvidenceBundle("t", GuestEvidence.HostConsole, commands)), CheckSuite.All);
        return Runs.Sample(dir) with { RunId = "20261202-000000-xen-guests-abc", Job = "xen-guests", Checks = checks };
    }

    [Test]
    public void MatrixHasOneRowGroupPerGuestBelowTheTargetsOwnRows()
    {
        var md = CheckMatrix.Markdown([Runs.Sample("/x"), GuestRun("/x")]);
        var lines = md.Split('\n');
        Assert.That(lines[2], Does.Contain("xen-guests@qemu-xen (Xen 4.17.7, QEMU 7.2.22)"), "the QEMU version is in the column header");
        int g1 = Array.IndexOf(lines, "| **guest g1** | | |"), g2 = Array.IndexOf(lines, "| **guest g2** | | |");
        Assert.That(g1, Is.GreaterThan(0), md);
        Assert.That(g2, Is.GreaterThan(g1));
        Assert.That(lines[g1 + 1], Is.EqualTo("| `ecam.domu-bridge-at-guest-base` | - | pass |"), "g1's checks under its group; the sample run has no guests");
        Assert.That(lines.Take(g1), Has.None.Contains("domu-bridge-at-guest-base"), "a guest's results are not the target's own");
        Assert.That(lines.Skip(g2).TakeWhile(l => l.StartsWith('|')).Skip(1), Has.All.Contains("| - | fail (expected pass) ["),
            "g2 was refused on a target with an IOMMU: every check fails, footnoted");
        Assert.That(md, Does.Contain("ecam.domu-bridge-at-guest-base (guest g2) on xen-guests@qemu-xen (Xen 4.17.7, QEMU 7.2.22): libxl: error: libxl_create.c:1159"));
    }

    [Test]
    public async Task SummaryHtmlGroupsEachGuestsChecks()
    {
        var dir = Directory.CreateTempSubdirectory("farm-guest-summary-").FullName;
        try
        {
            var store = await RunStores.OpenAsync(Path.Combine(dir, "farm.db"), default);
            var html = await SummaryHtml.RenderAsync("guests", [GuestRun(dir)], store, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow, default);
            Assert.That(html, Does.Contain("<tr class=\"guest\"><th colspan=\"2\">guest g1</th></tr>"));
            Assert.That(html.IndexOf("guest g2</th>", StringComparison.Ordinal), Is.GreaterThan(html.IndexOf("guest g1</th>", StringComparison.Ordinal)));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public async Task AllureAndJUnitKeepEachGuestsResultsApart()
    {
        var dir = Directory.CreateTempSubdirectory("farm-guest-allure-").FullName;
        try
        {
            var run = GuestRun(dir);
            await AllureResults.WriteAsync(run, Path.Combine(dir, "allure-results"), default);
            var results = Directory.GetFiles(Path.Combine(dir, "allure-results"), "*-result.json").Select(f => JsonDocument.Parse(File.ReadAllText(f)).RootElement).ToList();
            var fullNames = results.Select(r => r.GetProperty("fullName").GetString()!).ToList();
            Assert.That(fullNames, Is.Unique, "a guest's check has its own history");
            Assert.That(fullNames, Does.Contain("farm.xen-guests.qemu-xen.guest.g1.ecam.ecam.domu-bridge-at-guest-base")
                .And.Contain("farm.xen-guests.qemu-xen.guest.g2.ecam.ecam.domu-bridge-at-guest-base"));
            var g1 = results.First(r => r.GetProperty("fullName").GetString()!.Contains(".guest.g1.", StringComparison.Ordinal));
            Assert.That(g1.GetProperty("name").GetString(), Does.StartWith("[guest g1] "));
            Assert.That(g1.GetProperty("labels").EnumerateArray().Select(l => (l.GetProperty("name").GetString(), l.GetProperty("value").GetString())),
                Does.Contain(("subSuite", "qemu-xen · guest g1")).And.Contain(("story", "guest g1")));

            var cases = JUnitReport.Render(run).Descendants("testcase").Select(c => (c.Attribute("classname")!.Value, c.Attribute("name")!.Value)).ToList();
            Assert.That(cases, Does.Contain(("guest.g1.check.ecam", "ecam.domu-bridge-at-guest-base")).And.Contain(("guest.g2.check.ecam", "ecam.domu-bridge-at-guest-base")));
            Assert.That(cases, Is.Unique);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public async Task TheRunStoreKeepsOneRowPerGuestResult()
    {
        var dir = Directory.CreateTempSubdirectory("farm-guest-store-").FullName;
        try
        {
            var db = Path.Combine(dir, "farm.db");
            var store = await RunStores.OpenAsync(db, default);
            var run = GuestRun(dir);
            await store.SaveAsync(run, default);
            await using var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={db}");
            await c.OpenAsync();
            await using var q = c.CreateCommand();
            q.CommandText = "SELECT check_id FROM checks WHERE run_id = $id";
            q.Parameters.AddWithValue("$id", run.RunId);
            var ids = new List<string>();
            await using (var r = await q.ExecuteReaderAsync())
                while (await r.ReadAsync()) ids.Add(r.GetString(0));
            Assert.That(ids, Has.Count.EqualTo(run.Checks.Count), "no guest's result is dropped");
            Assert.That(ids, Does.Contain("ecam.domu-bridge-at-guest-base@guest:g1").And.Contain("ecam.domu-bridge-at-guest-base@guest:g2").And.Contain("ecam.host-bridge-registered"));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void RunJsonKeepsTheGuestAndOmitsItForDomZero()
    {
        var json = JsonSerializer.Serialize(GuestRun("/x"), RunJsonSink.Options);
        Assert.That(json, Does.Contain("\"guest\": \"g1\""));
        var back = JsonSerializer.Deserialize<RunRecord>(json, RunJsonSink.Options)!;
        Assert.That(back.Checks.Where(c => c.Guest == "g2").Select(c => c.Key), Has.All.EndsWith("@guest:g2"));
        Assert.That(JsonSerializer.Serialize(Runs.Sample("/x"), RunJsonSink.Options), Does.Not.Contain("\"guest\""), "dom0's results are written as before");
    }
}
