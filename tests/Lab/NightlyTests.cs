using Farm.Lab;
using Farm.Lab.Leases;
using Microsoft.Extensions.Time.Testing;

namespace Farm.Tests.Lab;

public class NightlyTests
{
    static int _n;

    static RunRecord Record(string job, string board, Verdict v, string? message = null) =>
        new($"run{++_n}", job, board, v, DateTimeOffset.UnixEpoch, TimeSpan.Zero, [], [],
            new Provenance(new Dictionary<string, string>(), new Dictionary<string, string>()), new Dictionary<string, double>(),
            v == Verdict.Incomplete ? "infrastructure" : null, message);

    [Test]
    public async Task IncompleteIsRetriedOnceOnAnotherBoardAndFailIsNot()
    {
        var ran = new List<(string Job, string Board)>();
        Task<RunRecord> Run(string job, string board, CancellationToken _)
        {
            lock (ran) ran.Add((job, board));
            return Task.FromResult(job switch
            {
                "flaky" when board == "rpi4-1" => Record(job, board, Verdict.Incomplete, "power: snmp pdu1 outlet 3 reads back off"),
                "broken-xen" => Record(job, board, Verdict.Fail, "3 checks failed"),
                _ => Record(job, board, Verdict.Pass),
            });
        }
        var targets = await new Nightly(null, "nightly", TimeSpan.FromHours(1)).RunAsync(
            ["flaky", "broken-xen", "fine", "nowhere"], j => j, j => j == "nowhere" ? [] : ["rpi4-1", "rpi4-2"], Run, parallel: 2, default);

        Assert.That(targets.Select(t => (t.Job, t.Board, t.Verdict)), Is.EqualTo(new[]
        {
            ("flaky", "rpi4-2", Verdict.Pass), ("broken-xen", "rpi4-1", Verdict.Fail), ("fine", "rpi4-1", Verdict.Pass), ("nowhere", (string?)null, Verdict.Error),
        }));
        Assert.That(targets[0].Note, Is.EqualTo("retried on rpi4-2 after incomplete on rpi4-1: power: snmp pdu1 outlet 3 reads back off"));
        Assert.That(targets[0].RunIds, Has.Count.EqualTo(2));
        Assert.That(ran.Count(r => r.Job == "broken-xen"), Is.EqualTo(1), "a fail is Xen's verdict: no retry");
        Assert.That(targets[3].Note, Is.EqualTo("no healthy board can run it"));
    }

    [Test]
    public async Task BoardsHeldByADeveloperAreSkippedAndLeasesAreReturned()
    {
        var dir = Directory.CreateTempSubdirectory("farm-nightly-").FullName;
        try
        {
            await using var db = await LabDatabase.OpenAsync($"Data Source={Path.Combine(dir, "lab.db")}", default);
            var leases = new LeaseStore(db, new FakeTimeProvider(DateTimeOffset.UtcNow));
            await leases.AcquireAsync("rpi4-1", "alice", TimeSpan.FromHours(2), LeaseKind.Interactive, "debugging", default);
            var targets = await new Nightly(leases, "nightly", TimeSpan.FromHours(1)).RunAsync(
                ["xen-smoke"], j => j, _ => ["rpi4-1", "rpi4-2"], (j, b, _) => Task.FromResult(Record(j, b, Verdict.Pass)), 1, default);
            Assert.That(targets.Single().Board, Is.EqualTo("rpi4-2"), "alice's board is not touched");
            Assert.That((await leases.ActiveAsync(default)).Select(l => l.Holder), Is.EqualTo(new[] { "alice" }), "the nightly gave its board back");
            Assert.That((await leases.AuditAsync("rpi4-2", default)).Select(e => e.Action), Is.EqualTo(new[] { "acquired", "released" }));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }
}
