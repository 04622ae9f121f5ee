using Farm.Checks;
using Farm.Lab;
using Farm.Scenarios.Sim;
using Npgsql;

namespace Farm.Scenarios;

/// <summary>
/// The run store's contract, the same fixture on both engines: a SQLite file and a throwaway
/// PostgreSQL cluster (a fresh database per test). Whatever a dashboard, health or the trends
/// read must come back the same from either.
/// </summary>
[TestFixture(DatabaseEngine.Sqlite)]
[TestFixture(DatabaseEngine.Postgres)]
[Category("Database")]
internal class RunStoreScenarios(DatabaseEngine engine)
{
    static readonly DateTimeOffset T0 = new(2026, 11, 25, 1, 2, 3, TimeSpan.Zero);
    PostgresCluster? _pg;
    string _dir = "";
    string _location = "";

    [OneTimeSetUp]
    public async Task StartEngine()
    {
        if (engine == DatabaseEngine.Postgres) _pg = await PostgresCluster.StartAsync(default);
    }

    [OneTimeTearDown]
    public async Task StopEngine()
    {
        if (_pg is not null) await _pg.DisposeAsync();
    }

    [SetUp]
    public async Task FreshStore()
    {
        _dir = ScenarioArtifacts.NewRunDirectory();
        if (_pg is null) { _location = Path.Combine(_dir, "farm.db"); return; }
        var name = $"runs_{Guid.NewGuid():N}";
        await using (var c = new NpgsqlConnection(_pg.ConnectionString))
        {
            await c.OpenAsync();
            await using var cmd = new NpgsqlCommand($"CREATE DATABASE {name}", c);
            await cmd.ExecuteNonQueryAsync();
        }
        _location = new NpgsqlConnectionStringBuilder(_pg.ConnectionString) { Database = name }.ConnectionString;
    }

    static RunRecord Run(string id, Verdict verdict = Verdict.Fail, string board = "qemu-xen", string job = "xen-smoke", int minute = 0, double boot = 4.2) => new(
        id, job, board, verdict, T0.AddMinutes(minute), TimeSpan.FromSeconds(6.5),
        [
            new StageRecord("power-on", StageStatus.Passed, T0, TimeSpan.FromSeconds(0.2), TimeSpan.FromSeconds(30)),
            new StageRecord("dom0-prompt", StageStatus.Failed, T0.AddSeconds(1), TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(300), "check", "oops"),
        ],
        [
            new CheckResult("ecam.host-bridge", "ecam", CheckVerdict.Pass, CheckVerdict.Pass, "host bridge ECAM registered", ["pci-host-generic: ECAM"], "linux drivers/pci/ecam.c"),
            new CheckResult("bar.relocated", "bar", CheckVerdict.XFail, CheckVerdict.XFail, "no vPCI", ["(XEN) 'quotes' \"and\" <tags>"], "xen/drivers/vpci/header.c"),
        ],
        new Provenance(new Dictionary<string, string> { ["xen"] = "aa" }, new Dictionary<string, string>(), "7.2.22", "4.17.5", "6.1.0"),
        new Dictionary<string, double> { ["boot.dom0-prompt.seconds"] = boot, ["run.seconds"] = 6.5 },
        verdict == Verdict.Pass ? null : "check", verdict == Verdict.Pass ? null : "oops", "/runs/" + id);

    [Test]
    public async Task AStartedRunIsReplacedByItsOutcomeWithEveryField()
    {
        var store = await RunStores.OpenAsync(_location, default);
        var final = Run("r1");
        await store.StartedAsync(final with { Verdict = Verdict.Incomplete, Stages = [], Checks = [], Message = "run did not finish", State = RunState.Running }, default);
        Assert.That((await store.GetAsync("r1", default))!.Verdict, Is.EqualTo(Verdict.Incomplete));
        await store.FinishedAsync(final, default);
        var back = (await store.GetAsync("r1", default))!;
        Assert.That(back.Verdict, Is.EqualTo(Verdict.Fail));
        Assert.That(back.Stages, Is.EqualTo(final.Stages));
        Assert.That(back.Checks.Select(c => (c.Id, c.Verdict, c.Evidence.Single())), Is.EqualTo(final.Checks.Select(c => (c.Id, c.Verdict, c.Evidence.Single()))));
        Assert.That(back.Metrics, Is.EquivalentTo(final.Metrics));
        Assert.That(await store.GetAsync("nope", default), Is.Null);
    }

    [Test]
    public async Task ReadsAreNewestFirstFilteredAndSurviveReopening()
    {
        var store = await RunStores.OpenAsync(_location, default);
        await store.SaveManyAsync(Enumerable.Range(0, 6).Select(i =>
            Run($"r{i}", i % 2 == 0 ? Verdict.Pass : Verdict.Fail, board: i < 3 ? "qemu-xen" : "qemu-native", minute: i)), default);
        var reopened = await RunStores.OpenAsync(_location, default);
        Assert.That((await reopened.LatestAsync(3, default)).Select(r => r.RunId), Is.EqualTo(new[] { "r5", "r4", "r3" }));
        Assert.That((await reopened.ForBoardAsync("qemu-xen", 10, default)).Select(r => r.RunId), Is.EqualTo(new[] { "r2", "r1", "r0" }));
        Assert.That((await reopened.SearchAsync(null, null, "pass", 10, default)).Select(r => r.RunId), Is.EqualTo(new[] { "r4", "r2", "r0" }));
        Assert.That((await reopened.SearchAsync("qemu-native", "xen-smoke", "fail", 10, default)).Select(r => r.RunId), Is.EqualTo(new[] { "r5", "r3" }));
        Assert.That((await reopened.SearchAsync(null, null, null, 2, default)).Count, Is.EqualTo(2));
        Assert.That(await reopened.CountByVerdictAsync(default), Is.EquivalentTo(new Dictionary<string, long> { ["pass"] = 3, ["fail"] = 3 }));
    }

    [Test]
    public async Task TrendsReadOneMetricOldestFirstFromVerdictsAboutTheSystemOnly()
    {
        var store = await RunStores.OpenAsync(_location, default);
        await store.SaveManyAsync([Run("a", Verdict.Pass, minute: 2, boot: 4.25), Run("b", Verdict.Fail, minute: 1, boot: 1.0 / 3), Run("c", Verdict.Incomplete, minute: 3, boot: 99)], default);
        var points = await store.MetricHistoryAsync("boot.dom0-prompt.seconds", T0, default);
        Assert.That(points.Select(p => (p.RunId, p.Value)), Is.EqualTo(new[] { ("b", 1.0 / 3), ("a", 4.25) }), "an incomplete run's timing is the lab's; doubles round-trip exactly");
        Assert.That(points[0].Start, Is.EqualTo(T0.AddMinutes(1)));
        Assert.That(points[0].XenVersion, Is.EqualTo("4.17.5"));
        Assert.That(await store.MetricHistoryAsync("boot.dom0-prompt.seconds", T0.AddMinutes(2), default), Has.Count.EqualTo(1), "since");
        Assert.That(await store.MetricNamesAsync(default), Is.EqualTo(new[] { "boot.dom0-prompt.seconds", "run.seconds" }));
    }

    [Test]
    public async Task ConcurrentWritersFromSeveralOpensLoseNothing()
    {
        var stores = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => RunStores.OpenAsync(_location, default)));
        await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Task.Run(() => stores[i % 4].FinishedAsync(Run($"w{i}", Verdict.Pass, minute: i), default))));
        Assert.That((await stores[0].LatestAsync(100, default)).Count, Is.EqualTo(40));
    }
}
