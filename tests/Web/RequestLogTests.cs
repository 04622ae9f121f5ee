using System.Net;
using System.Net.Http.Headers;
using Farm.Lab;
using Farm.Lab.Leases;
using Farm.Lab.Queue;
using Farm.Tests.Spec;
using Farm.Web;
using Microsoft.Extensions.Logging;

namespace Farm.Tests.Web;

/// <summary>
/// What farm serve and farm agent log when a request fails: one event with its fields (method, path,
/// status, exception type and message), read here from an in-memory logger, and never a token.
/// </summary>
public class RequestLogTests
{
    string _dir = "";
    string _token = "";
    MemoryLog _log = null!;
    Microsoft.AspNetCore.Builder.WebApplication _app = null!;
    HttpClient _http = null!;

    [SetUp]
    public async Task SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("farm-reqlog-").FullName;
        foreach (var f in Directory.GetFiles(Checkout.File("boards"), "*.yaml")) File.Copy(f, Path.Combine(_dir, Path.GetFileName(f)));
        var tokens = Path.Combine(_dir, "tokens.txt");
        _token = ApiTokens.Issue(tokens, "vera", ApiRole.Viewer);
        _log = new MemoryLog();
        _app = await LabApi.BuildAsync(new LabApiOptions(_dir, $"Data Source={Path.Combine(_dir, "lab.db")}", _dir, null, ApiTokens.Load(tokens)) { Log = _log },
            new IPEndPoint(IPAddress.Loopback, 0), default);
        await _app.StartAsync();
        _http = new HttpClient { BaseAddress = new Uri(_app.Urls.First()) };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _token);
    }

    [TearDown]
    public async Task TearDown()
    {
        _http.Dispose();
        _log.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    void BreakTheLabFile()
    {
        var lab = Directory.GetFiles(_dir, "*.yaml").First();
        File.AppendAllText(lab, "\nboards: [\n");
        File.SetLastWriteTimeUtc(lab, DateTime.UtcNow.AddMinutes(1));
    }

    [Test]
    public async Task AFailingRequestIsOneEventWithItsFields()
    {
        BreakTheLabFile();
        Assert.That((await _http.GetAsync("/api/boards")).StatusCode, Is.EqualTo(HttpStatusCode.InternalServerError));
        var e = _log.Events.Single(x => x.Category == "Farm.Web" && x.Level >= LogLevel.Warning);
        Assert.That((e.Level, e.EventId), Is.EqualTo((LogLevel.Error, 3)));
        Assert.That(e.Fields["Method"], Is.EqualTo("GET"));
        Assert.That(e.Fields["Path"], Is.EqualTo("/api/boards"));
        Assert.That(e.Fields["Status"], Is.EqualTo(500));
        Assert.That(e.Fields["ExceptionType"], Is.EqualTo(nameof(ConfigurationException)));
        Assert.That((string)e.Fields["ExceptionMessage"]!, Does.Contain("YAML syntax error"));
        Assert.That(e.Exception, Is.TypeOf<ConfigurationException>(), "a 500 is Farm's bug: its stack goes with it");
    }

    [Test]
    public async Task ARefusalIsLoggedWithItsStatusAndNoException()
    {
        Assert.That((await _http.PutAsync("/api/runs/not-a-run", new StringContent("{}"))).StatusCode, Is.EqualTo(HttpStatusCode.Forbidden), "a viewer writes nothing");
        var e = _log.Events.Single(x => x.Category == "Farm.Web" && x.Level >= LogLevel.Warning);
        Assert.That((e.Level, e.EventId, e.Fields["Method"], e.Fields["Path"], e.Fields["Status"]), Is.EqualTo((LogLevel.Warning, 1, "PUT", "/api/runs/not-a-run", 403)));
        Assert.That(e.Fields.ContainsKey("ExceptionType"), Is.False);
        Assert.That(e.Message, Is.EqualTo("PUT /api/runs/not-a-run answered 403"));
    }

    [Test]
    public void ServeLogsWhereItListens()
    {
        var e = _log.Events.Single(x => x.EventId == 4);
        Assert.That(e.Fields["Address"], Is.EqualTo(_app.Urls.First()));
    }

    [Test]
    public async Task ABearerTokenInAFailingRequestNeverReachesTheLog()
    {
        var wrong = ApiTokens.NewToken();
        BreakTheLabFile();
        await _http.GetAsync("/api/boards");                                          // 500, the token in its header
        await _http.GetAsync($"/api/runs/{_token}");                                  // the token as a path segment
        await _http.GetAsync($"/api/runs/{_token}/console?token={_token}");            // and in a query
        await _http.PostAsync($"/api/jobs?access_token={_token}", new StringContent("{", System.Text.Encoding.UTF8, "application/json"));
        using (var bad = new HttpRequestMessage(HttpMethod.Get, "/api/boards"))
        {
            bad.Headers.Authorization = new AuthenticationHeaderValue("Bearer", wrong);   // 401: an unknown token
            await _http.SendAsync(bad);
        }
        using (var bad = new HttpRequestMessage(HttpMethod.Get, $"/api/leases/{wrong}"))
        {
            bad.Headers.Authorization = new AuthenticationHeaderValue("Bearer", wrong);
            await _http.SendAsync(bad);
        }
        Assert.That(_log.Events.Count(x => x.Level >= LogLevel.Warning), Is.GreaterThanOrEqualTo(6), "every failure was logged");
        var text = _log.AllText();
        Assert.That(text, Does.Not.Contain(_token).And.Not.Contain(_token["farm_".Length..]).And.Not.Contain(wrong["farm_".Length..]));
        Assert.That(text, Does.Contain("/api/runs/farm_***"), "the path is still there, with the token masked");
    }

    [Test]
    public async Task TheAgentLogsARequestTheControllerRefusedWithoutItsToken()
    {
        var log = new MemoryLog();
        using var controller = new RemoteLab("http://controller.invalid:8080", _token,
            new Answer(_ => new HttpResponseMessage(HttpStatusCode.BadGateway) { Content = new StringContent("{\"error\":\"upstream gone\"}") }), log.CreateLogger("Farm.Agent"));
        await Assert.ThrowsAsync<InfrastructureException>(() => controller.AppendConsoleAsync("20261201-120000-xen-smoke-a9e171", "qemu-xen", 0, new byte[] { 1 }, default));
        var e = log.Events.Single();
        Assert.That((e.Level, e.EventId, e.Fields["Method"], e.Fields["Path"], e.Fields["Status"], e.Fields["ExceptionType"]),
            Is.EqualTo((LogLevel.Warning, 10, "POST", "/api/runs/20261201-120000-xen-smoke-a9e171/console", 502, nameof(InfrastructureException))));
        Assert.That((string)e.Fields["ExceptionMessage"]!, Does.Contain("502 upstream gone"));
        Assert.That(log.AllText(), Does.Not.Contain(_token["farm_".Length..]));
    }

    [Test]
    public async Task TheAgentLogsAControllerThatDoesNotAnswer()
    {
        var log = new MemoryLog();
        using var controller = new RemoteLab("http://controller.invalid:8080", _token, new Answer(_ => throw new HttpRequestException("Connection refused (controller.invalid:8080)")), log.CreateLogger("Farm.Agent"));
        await Assert.ThrowsAsync<InfrastructureException>(() => controller.BoardsAsync(default));
        var e = log.Events.Single();
        Assert.That((e.Fields["Method"], e.Fields["Path"], e.Fields["Status"], e.Fields["ExceptionType"]), Is.EqualTo(("GET", "/api/boards", (object?)null, nameof(HttpRequestException))));
        Assert.That(log.AllText(), Does.Not.Contain(_token["farm_".Length..]));
    }

    [Test]
    public async Task TheAgentLogsAFailedPollAndStillStops()
    {
        var log = new MemoryLog();
        var file = Path.Combine(_dir, "agent.db");
        var db = await LabDatabase.OpenAsync($"Data Source={file}", default);
        var agent = new Agent(new JobQueue(db, TimeProvider.System), new LeaseStore(db, TimeProvider.System),
            new AgentOptions("bench-1", [], _dir, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(1)),
            (_, _) => throw new InvalidOperationException("no job runs here"), TimeProvider.System, log.CreateLogger("Farm.Agent"));
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        await File.WriteAllBytesAsync(file, new byte[8192]);                             // the lab database is broken under the agent
        var thrown = await Assert.CatchAsync(() => agent.RunAsync(untilIdle: true, default));
        await db.DisposeAsync();
        var e = log.Events.Single(x => x.EventId == 20);
        Assert.That((e.Level, e.Fields["Agent"], e.Fields["ExceptionType"]), Is.EqualTo((LogLevel.Error, "bench-1", thrown!.GetType().Name)));
    }

    sealed class Answer(Func<HttpRequestMessage, HttpResponseMessage> answer) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct) => Task.FromResult(answer(request));
    }
}

/// <summary>An in-memory logger: every event with its category, id, message, template fields and exception.</summary>
sealed class MemoryLog : ILoggerProvider
{
    internal sealed record Event(string Category, LogLevel Level, int EventId, string Message, IReadOnlyDictionary<string, object?> Fields, Exception? Exception);

    readonly List<Event> _events = [];

    internal IReadOnlyList<Event> Events { get { lock (_events) return [.. _events]; } }

    /// <summary>Everything a log sink could print: messages, field values, exceptions with their stacks.</summary>
    internal string AllText() => string.Join('\n', Events.Select(e =>
        $"{e.Category} {e.Message} {string.Join(' ', e.Fields.Select(f => $"{f.Key}={f.Value}"))} {e.Exception}"));

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose() { }

    sealed class Logger(MemoryLog into, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var fields = state is IEnumerable<KeyValuePair<string, object?>> kv
                ? kv.Where(p => p.Key != "{OriginalFormat}").ToDictionary(p => p.Key, p => p.Value)
                : [];
            lock (into._events) into._events.Add(new Event(category, logLevel, eventId.Id, formatter(state, exception), fields, exception));
        }
    }
}
