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
        Directory.CreateDirectory(Path.Combine(_dir, "jobs"));
        _job = Path.Combine(_dir, "jobs", "any-xen.yaml");
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
        new(_queue, _leases, new AgentOptions(name, boards.Select(b => _lab.Find(b)!).ToList(), _dir, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(2))
        {
            Jobs = new JobRoots([Path.Combine(_dir, "jobs")]),
        }, run, _time);

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

    [Test]
    public async Task AQueuedPathOutsideTheJobRootsOrNotARegularSmallFileIsRefusedWithoutQuotingIt()
    {
        var jobs = Path.Combine(_dir, "jobs");
        File.CreateSymbolicLink(Path.Combine(jobs, "passwd.yaml"), "/etc/passwd");
        File.CreateSymbolicLink(Path.Combine(jobs, "zero.yaml"), "/dev/zero");
        Directory.CreateDirectory(Path.Combine(jobs, "dir.yaml"));
        File.WriteAllText(Path.Combine(jobs, "big.yaml"), new string('#', JobRoots.MaxBytes + 1));
        File.WriteAllText(Path.Combine(jobs, "secret.yaml"), "s3cret-first-line\ns3cret-second-line\n");
        File.WriteAllText(Path.Combine(_dir, "outside.yaml"), File.ReadAllText(_job));
        File.WriteAllText(Path.Combine(jobs, "deep.yaml"), "name: x\nmetadata: " + new string('[', 200_000) + new string(']', 200_000));
        string[] paths = ["/dev/zero", "/etc/passwd", "/etc/shadow", Path.Combine(jobs, "passwd.yaml"), Path.Combine(jobs, "zero.yaml"), Path.Combine(jobs, "dir.yaml"),
            Path.Combine(jobs, "big.yaml"), Path.Combine(jobs, "secret.yaml"), Path.Combine(_dir, "outside.yaml"), Path.Combine(jobs, "..", "outside.yaml"), "/proc/self/environ", Path.Combine(jobs, "deep.yaml")];
        var ids = new List<string>();
        foreach (var p in paths) ids.Add((await _queue.EnqueueAsync(p, "qemu-xen", "mallory", 0, default)).Id);
        var agent = NewAgent("bench-a", ["qemu-xen"], (r, _) => throw new AssertionException($"must not run {r.JobName}"));
        for (int i = 0; i < paths.Length; i++) Assert.That(await agent.RunOneAsync(default), Is.True);

        var passwd = File.ReadAllLines("/etc/passwd")[0];
        for (int i = 0; i < paths.Length; i++)
        {
            var done = await _queue.GetAsync(ids[i], default);
            Assert.That((done!.State, done.Verdict), Is.EqualTo(("done", "error")), paths[i]);
            Assert.That(done.Note, Does.Not.Contain("\n").And.Not.Contain("s3cret").And.Not.Contain(passwd).And.Not.Contain("PATH="), paths[i]);
            TestContext.Out.WriteLine($"{paths[i]}: {done.Note}");
        }
    }

    [Test]
    public async Task AJobWhoseAgentDiedWhileLoadingItIsFailedNotRetried()
    {
        // An agent claims a job and dies before it has loaded the file (what /dev/zero did): no LoadedAsync.
        var queued = await _queue.EnqueueAsync(_job, JobQueue.AnyBoard, "mallory", 0, default);
        Assert.That(await _queue.ClaimAsync("bench-a", ["*"], default), Is.Not.Null);
        _time.Advance(TimeSpan.FromSeconds(31));
        Assert.That(await _queue.ReapAsync(TimeSpan.FromSeconds(30), default), Is.EqualTo(1));
        var dead = await _queue.GetAsync(queued.Id, default);
        Assert.That((dead!.State, dead.Verdict), Is.EqualTo(("done", "error")), "another agent would die on it too");
        Assert.That(dead.Note, Does.Contain("while loading the job file"));

        // Once loaded, a silent agent is the lab's fault: queued again as before.
        var other = await _queue.EnqueueAsync(_job, JobQueue.AnyBoard, "dev", 0, default);
        Assert.That(await _queue.ClaimAsync("bench-a", ["*"], default), Is.Not.Null);
        Assert.That(await _queue.LoadedAsync(other.Id, "bench-a", default), Is.True);
        _time.Advance(TimeSpan.FromSeconds(31));
        await _queue.ReapAsync(TimeSpan.FromSeconds(30), default);
        Assert.That((await _queue.GetAsync(other.Id, default))!.State, Is.EqualTo("queued"));
    }

    [Test]
    public async Task ACanceledJobStopsItsRunAtTheNextHeartbeat()
    {
        var queued = await _queue.EnqueueAsync(_job, "qemu-xen", "dev", 0, default);
        var started = new TaskCompletionSource();
        var agent = NewAgent("bench-a", ["qemu-xen"], async (r, ct) =>
        {
            started.SetResult();
            try { await Task.Delay(Timeout.Infinite, ct); }
            catch (OperationCanceledException) { }
            return Record(r, Verdict.Incomplete);
        });
        var running = agent.RunOneAsync(default);
        await started.Task;
        Assert.That(await _queue.CancelAsync(queued.Id, "dev", admin: false, default), Is.EqualTo(JobQueue.CancelOutcome.Canceled));
        for (int i = 0; i < 500 && !running.IsCompleted; i++) { _time.Advance(TimeSpan.FromSeconds(10)); await Task.Delay(20); }
        Assert.That(await running, Is.True);
        var job = await _queue.GetAsync(queued.Id, default);
        Assert.That((job!.State, job.Note), Is.EqualTo(("canceled", "canceled by dev")), "the run's end does not undo the cancel");
        Assert.That(await _leases.ActiveAsync(default), Is.Empty);
    }
}
