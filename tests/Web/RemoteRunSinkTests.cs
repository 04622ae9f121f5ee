using System.Net;
using System.Net.Http.Headers;
using Farm.Checks;
using Farm.Lab;
using Farm.Web;

namespace Farm.Tests.Web;

/// <summary>An agent's run reaching a real controller: the record at start and end, the console as it grows, bad names refused.</summary>
public class RemoteRunSinkTests
{
    /// <summary>The agent's job lease on the board, as Agent takes it after claiming the job.</summary>
    static async Task HoldAsync(LabServer lab, string board, string agent)
    {
        await using var db = await LabDatabase.OpenAsync(lab.LabDatabase, default);
        await new Farm.Lab.Leases.LeaseStore(db, TimeProvider.System).AcquireAsync(board, agent, TimeSpan.FromHours(1), Farm.Lab.Leases.LeaseKind.Job, "queue test", default);
    }

    [Test]
    public async Task TheControllerGetsTheRecordAndTheConsoleAsTheRunGoes()
    {
        await using var lab = await LabServer.StartAsync(("bench-1", ApiRole.Developer), ("vera", ApiRole.Viewer));
        await HoldAsync(lab, "qemu-xen", "bench-1");
        using var controller = new RemoteLab(lab.Url.ToString(), lab.Tokens["bench-1"]);
        var sink = new RemoteRunSink(controller, TimeProvider.System);
        var agentDir = Directory.CreateTempSubdirectory("farm-agent-run-").FullName;
        try
        {
            var pending = new RunRecord("20261201-120000-xen-smoke-a9e171", "xen-smoke", "qemu-xen", Verdict.Incomplete, DateTimeOffset.UtcNow, TimeSpan.Zero, [], Array.Empty<CheckResult>(),
                new Provenance(new Dictionary<string, string>(), new Dictionary<string, string>()), new Dictionary<string, double>(), "infrastructure", Farm.Jobs.JobRunner.PendingMessage,
                Path.Combine(agentDir, "20261201-120000-xen-smoke-a9e171"));
            var local = Path.Combine(pending.RunDirectory!, "qemu-xen", "console.log");
            Directory.CreateDirectory(Path.GetDirectoryName(local)!);
            await File.WriteAllTextAsync(local, "[t] (XEN) Xen version 4.17.5\n");
            await sink.StartedAsync(pending, default);

            var remote = Path.Combine(lab.Directory, pending.RunId, "qemu-xen", "console.log");
            var store = await RunStores.OpenAsync(Path.Combine(lab.Directory, "farm.db"), default);
            var seen = await store.GetAsync(pending.RunId, default);
            Assert.That((seen!.Verdict, Farm.Jobs.JobRunner.IsPending(seen)), Is.EqualTo((Verdict.Incomplete, true)), "the controller knows the run is going");
            Assert.That(seen.RunDirectory, Is.EqualTo(Path.GetFullPath(Path.Combine(lab.Directory, pending.RunId))), "its copy lives under the controller's --out");

            await File.AppendAllTextAsync(local, "[t] dom0 login: root\n");
            for (int i = 0; i < 50 && !(File.Exists(remote) && File.ReadAllText(remote).Contains("dom0 login")); i++) await Task.Delay(100);
            Assert.That(File.ReadAllText(remote), Is.EqualTo("[t] (XEN) Xen version 4.17.5\n[t] dom0 login: root\n"), "the console arrives while the run goes on");

            await File.AppendAllTextAsync(local, "[t] power off\n");
            await sink.FinishedAsync(pending with { Verdict = Verdict.Pass, Message = null, Duration = TimeSpan.FromSeconds(20),
                Stages = [new StageRecord("boot", StageStatus.Passed, pending.Start, TimeSpan.FromSeconds(20), TimeSpan.FromMinutes(5))] }, default);
            Assert.That(await File.ReadAllTextAsync(remote), Is.EqualTo(await File.ReadAllTextAsync(local)), "nothing lost at the end");
            Assert.That((await store.GetAsync(pending.RunId, default))!.Verdict, Is.EqualTo(Verdict.Pass));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(agentDir, recursive: true);
        }
    }

    [Test]
    public async Task PathsAndRolesAreChecked()
    {
        await using var lab = await LabServer.StartAsync(("bench-1", ApiRole.Developer), ("vera", ApiRole.Viewer));
        await HoldAsync(lab, "qemu-xen", "bench-1");
        using var http = new HttpClient { BaseAddress = lab.Url };
        async Task<HttpStatusCode> Post(string who, string path)
        {
            using var req = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent("x") };
            req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", lab.Tokens[who]);
            return (await http.SendAsync(req)).StatusCode;
        }
        const string id = "20261201-120000-xen-smoke-a9e171";
        Assert.That(await Post("bench-1", $"/api/runs/{id}/console?board=qemu-xen&offset=0"), Is.EqualTo(HttpStatusCode.NotFound), "no console before the run's record");
        using (var put = new HttpRequestMessage(HttpMethod.Put, $"/api/runs/{id}"))
        {
            put.Content = new StringContent(System.Text.Json.JsonSerializer.Serialize(new RunRecord(id, "xen-smoke", "qemu-xen", Verdict.Incomplete, DateTimeOffset.UtcNow, TimeSpan.Zero, [],
                Array.Empty<CheckResult>(), new Provenance(new Dictionary<string, string>(), new Dictionary<string, string>()), new Dictionary<string, double>()), Farm.Reports.RunJsonSink.Options),
                System.Text.Encoding.UTF8, "application/json");
            put.Headers.Authorization = new AuthenticationHeaderValue("Bearer", lab.Tokens["bench-1"]);
            Assert.That((await http.SendAsync(put)).StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        }
        Assert.That(await Post("bench-1", $"/api/runs/{id}/console?board=..&offset=0"), Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await Post("bench-1", "/api/runs/..%2F..%2Fetc/console?board=qemu-xen&offset=0"), Is.AnyOf(HttpStatusCode.BadRequest, HttpStatusCode.NotFound));
        Assert.That(await Post("vera", $"/api/runs/{id}/console?board=qemu-xen&offset=0"), Is.EqualTo(HttpStatusCode.Forbidden), "viewers do not write");
        Assert.That(await Post("bench-1", $"/api/runs/{id}/console?board=qemu-xen&offset=5"), Is.EqualTo(HttpStatusCode.Conflict), "a gap is refused with the length the controller has");
        Assert.That(await Post("bench-1", $"/api/runs/{id}/console?board=qemu-xen&offset=0"), Is.EqualTo(HttpStatusCode.OK));
    }
}
