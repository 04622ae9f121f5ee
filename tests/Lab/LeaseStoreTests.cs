using Farm.Lab;
using Farm.Lab.Leases;
using Microsoft.Extensions.Time.Testing;

namespace Farm.Tests.Lab;

/// <summary>Lease rules on the embedded engine with a fake clock: expiry, heartbeat, release, audit.</summary>
public class LeaseStoreTests
{
    string _dir = "";
    FakeTimeProvider _time = null!;
    LabDatabase _db = null!;
    LeaseStore _leases = null!;

    [SetUp]
    public async Task SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("farm-leases-").FullName;
        _time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 9, 0, 0, TimeSpan.Zero));
        _db = await LabDatabase.OpenAsync($"Data Source={Path.Combine(_dir, "lab.db")}", CancellationToken.None);
        _leases = new LeaseStore(_db, _time);
    }

    [TearDown]
    public async Task TearDown()
    {
        await _db.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    static readonly TimeSpan TwoHours = TimeSpan.FromHours(2);

    [Test]
    public async Task ABoardHasOneHolderUntilTheLeaseExpires()
    {
        var alice = await _leases.AcquireAsync("rpi4-1", "alice", TwoHours, LeaseKind.Interactive, "bisecting vPCI", default);
        Assert.That(alice.Granted, Is.True);
        var bob = await _leases.AcquireAsync("rpi4-1", "bob", TwoHours, LeaseKind.Interactive, null, default);
        Assert.That(bob.Granted, Is.False);
        Assert.That(bob.Describe, Is.EqualTo("rpi4-1 is held by alice (interactive: bisecting vPCI) until 2026-12-01 11:00:00Z"));

        _time.Advance(TwoHours);   // alice never renews: at the expiry instant the board is free, with no one cleaning up
        var later = await _leases.AcquireAsync("rpi4-1", "bob", TimeSpan.FromMinutes(30), LeaseKind.Job, "nightly", default);
        Assert.That(later.Granted, Is.True);
        Assert.That(later.Current.Holder, Is.EqualTo("bob"));
    }

    [Test]
    public async Task HeartbeatKeepsTheLeaseAndALostLeaseSaysWhy()
    {
        await _leases.AcquireAsync("b", "agent-1", TimeSpan.FromMinutes(1), LeaseKind.Job, null, default);
        for (int i = 0; i < 10; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(40));
            await _leases.RenewAsync("b", "agent-1", TimeSpan.FromMinutes(1), default);
        }
        Assert.That((await _leases.AcquireAsync("b", "agent-2", TwoHours, LeaseKind.Job, null, default)).Granted, Is.False, "renewed for 400 s past a 60 s lease");

        _time.Advance(TimeSpan.FromMinutes(2));   // agent-1 died: no heartbeat
        Assert.That((await _leases.AcquireAsync("b", "agent-2", TwoHours, LeaseKind.Job, null, default)).Granted, Is.True);
        var e = Assert.ThrowsAsync<InfrastructureException>(() => _leases.RenewAsync("b", "agent-1", TimeSpan.FromMinutes(1), default));
        Assert.That((await e)!.Message, Is.EqualTo("lease of b is held by agent-2 now, not agent-1"));
    }

    [Test]
    public async Task ReleaseFreesTheBoardOnlyForItsHolder()
    {
        await _leases.AcquireAsync("b", "alice", TwoHours, LeaseKind.Interactive, null, default);
        Assert.That(await _leases.ReleaseAsync("b", "bob", default), Is.False);
        Assert.That(await _leases.ReleaseAsync("b", "alice", default), Is.True);
        Assert.That(await _leases.ActiveAsync(default), Is.Empty);
        Assert.That((await _leases.AcquireAsync("b", "bob", TwoHours, LeaseKind.Interactive, null, default)).Granted, Is.True);
    }

    [Test]
    public async Task AuditLogSaysWhoHeldWhatWhen()
    {
        await _leases.AcquireAsync("b", "alice", TimeSpan.FromMinutes(10), LeaseKind.Interactive, "debug", default);
        _time.Advance(TimeSpan.FromMinutes(5));
        await _leases.RenewAsync("b", "alice", TimeSpan.FromMinutes(10), default);
        _time.Advance(TimeSpan.FromMinutes(20));
        var expired = await _leases.ExpireAsync(default);
        Assert.That(expired.Select(l => l.Holder), Is.EqualTo(new[] { "alice" }));
        await _leases.AcquireAsync("b", "nightly", TimeSpan.FromMinutes(10), LeaseKind.Job, null, default);
        await _leases.ReleaseAsync("b", "nightly", default);
        var log = await _leases.AuditAsync("b", default);
        Assert.That(log.Select(e => (e.At.ToString("HH:mm"), e.Holder, e.Action)), Is.EqualTo(new[]
        {
            ("09:00", "alice", "acquired"), ("09:05", "alice", "renewed"), ("09:25", "alice", "expired"),
            ("09:25", "nightly", "acquired"), ("09:25", "nightly", "released"),
        }));
    }

    [Test]
    public async Task TheAuditIsInTheOrderItWasWrittenWhenAControllersClockIsBehind()
    {
        // Two controllers on one lab database; the second's clock is a minute behind the first's.
        var behind = new LeaseStore(_db, new FakeTimeProvider(_time.GetUtcNow().AddMinutes(-1)));
        await _leases.AcquireAsync("b", "alice", TimeSpan.FromMinutes(10), LeaseKind.Interactive, null, default);
        await _leases.ReleaseAsync("b", "alice", default);
        await behind.AcquireAsync("b", "bob", TimeSpan.FromMinutes(10), LeaseKind.Interactive, null, default);
        var log = await _leases.AuditAsync("b", default);
        Assert.That(log.Select(e => (e.Holder, e.Action)), Is.EqualTo(new[] { ("alice", "acquired"), ("alice", "released"), ("bob", "acquired") }));
    }

    [Test]
    public async Task MigrationsRunOnceAcrossOpens()
    {
        await _leases.AcquireAsync("b", "alice", TwoHours, LeaseKind.Interactive, null, default);
        await using var again = await LabDatabase.OpenAsync($"Data Source={Path.Combine(_dir, "lab.db")}", default);
        Assert.That((await new LeaseStore(again, _time).ActiveAsync(default)).Single().Holder, Is.EqualTo("alice"), "reopening keeps the data");
    }
}
