using System.Diagnostics;
using System.Text;
using Farm.Lab;
using Farm.Lab.Leases;
using Farm.Lab.Queue;
using Farm.Scenarios.Sim;

namespace Farm.Scenarios;

/// <summary>
/// <c>farm agent</c> processes on real QEMU boards: an agent killed in the middle of a job (its
/// lease lapses, its run stays "did not finish", another agent on another board runs the job), and
/// the lab's PostgreSQL restarted while an agent runs a job (nothing recorded is lost).
/// </summary>
[Category("Qemu")]
[NonParallelizable]
public class AgentScenarios
{
    static string Farm => FarmCli.Path;

    static string Repo(string relative) => Path.Combine(ScenarioArtifacts.RepoRoot, relative);

    string _dir = "";
    string _job = "";
    readonly List<(Process Process, StringBuilder Log)> _agents = [];

    [SetUp]
    public void SetUp()
    {
        _dir = ScenarioArtifacts.NewRunDirectory();
        // Boots to the dom0 prompt on any bookworm Xen board (by tags), so a retry can go elsewhere.
        _job = Path.Combine(_dir, "any-xen-boot.yaml");
        File.WriteAllText(_job, File.ReadAllText(Repo("jobs/xen-boot.yaml"))
            .Replace("board: qemu-xen", "tags: [xen, bookworm]")
            .Replace("artifacts: bookworm", "artifacts: " + ScenarioArtifacts.Directory));
    }

    [TearDown]
    public async Task TearDown()
    {
        foreach (var (p, log) in _agents)
        {
            if (!p.HasExited) { p.Kill(entireProcessTree: true); await p.WaitForExitAsync(); }
            TestContext.Out.WriteLine(log.ToString());
            p.Dispose();
        }
        _agents.Clear();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }

    Process StartAgent(string db, string name, string board, params string[] extra)
    {
        var psi = new ProcessStartInfo(Farm, ["agent", "--name", name, "--boards", board, "--db", db, "--lab", Repo("boards"), "--out", Path.Combine(_dir, name),
            "--heartbeat", "1s", "--lease", "8s", "--stale", "4s", "--job-root", _dir, .. extra]) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        var p = Process.Start(psi)!;
        var log = new StringBuilder();
        p.OutputDataReceived += (_, e) => { lock (log) log.AppendLine($"[{name}] {e.Data}"); };
        p.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine($"[{name}] {e.Data}"); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        _agents.Add((p, log));
        return p;
    }

    /// <summary>Live processes whose command line mentions <paramref name="text"/> (zombies excluded).</summary>
    static List<string> ProcessesMentioning(string text) =>
        Directory.GetDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)).Select(d =>
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(d, "stat"));
                if (stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z')) return null;
                var cmd = File.ReadAllText(Path.Combine(d, "cmdline")).Replace('\0', ' ');
                return cmd.Contains(text, StringComparison.Ordinal) ? cmd : null;
            }
            catch (IOException) { return null; }
            catch (UnauthorizedAccessException) { return null; }
        }).OfType<string>().ToList();

    static async Task<T> WaitForAsync<T>(Func<Task<T?>> probe, TimeSpan limit, string what) where T : class
    {
        var until = DateTime.UtcNow + limit;
        while (DateTime.UtcNow < until)
        {
            if (await probe() is { } found) return found;
            await Task.Delay(250);
        }
        throw new TimeoutException("waited " + limit + " for " + what);
    }

    [Test]
    public async Task AnAgentKilledMidJobLosesItsLeaseAndTheJobRunsElsewhere()
    {
        var db = $"Data Source={Path.Combine(_dir, "lab.db")}";
        await using var lab = await LabDatabase.OpenAsync(db, default);
        var queue = new JobQueue(lab, TimeProvider.System);
        var leases = new LeaseStore(lab, TimeProvider.System);
        var job = await queue.EnqueueAsync(_job, JobQueue.AnyBoard, "nightly", 0, default);

        var a = StartAgent(db, "bench-a", "qemu-xen");
        // Killed once its QEMU is booting Xen: the console transcript has the Xen banner.
        await WaitForAsync(async () => Directory.Exists(Path.Combine(_dir, "bench-a"))
            ? Directory.GetFiles(Path.Combine(_dir, "bench-a"), "console.log", SearchOption.AllDirectories)
                .FirstOrDefault(f => File.ReadAllText(f).Contains("(XEN)", StringComparison.Ordinal)) : null, TimeSpan.FromMinutes(3), "bench-a's board to boot");
        a.Kill(entireProcessTree: false);
        await a.WaitForExitAsync();
        var killedAt = DateTimeOffset.UtcNow;
        Assert.That((await leases.ActiveAsync(default)).Single(l => l.Board == "qemu-xen").Holder, Is.EqualTo("bench-a"), "still held right after the kill");

        // Nobody cleans up: the lease lapses on its own (8 s without a heartbeat).
        await WaitForAsync(async () => (await leases.ActiveAsync(default)).Any(l => l.Board == "qemu-xen") ? null : "free", TimeSpan.FromSeconds(30), "the lease to lapse");
        Assert.That(DateTimeOffset.UtcNow - killedAt, Is.LessThan(TimeSpan.FromSeconds(20)));
        Assert.That(ProcessesMentioning(Path.Combine(_dir, "bench-a")), Is.Empty, "the dead agent's QEMU went with it");

        var b = StartAgent(db, "bench-b", "qemu-xen-snap", "--until-idle");
        await b.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromMinutes(5)).Token);
        var done = await queue.GetAsync(job.Id, default);
        Assert.That((done!.State, done.Verdict, done.RanOn, done.Attempts), Is.EqualTo(("done", "pass", "qemu-xen-snap", 2)));

        // bench-a's run is recorded as started and never finished: incomplete, with nothing lost.
        var storeA = await RunStores.OpenAsync(Path.Combine(_dir, "bench-a", "farm.db"), default);
        var dead = (await storeA.LatestAsync(5, default)).Single();
        Assert.That(dead.Verdict, Is.EqualTo(Verdict.Incomplete));
        Assert.That(global::Farm.Jobs.JobRunner.IsPending(dead), Is.True);
        Assert.That(File.ReadAllText(Path.Combine(dead.RunDirectory!, "qemu-xen", "console.log")), Does.Contain("(XEN)"), "its transcript so far is kept");
        var audit = await leases.AuditAsync("qemu-xen", default);
        Assert.That(audit.Select(e => (e.Holder, e.Action)), Does.Contain(("bench-a", "acquired")));
    }

    [Test]
    public async Task ThePostgresRestartedMidRunLosesNoRecord()
    {
        await using var pg = await PostgresCluster.StartAsync(default);
        await using var lab = await LabDatabase.OpenAsync(pg.ConnectionString, default);
        var queue = new JobQueue(lab, TimeProvider.System);
        var job = await queue.EnqueueAsync(_job, "qemu-xen", "nightly", 0, default);

        var agent = StartAgent(pg.ConnectionString, "bench-a", "qemu-xen", "--until-idle");
        await WaitForAsync(async () => (await queue.GetAsync(job.Id, default)) is { State: "running" } j ? j : null, TimeSpan.FromMinutes(2), "the job to start");
        await pg.RestartAsync(default);                                   // immediate: connections drop mid-heartbeat
        await agent.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromMinutes(5)).Token);

        var done = await queue.GetAsync(job.Id, default);
        Assert.That((done!.State, done.Verdict, done.Attempts), Is.EqualTo(("done", "pass", 1)), "the run finished and its outcome reached the database");
        // A PostgreSQL lab keeps the runs too: the agent wrote its run there, through the restart, and nothing to its own disk's store.
        var store = await RunStores.OpenAsync(pg.ConnectionString, default);
        var run = await store.GetAsync(done.RunId!, default);
        Assert.That(run!.Verdict, Is.EqualTo(Verdict.Pass));
        Assert.That(run.State, Is.EqualTo(RunState.Finished));
        Assert.That(File.Exists(Path.Combine(run.RunDirectory!, "run.json")), Is.True);
        Assert.That(File.Exists(Path.Combine(_dir, "bench-a", "farm.db")), Is.False, "no run store of its own beside a shared one");

        // The controller on the same database lists the agent's run on its dashboard, from the shared store.
        var tokens = Path.Combine(_dir, "tokens.yaml");
        var token = global::Farm.Web.ApiTokens.Issue(tokens, "viewer", global::Farm.Web.ApiRole.Viewer);
        var port = Ser2NetServer.FreePort();
        var serve = Process.Start(new ProcessStartInfo(Farm, ["serve", "--listen", $"127.0.0.1:{port}", "--tokens", tokens, "--out", Path.Combine(_dir, "controller"),
            "--lab", Repo("boards"), "--db", pg.ConnectionString]) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true })!;
        var serveLog = new StringBuilder();
        serve.OutputDataReceived += (_, e) => { lock (serveLog) serveLog.AppendLine($"[serve] {e.Data}"); };
        serve.ErrorDataReceived += (_, e) => { lock (serveLog) serveLog.AppendLine($"[serve] {e.Data}"); };
        serve.BeginOutputReadLine();
        serve.BeginErrorReadLine();
        _agents.Add((serve, serveLog));
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        await WaitForAsync(async () =>
        {
            try { return (await http.GetAsync("/healthz")).IsSuccessStatusCode ? "up" : null; }
            catch (HttpRequestException) { return serve.HasExited ? "exited" : null; }
        }, TimeSpan.FromSeconds(60), "farm serve to answer /healthz");
        using var api = new HttpRequestMessage(HttpMethod.Get, "/api/runs?latest=5") { Headers = { Authorization = new("Bearer", token) } };
        Assert.That(await (await http.SendAsync(api)).Content.ReadAsStringAsync(), Does.Contain(done.RunId!), "the API reads the shared store");
        // The dashboard, signed in as a person would (the sign-in form, then its cookie).
        var signedIn = await http.PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = token, ["next"] = "/runs" }));
        var page = await signedIn.Content.ReadAsStringAsync();
        Assert.That(page, Does.Contain(done.RunId!), "the dashboard's runs page lists the agent's run from the shared store");
    }

    [Test]
    public async Task HostileQueuedPathsAreFailedByARealAgentThatKeepsServing()
    {
        // What a developer token could queue (issue 15): a device, a secret, a symlink out of the job root.
        var db = $"Data Source={Path.Combine(_dir, "lab.db")}";
        await using var lab = await LabDatabase.OpenAsync(db, default);
        var queue = new JobQueue(lab, TimeProvider.System);
        File.CreateSymbolicLink(Path.Combine(_dir, "zero.yaml"), "/dev/zero");
        File.WriteAllText(Path.Combine(_dir, "notes.yaml"), "password=hunter2\nsecond line\n");
        string[] paths = ["/dev/zero", "/etc/passwd", Path.Combine(_dir, "zero.yaml"), Path.Combine(_dir, "notes.yaml")];
        var ids = new List<string>();
        foreach (var p in paths) ids.Add((await queue.EnqueueAsync(p, "qemu-xen", "mallory", 0, default)).Id);

        var agent = StartAgent(db, "bench-a", "qemu-xen", "--until-idle");
        await agent.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromMinutes(2)).Token);
        Assert.That(agent.ExitCode, Is.Zero, "the agent survived every path");
        for (int i = 0; i < paths.Length; i++)
        {
            var done = await queue.GetAsync(ids[i], default);
            Assert.That((done!.State, done.Verdict), Is.EqualTo(("done", "error")), paths[i]);
            Assert.That(done.Note, Does.Not.Contain("hunter2").And.Not.Contain("root:").And.Not.Contain("\n"), paths[i]);
            TestContext.Out.WriteLine($"{paths[i]}: {done.Note}");
        }
    }
}
