using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Farm.Tests.Spec;
using Farm.Web;

namespace Farm.Tests.Web;

/// <summary>The lab API on a real Kestrel (127.0.0.1) with a real SQLite lab database: every role × endpoint.</summary>
public class LabApiTests
{
    LabServer _lab = null!;
    HttpClient _http = null!;
    string _dir = "";
    Dictionary<string, string> _tokens = null!;

    [SetUp]
    public async Task SetUp()
    {
        _lab = await LabServer.StartAsync(("vera", ApiRole.Viewer), ("dev", ApiRole.Developer), ("ops", ApiRole.Admin));
        (_dir, _tokens) = (_lab.Directory, _lab.Tokens);
        _http = new HttpClient { BaseAddress = _lab.Url };
    }

    [TearDown]
    public async Task TearDown()
    {
        _http.Dispose();
        await _lab.DisposeAsync();
    }

    async Task<HttpStatusCode> Call(string? who, HttpMethod method, string path, object? body = null)
    {
        using var req = new HttpRequestMessage(method, path);
        if (who is not null) req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _tokens.GetValueOrDefault(who, who));
        if (body is not null)
            req.Content = body is RunRecord run
                ? new StringContent(System.Text.Json.JsonSerializer.Serialize(run, Farm.Reports.RunJsonSink.Options), System.Text.Encoding.UTF8, "application/json")
                : JsonContent.Create(body, TestJson.Default.GetTypeInfo(body.GetType())!);
        using var res = await _http.SendAsync(req);
        return res.StatusCode;
    }

    static readonly RunRecord AgentRun = new("20261201-000000-xen-smoke-a1b2c3", "xen-smoke", "qemu-xen", Verdict.Pass, new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero), TimeSpan.FromSeconds(9), [],
        Array.Empty<CheckResult>(), new Provenance(new Dictionary<string, string>(), new Dictionary<string, string>()), new Dictionary<string, double>());

    // Each write endpoint, with the status a permitted caller gets on a fresh lab.
    static readonly (string Name, HttpMethod Method, string Path, object? Body, ApiRole Needs, HttpStatusCode Ok)[] Endpoints =
    [
        ("list boards", HttpMethod.Get, "/api/boards", null, ApiRole.Viewer, HttpStatusCode.OK),
        ("list leases", HttpMethod.Get, "/api/leases", null, ApiRole.Viewer, HttpStatusCode.OK),
        ("list runs", HttpMethod.Get, "/api/runs", null, ApiRole.Viewer, HttpStatusCode.OK),
        ("list jobs", HttpMethod.Get, "/api/jobs", null, ApiRole.Viewer, HttpStatusCode.OK),
        ("queue a job", HttpMethod.Post, "/api/jobs", new QueueBody("jobs/xen-smoke.yaml", "qemu-xen", 0), ApiRole.Developer, HttpStatusCode.Created),
        ("reserve", HttpMethod.Post, "/api/leases", new ReserveBody("qemu-xen", "2h", "api test"), ApiRole.Developer, HttpStatusCode.Created),
        // dev now holds qemu-xen: it may record a run there (the board's holder); ops is an admin.
        ("record a run", HttpMethod.Put, "/api/runs/20261201-000000-xen-smoke-a1b2c3", AgentRun, ApiRole.Developer, HttpStatusCode.NoContent),
        ("append a console", HttpMethod.Post, "/api/runs/20261201-000000-xen-smoke-a1b2c3/console?board=qemu-xen&offset=0", "[t] line", ApiRole.Developer, HttpStatusCode.OK),
        ("renew", HttpMethod.Post, "/api/leases/qemu-native/renew", new RenewBody("1h"), ApiRole.Developer, HttpStatusCode.Conflict),
        ("release", HttpMethod.Delete, "/api/leases/qemu-native", null, ApiRole.Developer, HttpStatusCode.Conflict),
        ("quarantine", HttpMethod.Post, "/api/boards/qemu-native/quarantine", new ReasonBody("flaky PSU"), ApiRole.Admin, HttpStatusCode.NoContent),
        ("return", HttpMethod.Post, "/api/boards/qemu-native/return", new ReasonBody("fixed"), ApiRole.Admin, HttpStatusCode.NoContent),
    ];

    [Test]
    public async Task EveryRoleOnEveryEndpoint()
    {
        var callers = new (string? Who, ApiRole? Role)[] { (null, null), ("not-a-token", null), ("vera", ApiRole.Viewer), ("dev", ApiRole.Developer), ("ops", ApiRole.Admin) };
        var wrong = new List<string>();
        foreach (var e in Endpoints)
            foreach (var (who, role) in callers)
            {
                // The reservation is taken by the first permitted caller; later ones see it taken.
                var expected = role is null ? HttpStatusCode.Unauthorized
                    : role < e.Needs ? HttpStatusCode.Forbidden
                    : e.Name == "reserve" && role > e.Needs ? HttpStatusCode.Conflict
                    : e.Name == "append a console" && role > e.Needs ? HttpStatusCode.Conflict   // the same chunk again: already stored
                    : e.Ok;
                var got = await Call(who, e.Method, e.Path, e.Body);
                if (got != expected) wrong.Add($"{e.Name} as {who ?? "anonymous"}: {(int)got}, expected {(int)expected}");
            }
        Assert.That(wrong, Is.Empty);
    }

    [Test]
    public async Task WritesAreAuditedWithTheUserAndNoWriteHappensWithoutAToken()
    {
        Assert.That(await Call(null, HttpMethod.Post, "/api/leases", new ReserveBody("qemu-xen", "1h", null)), Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(await Call("vera", HttpMethod.Post, "/api/leases", new ReserveBody("qemu-xen", "1h", null)), Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(await Call("dev", HttpMethod.Post, "/api/leases", new ReserveBody("qemu-xen", "1h", "bisect")), Is.EqualTo(HttpStatusCode.Created));
        Assert.That(await Call("dev", HttpMethod.Post, "/api/leases", new ReserveBody("no-such-board", "1h", null)), Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(await Call("dev", HttpMethod.Delete, "/api/leases/qemu-xen"), Is.EqualTo(HttpStatusCode.NoContent));

        await using var db = await Farm.Lab.LabDatabase.OpenAsync($"Data Source={Path.Combine(_dir, "lab.db")}", default);
        await using var c = await db.ConnectAsync(default);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT api_user || ' ' || method || ' ' || path || ' ' || status FROM api_audit ORDER BY at_ms, rowid";
        var rows = new List<string>();
        await using (var r = await cmd.ExecuteReaderAsync())
            while (await r.ReadAsync()) rows.Add(r.GetString(0));
        Assert.That(rows, Is.EqualTo(new[]
        {
            "vera POST /api/leases 403", "dev POST /api/leases 201", "dev POST /api/leases 404", "dev DELETE /api/leases/qemu-xen 204",
        }), "the anonymous attempt has no user to audit and changed nothing");
        var leases = await new Farm.Lab.Leases.LeaseStore(db, TimeProvider.System).AuditAsync("qemu-xen", default);
        Assert.That(leases.Select(e => (e.Holder, e.Action)), Is.EqualTo(new[] { ("dev", "acquired"), ("dev", "released") }));
    }

    [Test]
    public async Task BoardsShowHealthAndLeases()
    {
        await Call("dev", HttpMethod.Post, "/api/leases", new ReserveBody("qemu-xen", "1h", "bisect"));
        await Call("ops", HttpMethod.Post, "/api/boards/qemu-native/quarantine", new ReasonBody("flaky PSU"));
        using var req = new HttpRequestMessage(HttpMethod.Get, "/api/boards");
        req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _tokens["vera"]);
        var boards = System.Text.Json.JsonDocument.Parse(await (await _http.SendAsync(req)).Content.ReadAsStringAsync()).RootElement;
        var byName = boards.EnumerateArray().ToDictionary(b => b.GetProperty("name").GetString()!);
        Assert.That(byName["qemu-xen"].GetProperty("lease").GetProperty("holder").GetString(), Is.EqualTo("dev"));
        Assert.That(byName["qemu-native"].GetProperty("health").GetString(), Is.EqualTo("quarantined"));
        Assert.That(byName["qemu-native"].GetProperty("healthReason").GetString(), Is.EqualTo("quarantined by ops: flaky PSU"));
    }
}
