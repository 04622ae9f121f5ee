using Farm.Cli;
using Farm.Lab;

namespace Farm.Tests.Cli;

/// <summary>ci/bench's JSON becomes a "bench" run in the store, every number a metric named by its path.</summary>
public class ImportMetricsTests
{
    string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("farm-import-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public async Task NumbersBecomeMetricsOfOneBenchRun()
    {
        var consoles = Path.Combine(_dir, "consoles.json");
        await File.WriteAllTextAsync(consoles, """
            {"name": "console-cpu", "consoles": 64, "note": "text is not a metric",
             "farm": {"cpuSeconds": 2.3, "percentPerConsole": 0.34, "consolesWithLoss": 0}}
            """);
        var snapshot = Path.Combine(_dir, "snapshot.json");
        await File.WriteAllTextAsync(snapshot, """{"readyRatio": 11.2}""");
        var code = await FarmApp.RunAsync(["import-metrics", consoles, snapshot, "--out", _dir]);
        Assert.That(code, Is.EqualTo(0));
        var store = await RunStores.OpenAsync(Path.Combine(_dir, "farm.db"), CancellationToken.None);
        var run = (await store.LatestAsync(5, CancellationToken.None)).Single();
        Assert.That(run.Job, Is.EqualTo("bench"));
        Assert.That(run.Verdict, Is.EqualTo(Verdict.Pass));
        Assert.That(run.Metrics, Is.EquivalentTo(new Dictionary<string, double>
        {
            ["console-cpu.consoles"] = 64, ["console-cpu.farm.cpuSeconds"] = 2.3, ["console-cpu.farm.percentPerConsole"] = 0.34,
            ["console-cpu.farm.consolesWithLoss"] = 0, ["snapshot.readyRatio"] = 11.2,
        }));
    }

    [Test]
    public async Task BrokenFileIsAnErrorNamingItAndRecordsNothing()
    {
        var bad = Path.Combine(_dir, "bench.json");
        await File.WriteAllTextAsync(bad, "{\"ratio\": 1.0,");
        var code = await FarmApp.RunAsync(["import-metrics", bad, "--out", _dir]);
        Assert.That(code, Is.EqualTo(Verdict.Error.ExitCode()));
        Assert.That(File.Exists(Path.Combine(_dir, "farm.db")), Is.False, "nothing recorded from a broken file");
    }
}
