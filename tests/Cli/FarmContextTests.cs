using Farm.Cli;
using Farm.Lab;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Farm.Tests.Cli;

/// <summary>A command takes its clock and its logs from the context FarmApp gives it, nowhere else.</summary>
public class FarmContextTests
{
    string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("farm-context-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public async Task ACommandRunsOnTheContextsClock()
    {
        var bench = Path.Combine(_dir, "bench.json");
        await File.WriteAllTextAsync(bench, """{"readyRatio": 11.2}""");
        var time = new FakeTimeProvider(new DateTimeOffset(2031, 5, 6, 7, 8, 9, TimeSpan.Zero));
        using var log = new Farm.Tests.Web.MemoryLog();
        bool made = false;
        using var farm = new FarmContext(time, () => { made = true; return LoggerFactory.Create(b => b.AddProvider(log)); });

        Assert.That(await FarmApp.RunAsync(["import-metrics", bench, "--out", _dir], farm), Is.EqualTo(0));

        var run = (await (await RunStores.OpenAsync(Path.Combine(_dir, "farm.db"), default)).LatestAsync(1, default)).Single();
        Assert.That(run.RunId, Does.StartWith("20310506-070809-bench-"));
        Assert.That(run.Start, Is.EqualTo(time.GetUtcNow()));
        Assert.That(made, Is.False, "a command that logs nothing never starts the logger");
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }
}
