using Farm.Checks;
using Farm.Lab;
using Farm.Tests.Reports;
using Microsoft.Data.Sqlite;

namespace Farm.Tests.Lab;

public class IRunStoreTests
{
    string _dir = "";

    [SetUp]
    public void SetUp() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "farm-store-" + Guid.NewGuid().ToString("N")));

    [TearDown]
    public void TearDown()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    string Db => Path.Combine(_dir, "farm.db");

    [Test]
    public async Task StartedRowIsIncompleteThenReplacedByTheOutcome()
    {
        var store = await RunStores.OpenAsync(Db, CancellationToken.None);
        var final = Runs.Sample(_dir);
        await store.StartedAsync(final with { Verdict = Verdict.Incomplete, Stages = [], Checks = [], Message = "run did not finish" }, CancellationToken.None);
        Assert.That((await store.GetAsync(final.RunId, CancellationToken.None))!.Verdict, Is.EqualTo(Verdict.Incomplete));

        await store.FinishedAsync(final, CancellationToken.None);
        var back = await store.GetAsync(final.RunId, CancellationToken.None);
        Assert.That(back!.Verdict, Is.EqualTo(Verdict.Fail));
        Assert.That(back.Stages, Is.EqualTo(final.Stages));
        Assert.That(Scalar("SELECT COUNT(*) FROM runs"), Is.EqualTo(1));
        Assert.That(Scalar("SELECT COUNT(*) FROM stages"), Is.EqualTo(4));
        Assert.That(Scalar("SELECT COUNT(*) FROM checks WHERE verdict = 'xfail'"), Is.EqualTo(1));
        Assert.That(Scalar("SELECT value FROM metrics WHERE name = 'boot.dom0-prompt.seconds'"), Is.EqualTo(4.2));
    }

    [Test]
    public async Task LatestIsNewestFirstAndSurvivesReopening()
    {
        var store = await RunStores.OpenAsync(Db, CancellationToken.None);
        for (int i = 0; i < 5; i++)
            await store.FinishedAsync(Runs.Sample(_dir, Verdict.Pass, $"run-{i}", new DateTimeOffset(2026, 11, 25, 0, i, 0, TimeSpan.Zero)), CancellationToken.None);
        var reopened = await RunStores.OpenAsync(Db, CancellationToken.None);
        var latest = await reopened.LatestAsync(3, CancellationToken.None);
        Assert.That(latest.Select(r => r.RunId), Is.EqualTo(new[] { "run-4", "run-3", "run-2" }));
        Assert.That(Scalar("PRAGMA user_version"), Is.EqualTo(3));
        Assert.That(Scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'metrics_trend'"), Is.EqualTo(1), "v2: the trend index");
    }

    [Test]
    public async Task ConcurrentWritersLoseNothing()
    {
        var store = await RunStores.OpenAsync(Db, CancellationToken.None);
        await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Task.Run(() => store.FinishedAsync(Runs.Sample(_dir, Verdict.Pass, $"run-{i}"), CancellationToken.None))));
        Assert.That(Scalar("SELECT COUNT(*) FROM runs"), Is.EqualTo(40));
        Assert.That(Scalar("SELECT COUNT(*) FROM checks"), Is.EqualTo(160));
    }

    [Test]
    public async Task ADatabaseFromANewerFarmIsRefusedNotDamaged()
    {
        await using (var c = new SqliteConnection($"Data Source={Db}"))
        {
            await c.OpenAsync();
            await using var cmd = c.CreateCommand();
            cmd.CommandText = "PRAGMA user_version = 99";
            await cmd.ExecuteNonQueryAsync();
        }
        var e = await Assert.ThrowsAsync<ConfigurationException>(() => RunStores.OpenAsync(Db, CancellationToken.None));
        Assert.That(e!.Message, Does.Contain("schema version 99"));
        Assert.That(Scalar("PRAGMA user_version"), Is.EqualTo(99));
    }

    [Test]
    public async Task AFileThatIsNotADatabaseIsAConfigurationErrorNamingIt()
    {
        await File.WriteAllTextAsync(Db, "this is not sqlite, it is a console log that landed in the wrong place\n" + new string('x', 4096));
        var e = await Assert.ThrowsAsync<ConfigurationException>(() => RunStores.OpenAsync(Db, CancellationToken.None));
        Assert.That(e!.Message, Does.Contain(Db));
    }

    [Test]
    public async Task TheStateMigrationClassifiesRecordsWrittenBeforeFailureClasses()
    {
        // A v2 store as an older Farm left it: everything the lab did not finish was "infrastructure", told apart only by its message.
        var store = await RunStores.OpenAsync(Db, CancellationToken.None);
        var old = Runs.Sample(_dir) with { Verdict = Verdict.Incomplete, Stages = [], FailureClass = "infrastructure", State = null };
        await store.SaveManyAsync([
            old with { RunId = "cancelled", Message = "run cancelled during stage 'dom0-prompt'" },
            old with { RunId = "timed-out", Message = "stage 'dom0-prompt' timed out after 300s" },
            old with { RunId = "crashed", Message = "stage 'checks' crashed: NullReferenceException: oops" },
            old with { RunId = "pending", Message = "run did not finish" },
            old with { RunId = "lab", Message = "power: PDU did not answer" },
        ], CancellationToken.None);
        SqliteConnection.ClearAllPools();
        Scalar("ALTER TABLE runs DROP COLUMN state");
        Scalar("UPDATE runs SET record_json = json_remove(record_json, '$.state')");
        Scalar("PRAGMA user_version = 2");
        SqliteConnection.ClearAllPools();

        store = await RunStores.OpenAsync(Db, CancellationToken.None);
        async Task<RunRecord> Get(string id) => (await store.GetAsync(id, CancellationToken.None))!;
        Assert.That((await Get("cancelled")).Class, Is.EqualTo(FailureClass.Canceled));
        Assert.That((await Get("timed-out")).Class, Is.EqualTo(FailureClass.Timeout));
        Assert.That(((await Get("crashed")).Class, (await Get("crashed")).Verdict), Is.EqualTo((FailureClass.FarmBug, Verdict.Error)));
        Assert.That(((await Get("pending")).State, (await Get("lab")).State), Is.EqualTo((RunState.Running, RunState.Finished)));
        Assert.That((await Get("lab")).Class, Is.EqualTo(FailureClass.Infrastructure));
        Assert.That(Scalar("SELECT COUNT(*) FROM runs WHERE state = 'running'"), Is.EqualTo(1));
        Assert.That(Scalar("PRAGMA user_version"), Is.EqualTo(3));
    }

    double Scalar(string sql)
    {
        using var c = new SqliteConnection($"Data Source={Db}");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToDouble(cmd.ExecuteScalar());
    }
}
