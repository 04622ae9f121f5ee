using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Farm.Lab.Leases;
using Farm.Web;

namespace Farm.Tests.Web;

/// <summary>
/// The lab API's JSON as its clients (RemoteLab, the dashboard's scripts, people's scripts) read it:
/// names, order, nulls, escaping and a lease's kind as a number, exactly as the reflection serializer
/// wrote them before the API went through a source-generated context for Native AOT.
/// </summary>
public class LabApiWireTests
{
    LabServer _lab = null!;
    HttpClient _http = null!;

    [SetUp]
    public async Task SetUp()
    {
        _lab = await LabServer.StartAsync(("vera", ApiRole.Viewer), ("dev", ApiRole.Developer), ("ops", ApiRole.Admin));
        _http = new HttpClient { BaseAddress = _lab.Url };
    }

    [TearDown]
    public async Task TearDown()
    {
        _http.Dispose();
        await _lab.DisposeAsync();
    }

    async Task<(HttpStatusCode Status, string Text)> Call(string? who, HttpMethod method, string path, string? json = null, string type = "application/json")
    {
        using var req = new HttpRequestMessage(method, path);
        if (who is not null) req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _lab.Tokens[who]);
        if (json is not null) req.Content = new StringContent(json, Encoding.UTF8, type);
        using var res = await _http.SendAsync(req);
        return (res.StatusCode, await res.Content.ReadAsStringAsync());
    }

    static string[] Names(JsonElement e) => e.EnumerateObject().Select(p => p.Name).ToArray();

    [Test]
    public async Task ErrorsAreOneErrorPropertyWithRelaxedEscaping()
    {
        Assert.That(await Call(null, HttpMethod.Get, "/api/boards"),
            Is.EqualTo((HttpStatusCode.Unauthorized, """{"error":"a valid bearer token is required (farm token makes one)"}""")));
        Assert.That(await Call("vera", HttpMethod.Post, "/api/leases", """{"board":"qemu-xen"}"""),
            Is.EqualTo((HttpStatusCode.Forbidden, """{"error":"this needs the developer role; vera is viewer"}""")));
        Assert.That(await Call("dev", HttpMethod.Post, "/api/leases", """{"board":"nope"}"""),
            Is.EqualTo((HttpStatusCode.NotFound, """{"error":"no board named \"nope\""}""")));
        Assert.That(await Call("dev", HttpMethod.Delete, "/api/jobs/nope"), Is.EqualTo((HttpStatusCode.NotFound, """{"error":"no job nope"}""")));
    }

    [Test]
    public async Task LeasesHaveTheirKindAsANumber()
    {
        var (status, text) = await Call("dev", HttpMethod.Post, "/api/leases", """{"board":"qemu-xen","for":"2h","note":"n <&> é"}""");
        Assert.That(status, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(text, Does.StartWith("""{"board":"qemu-xen","holder":"dev","kind":0,"note":"n <&> é","acquired":"""));
        Assert.That(Names(JsonDocument.Parse(text).RootElement), Is.EqualTo(new[] { "board", "holder", "kind", "note", "acquired", "expires" }));

        (status, text) = await Call("ops", HttpMethod.Post, "/api/leases", """{"board":"qemu-xen"}""");
        Assert.That(status, Is.EqualTo(HttpStatusCode.Conflict));
        var conflict = JsonDocument.Parse(text).RootElement;
        Assert.That(Names(conflict), Is.EqualTo(new[] { "error", "lease" }));
        Assert.That(conflict.GetProperty("lease").GetProperty("kind").GetInt32(), Is.EqualTo(0));

        (status, text) = await Call("vera", HttpMethod.Get, "/api/leases");
        Assert.That(JsonDocument.Parse(text).RootElement.EnumerateArray().Single().GetProperty("holder").GetString(), Is.EqualTo("dev"));
    }

    [Test]
    public async Task BoardsRunsJobsAndConsoleKeepTheirShape()
    {
        var boards = JsonDocument.Parse((await Call("vera", HttpMethod.Get, "/api/boards")).Text).RootElement;
        var board = boards.EnumerateArray().First();
        Assert.That(Names(board), Is.EqualTo(new[] { "name", "type", "kind", "mode", "tags", "health", "healthReason", "evidence", "power", "console", "lease", "lastRun" }));
        Assert.That((board.GetProperty("mode").GetString(), board.GetProperty("health").GetString()), Is.EqualTo(("xen", "healthy")));
        Assert.That((board.GetProperty("lease").ValueKind, board.GetProperty("lastRun").ValueKind), Is.EqualTo((JsonValueKind.Null, JsonValueKind.Null)), "nulls are written");

        Assert.That(await Call("vera", HttpMethod.Get, "/api/runs"), Is.EqualTo((HttpStatusCode.OK, "[]")));
        await Call("dev", HttpMethod.Post, "/api/leases", """{"board":"qemu-xen"}""");
        const string id = "20261201-000000-xen-smoke-a1b2c3";
        var run = JsonSerializer.Serialize(new RunRecord(id, "xen-smoke", "qemu-xen", Verdict.Fail, new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero), TimeSpan.FromSeconds(9.5), [],
            Array.Empty<CheckResult>(), new Provenance(new Dictionary<string, string>(), new Dictionary<string, string>()), new Dictionary<string, double>()), RunJsonContext.Default.RunRecord);
        Assert.That((await Call("dev", HttpMethod.Put, $"/api/runs/{id}", run)).Status, Is.EqualTo(HttpStatusCode.NoContent));
        Assert.That(await Call("vera", HttpMethod.Get, "/api/runs"), Is.EqualTo((HttpStatusCode.OK,
            $$"""[{"runId":"{{id}}","job":"xen-smoke","board":"qemu-xen","verdict":"fail","start":"2026-12-01T00:00:00+00:00","seconds":9.5,"message":null}]""")));
        var lastRun = JsonDocument.Parse((await Call("vera", HttpMethod.Get, "/api/boards")).Text).RootElement.EnumerateArray().First().GetProperty("lastRun");
        Assert.That(lastRun.GetRawText(), Is.EqualTo($$"""{"runId":"{{id}}","verdict":"fail","job":"xen-smoke","start":"2026-12-01T00:00:00+00:00"}"""));

        var console = $"/api/runs/{id}/console?board=qemu-xen&offset=0";
        Assert.That(await Call("dev", HttpMethod.Post, console, "hello", "application/octet-stream"), Is.EqualTo((HttpStatusCode.OK, """{"length":5}""")));
        Assert.That(await Call("dev", HttpMethod.Post, console, "hello", "application/octet-stream"),
            Is.EqualTo((HttpStatusCode.Conflict, """{"error":"have 5 bytes, got a chunk at 0","length":5}""")));

        var (status, text) = await Call("dev", HttpMethod.Post, "/api/jobs", """{"job":"jobs/xen-smoke.yaml","board":"qemu-xen","priority":"5"}""");
        Assert.That(status, Is.EqualTo(HttpStatusCode.Created));
        var job = JsonDocument.Parse(text).RootElement;
        Assert.That(Names(job), Is.EqualTo(new[] { "id", "job", "board", "requester", "priority", "state", "attempts", "queued", "agent", "heartbeat", "runId", "verdict", "note", "ranOn", "avoid" }));
        Assert.That(job.GetProperty("priority").GetInt32(), Is.EqualTo(5), "numbers may come as strings (Web defaults)");
    }

    [Test]
    public async Task RemoteLabReadsTheKindAsTheControllerWritesIt()
    {
        await using (var db = await Farm.Lab.LabDatabase.OpenAsync(_lab.LabDatabase, default))
            await new LeaseStore(db, TimeProvider.System).AcquireAsync("qemu-native", "agent", TimeSpan.FromHours(1), LeaseKind.Job, null, default);
        using var remote = new RemoteLab(_lab.Url.ToString(), _lab.Tokens["dev"]);
        var grant = await remote.AcquireAsync("qemu-xen", TimeSpan.FromHours(1), "mine", default);
        Assert.That((grant.Granted, grant.Current.Kind, grant.Current.Note), Is.EqualTo((true, LeaseKind.Interactive, "mine")));
        Assert.That((await remote.ActiveAsync(default)).Select(l => (l.Board, l.Kind)),
            Is.EquivalentTo(new[] { ("qemu-native", LeaseKind.Job), ("qemu-xen", LeaseKind.Interactive) }));
        var taken = await remote.AcquireAsync("qemu-native", TimeSpan.FromHours(1), null, default);
        Assert.That((taken.Granted, taken.Current.Holder, taken.Current.Kind), Is.EqualTo((false, "agent", LeaseKind.Job)));
        Assert.That((await remote.BoardsAsync(default)).First(b => b.Name == "qemu-xen").Tags, Does.Contain("xen"));
    }
}
