using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Farm.Web;

namespace Farm.Tests.Web;

/// <summary>
/// The lab API under a hostile developer token (issue 15, items 1–3 and 7), on a real Kestrel at
/// 127.0.0.1: run ids and boards that would escape the run store, another user's run, console
/// offsets that would drop or rewrite bytes, job cancelling by owner and admin, and bounded input.
/// </summary>
public class LabApiHardeningTests
{
    LabServer _lab = null!;
    HttpClient _http = null!;

    [SetUp]
    public async Task SetUp()
    {
        _lab = await LabServer.StartAsync(("vera", ApiRole.Viewer), ("dev", ApiRole.Developer), ("eve", ApiRole.Developer), ("ops", ApiRole.Admin));
        _http = new HttpClient { BaseAddress = _lab.Url };
        // dev's runs are on qemu-xen, which it holds (as an agent holds its job's board).
        await using var db = await Farm.Lab.LabDatabase.OpenAsync(_lab.LabDatabase, default);
        await new Farm.Lab.Leases.LeaseStore(db, TimeProvider.System).AcquireAsync("qemu-xen", "dev", TimeSpan.FromHours(1), Farm.Lab.Leases.LeaseKind.Job, "queue test", default);
    }

    [TearDown]
    public async Task TearDown()
    {
        _http.Dispose();
        await _lab.DisposeAsync();
    }

    async Task<(HttpStatusCode Status, JsonElement Body)> Call(string who, HttpMethod method, string path, HttpContent? content = null)
    {
        using var req = new HttpRequestMessage(method, path) { Content = content };
        req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _lab.Tokens[who]);
        using var res = await _http.SendAsync(req);
        var text = await res.Content.ReadAsStringAsync();
        return (res.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    static RunRecord Run(string id, string board) => new(id, "xen-smoke", board, Verdict.Pass, new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero), TimeSpan.FromSeconds(9), [],
        Array.Empty<CheckResult>(), new Provenance(new Dictionary<string, string>(), new Dictionary<string, string>()), new Dictionary<string, double>());

    static StringContent Json(RunRecord run) => new(JsonSerializer.Serialize(run, Farm.Reports.RunJsonSink.Options), System.Text.Encoding.UTF8, "application/json");

    const string Id = "20261201-000000-xen-smoke-a1b2c3";

    [TestCase("farm.db")]
    [TestCase("report")]
    [TestCase("run-x")]
    [TestCase("..")]
    [TestCase(".snapshots")]
    public async Task RunIdsThatAreNotRunIdsAreRefused(string id)
    {
        var (status, _) = await Call("dev", HttpMethod.Put, $"/api/runs/{Uri.EscapeDataString(id)}", Json(Run(id, "qemu-xen")));
        Assert.That(status, Is.AnyOf(HttpStatusCode.BadRequest, HttpStatusCode.NotFound), "'..' is resolved by the URL itself");
        Assert.That(Directory.Exists(Path.Combine(_lab.Directory, id)) && id is not "..", Is.False);
        // The controller's run store still works: a real run id is recorded.
        Assert.That((await Call("dev", HttpMethod.Put, $"/api/runs/{Id}", Json(Run(Id, "qemu-xen")))).Status, Is.EqualTo(HttpStatusCode.NoContent));
    }

    [TestCase("../../x")]
    [TestCase("/etc")]
    [TestCase("no-such-board")]
    public async Task ABoardOutsideTheLabIsRefusedAndNoPathIsBuiltFromIt(string board)
    {
        var (status, body) = await Call("dev", HttpMethod.Put, $"/api/runs/{Id}", Json(Run(Id, board)));
        Assert.That(status, Is.EqualTo(HttpStatusCode.BadRequest), body.ToString());
        Assert.That((await Call("dev", HttpMethod.Post, $"/api/runs/{Id}/console?board={Uri.EscapeDataString(board)}&offset=0", new StringContent("x"))).Status,
            Is.EqualTo(HttpStatusCode.NotFound), "no console before the run is recorded");
        Assert.That((await Call("dev", HttpMethod.Put, $"/api/runs/{Id}", Json(Run(Id, "qemu-xen")))).Status, Is.EqualTo(HttpStatusCode.NoContent));
        Assert.That((await Call("dev", HttpMethod.Post, $"/api/runs/{Id}/console?board={Uri.EscapeDataString(board)}&offset=0", new StringContent("x"))).Status,
            Is.EqualTo(HttpStatusCode.BadRequest), "the console goes only to the run's own board");
        Assert.That(File.Exists(Path.GetFullPath(Path.Combine(_lab.Directory, Id, board, "console.log"))), Is.False, "what the old code wrote");
        Assert.That(Directory.Exists(Path.Combine(_lab.Directory, Id)) ? Directory.GetDirectories(Path.Combine(_lab.Directory, Id)) : [], Is.Empty);
    }

    [Test]
    public async Task OnlyTheRunsWriterOrAnAdminMayWriteIt()
    {
        Assert.That((await Call("dev", HttpMethod.Put, $"/api/runs/{Id}", Json(Run(Id, "qemu-xen")))).Status, Is.EqualTo(HttpStatusCode.NoContent));
        Assert.That((await Call("dev", HttpMethod.Post, $"/api/runs/{Id}/console?board=qemu-xen&offset=0", new StringContent("boot\n"))).Status, Is.EqualTo(HttpStatusCode.OK));

        var forged = Run(Id, "qemu-xen") with { Verdict = Verdict.Fail, Message = "forged" };
        Assert.That((await Call("eve", HttpMethod.Put, $"/api/runs/{Id}", Json(forged))).Status, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That((await Call("eve", HttpMethod.Post, $"/api/runs/{Id}/console?board=qemu-xen&offset=5", new StringContent("forged\n"))).Status, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That((await Call("dev", HttpMethod.Put, $"/api/runs/{Id}", Json(Run(Id, "qemu-native")))).Status, Is.EqualTo(HttpStatusCode.BadRequest), "a run keeps its board");

        var runs = (await Call("vera", HttpMethod.Get, "/api/runs")).Body;
        Assert.That(runs.EnumerateArray().Single().GetProperty("verdict").GetString(), Is.EqualTo("pass"), "eve's record was not stored");
        Assert.That(File.ReadAllText(Path.Combine(_lab.Directory, Id, "qemu-xen", "console.log")), Is.EqualTo("boot\n"));

        Assert.That((await Call("ops", HttpMethod.Put, $"/api/runs/{Id}", Json(forged with { Message = "corrected by ops" }))).Status, Is.EqualTo(HttpStatusCode.NoContent));
    }

    [Test]
    public async Task ANewRunIsRecordedOnlyByTheHolderOfItsBoardOrAnAdmin()
    {
        // eve holds nothing: she cannot invent a run on dev's board, nor on a free one.
        var (status, body) = await Call("eve", HttpMethod.Put, $"/api/runs/{Id}", Json(Run(Id, "qemu-xen")));
        Assert.That(status, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(body.GetProperty("error").GetString(), Does.Contain("dev holds it"));
        Assert.That((await Call("eve", HttpMethod.Put, "/api/runs/20261201-000000-xen-smoke-eeeeee", Json(Run("20261201-000000-xen-smoke-eeeeee", "qemu-native")))).Status, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That((await Call("vera", HttpMethod.Get, "/api/runs")).Body.GetArrayLength(), Is.Zero, "nothing was stored");
        Assert.That((await Call("ops", HttpMethod.Put, "/api/runs/20261201-000000-xen-smoke-eeeeee", Json(Run("20261201-000000-xen-smoke-eeeeee", "qemu-native")))).Status, Is.EqualTo(HttpStatusCode.NoContent), "an admin may");
        Assert.That((await Call("dev", HttpMethod.Put, $"/api/runs/{Id}", Json(Run(Id, "qemu-xen")))).Status, Is.EqualTo(HttpStatusCode.NoContent), "the board's holder may");
    }

    // A record from outside must be whole: each of these once stored fine and then broke the run's page.
    [TestCase("provenance", "provenance")]
    [TestCase("provenance.artifactSha256", "artifactSha256")]
    [TestCase("provenance.packages", "packages")]
    [TestCase("stages", "stages")]
    [TestCase("checks", "checks")]
    [TestCase("metrics", "metrics")]
    [TestCase("checks.0.evidence", "evidence")]
    public async Task ARecordWithoutAPartEveryRunHasIsRefusedNamingIt(string path, string named)
    {
        var run = Run(Id, "qemu-xen") with { Checks = [new("ecam.window", "ecam", CheckVerdict.Pass, CheckVerdict.Pass, "ok", ["line"], "src")] };
        foreach (var how in new[] { "missing", "null" })
        {
            var node = System.Text.Json.Nodes.JsonNode.Parse(JsonSerializer.Serialize(run, Farm.Reports.RunJsonSink.Options))!;
            var parts = path.Split('.');
            var parent = parts[..^1].Aggregate(node, (n, p) => int.TryParse(p, out var i) ? n[i]! : n[p]!).AsObject();
            if (how == "missing") parent.Remove(parts[^1]); else parent[parts[^1]] = null;
            var (status, body) = await Call("dev", HttpMethod.Put, $"/api/runs/{Id}", new StringContent(node.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));
            Assert.That(status, Is.EqualTo(HttpStatusCode.BadRequest), $"{path} {how}");
            Assert.That(body.GetProperty("error").GetString(), Does.Contain(named), $"{path} {how}");
        }
        Assert.That((await Call("vera", HttpMethod.Get, "/api/runs")).Body.GetArrayLength(), Is.Zero, "nothing was stored");
        // The whole record is taken, and its page shows.
        Assert.That((await Call("dev", HttpMethod.Put, $"/api/runs/{Id}", Json(run))).Status, Is.EqualTo(HttpStatusCode.NoContent));
        using var req = new HttpRequestMessage(HttpMethod.Get, $"/runs/{Id}");
        req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _lab.Tokens["vera"]);
        using var page = await _http.SendAsync(req);
        Assert.That(page.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task AConsoleChunkMustStartExactlyWhereTheStoredConsoleEnds()
    {
        await Call("dev", HttpMethod.Put, $"/api/runs/{Id}", Json(Run(Id, "qemu-xen")));
        string Url(long offset) => $"/api/runs/{Id}/console?board=qemu-xen&offset={offset}";
        Assert.That((await Call("dev", HttpMethod.Post, Url(-1), new StringContent("x"))).Status, Is.EqualTo(HttpStatusCode.BadRequest), "a negative offset");
        Assert.That((await Call("dev", HttpMethod.Post, Url(-9223372036854775808), new StringContent("x"))).Status, Is.EqualTo(HttpStatusCode.BadRequest));
        var (gap, gapBody) = await Call("dev", HttpMethod.Post, Url(5), new StringContent("x"));
        Assert.That((gap, gapBody.GetProperty("length").GetInt64()), Is.EqualTo((HttpStatusCode.Conflict, 0L)), "a gap");
        Assert.That((await Call("dev", HttpMethod.Post, Url(0), new StringContent("abc"))).Body.GetProperty("length").GetInt64(), Is.EqualTo(3));
        var (overlap, overlapBody) = await Call("dev", HttpMethod.Post, Url(1), new StringContent("XYZ"));
        Assert.That((overlap, overlapBody.GetProperty("length").GetInt64()), Is.EqualTo((HttpStatusCode.Conflict, 3L)), "an overlap would rewrite stored bytes");
        Assert.That((await Call("dev", HttpMethod.Post, Url(3), new StringContent("def"))).Body.GetProperty("length").GetInt64(), Is.EqualTo(6));
        Assert.That(File.ReadAllText(Path.Combine(_lab.Directory, Id, "qemu-xen", "console.log")), Is.EqualTo("abcdef"));
        var (big, _) = await Call("dev", HttpMethod.Post, Url(6), new ByteArrayContent(new byte[(int)LabApi.MaxConsoleChunk + 1]));
        Assert.That(big, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));
    }

    [Test]
    public async Task AJobIsCanceledByItsRequesterOrAnAdminOnly()
    {
        async Task<string> Queue(string who) => (await Call(who, HttpMethod.Post, "/api/jobs", JsonContent.Create(new QueueBody("jobs/xen-smoke.yaml", "qemu-xen", 0), TestJson.Default.QueueBody))).Body.GetProperty("id").GetString()!;
        var mine = await Queue("dev");
        Assert.That((await Call("eve", HttpMethod.Delete, $"/api/jobs/{mine}")).Status, Is.EqualTo(HttpStatusCode.Forbidden), "another developer's job");
        Assert.That((await Call("vera", HttpMethod.Delete, $"/api/jobs/{mine}")).Status, Is.EqualTo(HttpStatusCode.Forbidden), "a viewer");
        Assert.That((await Call("dev", HttpMethod.Delete, $"/api/jobs/{mine}")).Status, Is.EqualTo(HttpStatusCode.NoContent));
        Assert.That((await Call("dev", HttpMethod.Delete, $"/api/jobs/{mine}")).Status, Is.EqualTo(HttpStatusCode.Conflict), "already over");
        var other = await Queue("eve");
        Assert.That((await Call("ops", HttpMethod.Delete, $"/api/jobs/{other}")).Status, Is.EqualTo(HttpStatusCode.NoContent), "an admin cancels anyone's");
        Assert.That((await Call("ops", HttpMethod.Delete, "/api/jobs/no-such-job")).Status, Is.EqualTo(HttpStatusCode.NotFound));
        var jobs = (await Call("vera", HttpMethod.Get, "/api/jobs")).Body.EnumerateArray().ToDictionary(j => j.GetProperty("id").GetString()!, j => j.GetProperty("state").GetString());
        Assert.That((jobs[mine], jobs[other]), Is.EqualTo(("canceled", "canceled")));
    }

    [TestCase("1200h")]
    [TestCase("99999999999999h")]
    [TestCase("31d")]
    public async Task HugeLeaseDurationsAreBadRequests(string span)
    {
        var (status, body) = await Call("dev", HttpMethod.Post, "/api/leases", JsonContent.Create(new ReserveBody("qemu-xen", span, null), TestJson.Default.ReserveBody));
        Assert.That(status, Is.EqualTo(HttpStatusCode.BadRequest), body.ToString());
        Assert.That(body.GetProperty("error").GetString(), Does.Contain("duration"));
    }

    [Test]
    public async Task OversizedAndControlCharacterInputIsABadRequest()
    {
        Assert.That((await Call("dev", HttpMethod.Post, "/api/leases", new StringContent("""{"board":"qemu-xen","for":1e300}""", System.Text.Encoding.UTF8, "application/json"))).Status,
            Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await Call("dev", HttpMethod.Post, "/api/leases", JsonContent.Create(new ReserveBody("qemu-xen", "1h", new string('n', LabApi.MaxNote + 1)), TestJson.Default.ReserveBody))).Status,
            Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await Call("ops", HttpMethod.Post, "/api/boards/qemu-xen/quarantine", JsonContent.Create(new ReasonBody(new string('r', LabApi.MaxNote + 1)), TestJson.Default.ReasonBody))).Status,
            Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await Call("dev", HttpMethod.Post, "/api/jobs", JsonContent.Create(new QueueBody(new string('j', LabApi.MaxJobPath + 1), null, 0), TestJson.Default.QueueBody))).Status,
            Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await Call("dev", HttpMethod.Post, "/api/jobs", JsonContent.Create(new QueueBody("jobs/a.yaml\n/dev/zero", null, 0), TestJson.Default.QueueBody))).Status,
            Is.EqualTo(HttpStatusCode.BadRequest));
    }
}
