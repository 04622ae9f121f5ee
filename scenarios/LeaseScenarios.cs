using System.Diagnostics;
using Farm.Lab;
using Farm.Lab.Leases;
using Farm.Scenarios.Sim;

namespace Farm.Scenarios;

/// <summary>Leases on both engines under real contention: a real PostgreSQL server and the embedded SQLite file.</summary>
[Category("Database")]
internal class LeaseScenarios
{
    static PostgresCluster? _postgres;

    [OneTimeSetUp]
    public async Task StartPostgres() => _postgres = await PostgresCluster.StartAsync(CancellationToken.None);

    [OneTimeTearDown]
    public async Task StopPostgres()
    {
        if (_postgres is not null) await _postgres.DisposeAsync();
    }

    static async Task<LabDatabase> OpenAsync(DatabaseEngine engine) => await LabDatabase.OpenAsync(engine == DatabaseEngine.Postgres
        ? _postgres!.ConnectionString
        : $"Data Source={Path.Combine(ScenarioArtifacts.NewRunDirectory(), "lab.db")}", CancellationToken.None);

    /// <summary>
    /// 1,000 parties ask for 20 boards at the same instant (50 per board) through 7 lease stores (7
    /// controllers, as far as the database can tell: each coalesces its own callers, so the database
    /// arbitrates 7 concurrent upserts per board): each board is granted to exactly one party, the
    /// database holds exactly those 20 leases, and the audit has 20 grants.
    /// </summary>
    [TestCase(DatabaseEngine.Sqlite)]
    [TestCase(DatabaseEngine.Postgres)]
    public async Task ThousandConcurrentAcquisitionsNeverDoubleBook(DatabaseEngine engine)
    {
        const int Attempts = 1000, Boards = 20;
        await using var db = await OpenAsync(engine);
        var stores = Enumerable.Range(0, 7).Select(_ => new LeaseStore(db, TimeProvider.System)).ToArray();
        var leases = stores[0];
        var prefix = $"c{Guid.NewGuid():N}"[..9] + "-";
        // A serving controller has its connection pool open: fill it before timing (PostgreSQL forks a backend per connection).
        await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => Task.Run(() => leases.ActiveAsync(CancellationToken.None))));
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var attempts = Enumerable.Range(0, Attempts).Select(i => Task.Run(async () =>
        {
            await go.Task;
            long t0 = Stopwatch.GetTimestamp();
            var grant = await stores[i % stores.Length].AcquireAsync($"{prefix}board{i % Boards}", $"user{i}", TimeSpan.FromHours(1), LeaseKind.Interactive, null, CancellationToken.None);
            return (grant, latency: Stopwatch.GetElapsedTime(t0));
        })).ToList();
        long start = Stopwatch.GetTimestamp();
        go.SetResult();
        var results = await Task.WhenAll(attempts);
        var wall = Stopwatch.GetElapsedTime(start);

        var granted = results.Where(r => r.grant.Granted).Select(r => r.grant.Current).ToList();
        Assert.That(granted, Has.Count.EqualTo(Boards), "one grant per board");
        Assert.That(granted.Select(l => l.Board).Distinct().Count(), Is.EqualTo(Boards), "no board granted twice");
        var active = (await leases.ActiveAsync(CancellationToken.None)).Where(l => l.Board.StartsWith(prefix)).ToList();
        Assert.That(active.Select(l => (l.Board, l.Holder)), Is.EquivalentTo(granted.Select(l => (l.Board, l.Holder))));
        foreach (var refused in results.Where(r => !r.grant.Granted))
            Assert.That(refused.grant.Current.Holder, Is.EqualTo(granted.Single(g => g.Board == refused.grant.Current.Board).Holder), "a refusal names the real holder");
        var audit = (await leases.AuditAsync(null, CancellationToken.None)).Where(e => e.Board.StartsWith(prefix)).ToList();
        Assert.That(audit.Count(e => e.Action == "acquired"), Is.EqualTo(Boards));

        var latencies = results.Select(r => r.latency.TotalMilliseconds).Order().ToList();
        var p99 = latencies[(int)Math.Ceiling(latencies.Count * 0.99) - 1];
        TestContext.Out.WriteLine($"leases[{engine}]: {Attempts} concurrent attempts on {Boards} boards in {wall.TotalSeconds:0.000}s = {Attempts / wall.TotalSeconds:0} acquisitions/s; p50 {latencies[latencies.Count / 2]:0.0} ms, p99 {p99:0.0} ms");
    }

    [Test]
    public async Task LeasesSurviveAPostgresRestart()
    {
        await using var db = await OpenAsync(DatabaseEngine.Postgres);
        var leases = new LeaseStore(db, TimeProvider.System);
        var board = $"restart-{Guid.NewGuid():N}"[..16];
        Assert.That((await leases.AcquireAsync(board, "alice", TimeSpan.FromHours(1), LeaseKind.Interactive, null, default)).Granted, Is.True);
        await _postgres!.RestartAsync(default);   // an immediate stop: a crash of the database server; pooled connections are now dead
        Assert.That((await leases.AcquireAsync(board, "bob", TimeSpan.FromHours(1), LeaseKind.Interactive, null, default)).Granted, Is.False,
            "alice's committed lease survived the crash");
    }

    /// <summary>
    /// The lease audit and operators' board decisions come back in the order they were written on both engines,
    /// though the second controller's clock is a minute behind and PostgreSQL's sort keeps no order among ties.
    /// </summary>
    [TestCase(DatabaseEngine.Sqlite)]
    [TestCase(DatabaseEngine.Postgres)]
    public async Task AuditsAreInWrittenOrderWhenAControllersClockIsBehind(DatabaseEngine engine)
    {
        await using var db = await OpenAsync(engine);
        var now = DateTimeOffset.UtcNow;
        var ahead = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(now);
        var behind = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(now.AddMinutes(-1));
        var board = $"w{Guid.NewGuid():N}"[..9];
        var (first, second) = (new LeaseStore(db, ahead), new LeaseStore(db, behind));
        await first.AcquireAsync(board, "alice", TimeSpan.FromHours(1), LeaseKind.Interactive, null, default);
        await first.ReleaseAsync(board, "alice", default);
        await second.AcquireAsync(board, "bob", TimeSpan.FromHours(1), LeaseKind.Interactive, null, default);
        Assert.That((await first.AuditAsync(board, default)).Select(e => (e.Holder, e.Action)),
            Is.EqualTo(new[] { ("alice", "acquired"), ("alice", "released"), ("bob", "acquired") }));

        var (aheadEvents, behindEvents) = (new Farm.Lab.Health.BoardEventStore(db, ahead), new Farm.Lab.Health.BoardEventStore(db, behind));
        for (int i = 0; i < 20; i++)
            await (i % 2 == 0 ? aheadEvents : behindEvents).RecordAsync(board, i % 2 == 0 ? "quarantine" : "return", "ops", $"#{i}", default);
        var events = (await aheadEvents.AllAsync(default)).Where(e => e.Board == board).ToList();
        Assert.That(events.Select(e => e.Reason), Is.EqualTo(Enumerable.Range(0, 20).Select(i => $"#{i}")));
        Assert.That(Farm.Lab.Health.BoardHealthPolicy.Evaluate(board, [], events).Health, Is.EqualTo(Farm.Lab.Scheduling.BoardHealth.Healthy), "the last decision was a return");
    }
}
