using Farm.Boards.Spec;
using Farm.Checks;
using Farm.Jobs;
using Farm.Lab;
using Farm.Lab.Leases;
using Farm.Lab.Queue;
using Farm.Tests.Spec;
using Microsoft.Extensions.Time.Testing;

namespace Farm.Tests.Lab;

/// <summary>The agent's rules with a fake run and a fake clock: the board is held while it runs, heartbeats keep job and lease alive, an incomplete run moves to another board.</summary>
public class AgentTests
{
    string _dir = "";
    FakeTimeProvider _time = null!;
    LabDatabase _db = null!;
    JobQueue _queue = null!;
    LeaseStore _leases = null!;
    LabSpec _lab = null!;
    string _job = "";

    [SetUp]
    public async Task SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("farm-agent-").FullName;
        _time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 9, 0, 0, TimeSpan.Zero));
        _db = await LabDatabase.OpenAsync($"Data Source={Path.Combine(_dir, "lab.db")}", default);
        _queue = new JobQueue(_db, _time);
        _leases = new LeaseStore(_db, _time);
        _lab = LabFile.Load(Checkout.File("boards"));
        // A job for any bookworm Xen board (by tags), so a retry has somewhere else to go.
        _job = Path.Combine(_dir, "any-xen.yaml");
        await File.WriteAllTextAsync(_job, File.ReadAllText(Checkout.File("jobs/xen-boot.yaml"))
            .Replace("board: qemu-xen", "tags: [xen, bookworm]")
            .Replace("artifacts: bookworm", "artifacts: " + Checkout.File(".cache/artifacts/bookworm")));
    }

    [TearDown]
    public async Task TearDown()
    {
        await _db.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    Agent NewAgent(string name, string[] boards, Func<RunRequest, CancellationToken, Task<RunRecord>> run) =>
        new(_queue, _leases, new AgentOptions(name, boards.Select(b => _lab.Find(b)!).ToList(), _dir, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(2)), run, _time);

    static RunRecord Record(RunRequest r, Verdict v) => new($"run-{r.Board.Name}", r.JobName, r.Board.Name, v, DateTimeOffset.UnixEpoch, TimeSpan.FromSeconds(1), [], Array.Empty<CheckResult>(),
        new Provenance(new Dictionary<string, string>(), new Dictionary<string, string>()), new Dictionary<string, double>(), Message: v == Verdict.Incomplete ? "power-on: PDU did not answer" : null);

    [Test]
    public async Task TheBoardIsHeldAndHeartBeatenWhileTheJobRunsThenReleased()
    {
        var queued = await _queue.EnqueueAsync(_job, JobQueue.AnyBoard, "dev", 0, default);
        var release = new TaskCompletionSource();
        Lease? during = null;
        var agent = NewAgent("bench-a", ["qemu-xen", "qemu-native"], async (r, ct) =>
        {
            during = (await _leases.ActiveAsync(ct)).Single();
            await release.Task;
            return Record(r, Verdict.Pass);
        });
        var running = agent.RunOneAsync(default);
        while (during is null) await Task.Delay(10);
        Assert.That((during.Board, during.Holder, during.Kind), Is.EqualTo(("qemu-xen", "bench-a", LeaseKind.Job)), "qemu-native lacks the xen tag");

        _time.Advance(TimeSpan.FromSeconds(45));           // 4 heartbeats; without them the 60 s lease and 30 s staleness would lapse
        await Task.Delay(200);
        Assert.That(await _queue.ReapAsync(TimeSpan.FromSeconds(30), default), Is.Zero, "a heart-beating job is not reaped");
        _time.Advance(TimeSpan.FromSeconds(40));
        await Task.Delay(200);
        Assert.That((await _leases.ActiveAsync(default)).Single().Holder, Is.EqualTo("bench-a"), "the lease is renewed by the heartbeat");

        release.SetResult();
        Assert.That(await running, Is.True);
        var done = await _queue.GetAsync(queued.Id, default);
        Assert.That((done!.State, done.Verdict, done.RunId, done.RanOn), Is.EqualTo(("done", "pass", "run-qemu-xen", "qemu-xen")));
        Assert.That(await _leases.ActiveAsync(default), Is.Empty, "released after the run");
    }

    [Test]
    public async Task AnIncompleteRunIsQueuedAgainAndRunsOnAnotherBoard()
    {
        var queued = await _queue.EnqueueAsync(_job, JobQueue.AnyBoard, "nightly", 0, default);
        var a = NewAgent("bench-a", ["qemu-xen"], (r, _) => Task.FromResult(Record(r, Verdict.Incomplete)));
        Assert.That(await a.RunOneAsync(default), Is.True);
        var again = await _queue.GetAsync(queued.Id, default);
        Assert.That((again!.State, again.Avoid), Is.EqualTo(("queued", "qemu-xen")));
        Assert.That(again.Note, Does.Contain("incomplete on qemu-xen: power-on: PDU did not answer"));
        Assert.That(await a.RunOneAsync(default), Is.False, "not again on the board it failed on");

        var b = NewAgent("bench-b", ["qemu-native", "qemu-xen-snap"], (r, _) => Task.FromResult(Record(r, Verdict.Pass)));
        Assert.That(await b.RunOneAsync(default), Is.True);
        var done = await _queue.GetAsync(queued.Id, default);
        Assert.That((done!.State, done.Verdict, done.RanOn, done.Attempts), Is.EqualTo(("done", "pass", "qemu-xen-snap", 2)));
    }

    [Test]
    public async Task AHeldBoardSendsTheJobBackUncounted()
    {
        await _leases.AcquireAsync("qemu-xen", "alice", TimeSpan.FromHours(1), LeaseKind.Interactive, "debugging", default);
        var queued = await _queue.EnqueueAsync(_job, "qemu-xen", "nightly", 0, default);
        var a = NewAgent("bench-a", ["qemu-xen"], (r, _) => throw new AssertionException("must not run on a reserved board"));
        Assert.That(await a.RunOneAsync(default), Is.False);
        var back = await _queue.GetAsync(queued.Id, default);
        Assert.That((back!.State, back.Attempts), Is.EqualTo(("queued", 0)));
        Assert.That(back.Note, Does.Contain("alice"));
    }
}
