using Farm.Lab;
using Farm.Lab.Queue;
using Microsoft.Extensions.Time.Testing;

namespace Farm.Tests.Lab;

/// <summary>The controller's queue on the embedded engine with a fake clock: order, claims, heartbeats, a dead agent's job retried once.</summary>
public class JobQueueTests
{
    string _dir = "";
    FakeTimeProvider _time = null!;
    LabDatabase _db = null!;
    JobQueue _queue = null!;

    [SetUp]
    public async Task SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("farm-queue-").FullName;
        _time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 9, 0, 0, TimeSpan.Zero));
        _db = await LabDatabase.OpenAsync($"Data Source={Path.Combine(_dir, "lab.db")}", CancellationToken.None);
        _queue = new JobQueue(_db, _time);
    }

    [TearDown]
    public async Task TearDown()
    {
        await _db.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public async Task AgentsClaimOnlyTheirBoardsHighestPriorityThenOldest()
    {
        var old = await _queue.EnqueueAsync("jobs/xen-smoke.yaml", "rpi4-1", "nightly", 0, default);
        _time.Advance(TimeSpan.FromSeconds(1));
        var urgent = await _queue.EnqueueAsync("jobs/xen-boot.yaml", "rpi4-1", "alice", 10, default);
        var other = await _queue.EnqueueAsync("jobs/xen-boot.yaml", "zcu102-1", "bob", 0, default);
        Assert.That(await _queue.LengthAsync(default), Is.EqualTo(3));

        Assert.That((await _queue.ClaimAsync("bench-a", ["rpi4-1"], default))!.Id, Is.EqualTo(urgent.Id));
        Assert.That((await _queue.ClaimAsync("bench-a", ["rpi4-1"], default))!.Id, Is.EqualTo(old.Id));
        Assert.That(await _queue.ClaimAsync("bench-a", ["rpi4-1"], default), Is.Null, "zcu102-1 is not bench-a's board");
        var mine = await _queue.ClaimAsync("bench-b", ["zcu102-1"], default);
        Assert.That((mine!.Id, mine.State, mine.Agent, mine.Attempts), Is.EqualTo((other.Id, "running", "bench-b", 1)));
        Assert.That(await _queue.LengthAsync(default), Is.Zero);

        Assert.That(await _queue.FinishAsync(other.Id, "bench-b", "run-1", Verdict.Pass, null, default), Is.True);
        Assert.That(await _queue.FinishAsync(other.Id, "bench-b", "run-1", Verdict.Pass, null, default), Is.False, "a job finishes once");
        Assert.That((await _queue.GetAsync(other.Id, default))!.Verdict, Is.EqualTo("pass"));
    }

    [Test]
    public async Task AJobWhoseAgentDiedIsQueuedAgainOnceThenEndsIncomplete()
    {
        var job = await _queue.EnqueueAsync("jobs/xen-smoke.yaml", "rpi4-1", "nightly", 0, default);
        await _queue.ClaimAsync("bench-a", ["rpi4-1"], default);
        await _queue.LoadedAsync(job.Id, "bench-a", default);
        _time.Advance(TimeSpan.FromSeconds(50));
        Assert.That(await _queue.HeartbeatAsync(job.Id, "bench-a", "run-a", default), Is.True);
        _time.Advance(TimeSpan.FromSeconds(50));
        Assert.That(await _queue.ReapAsync(TimeSpan.FromSeconds(60), default), Is.Zero, "it heart-beat 50 s ago");

        _time.Advance(TimeSpan.FromSeconds(20));                 // bench-a was killed: 70 s of silence
        Assert.That(await _queue.ReapAsync(TimeSpan.FromSeconds(60), default), Is.EqualTo(1));
        var again = await _queue.GetAsync(job.Id, default);
        Assert.That((again!.State, again.Agent), Is.EqualTo(("queued", (string?)null)));
        Assert.That(again.Note, Does.Contain("agent bench-a stopped heart-beating"));
        Assert.That(await _queue.HeartbeatAsync(job.Id, "bench-a", null, default), Is.False, "the dead agent's late heartbeat does not take it back");

        var retry = await _queue.ClaimAsync("bench-b", ["rpi4-1"], default);
        Assert.That((retry!.Agent, retry.Attempts), Is.EqualTo(("bench-b", 2)));
        await _queue.LoadedAsync(job.Id, "bench-b", default);
        _time.Advance(TimeSpan.FromMinutes(5));
        await _queue.ReapAsync(TimeSpan.FromSeconds(60), default);
        var last = await _queue.GetAsync(job.Id, default);
        Assert.That((last!.State, last.Verdict), Is.EqualTo(("done", "incomplete")));
        Assert.That(last.Note, Does.Contain("last attempt"));
    }
}
