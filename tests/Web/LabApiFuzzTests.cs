using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Farm.Tests.Spec;
using Farm.Web;
using Microsoft.Extensions.Logging;

namespace Farm.Tests.Web;

/// <summary>
/// The lab service on a real Kestrel at 127.0.0.1 under random requests (issue 15's acceptance): random
/// methods, paths, bodies and tokens, a fixed number of them with a fixed seed. No answer is a 500, no
/// answer carries a file from outside the run directories, and nothing is written without the role.
/// Also: the open redirect after sign-in, and every 500 logged with its exception.
/// </summary>
public class LabApiFuzzTests
{
    LabServer _lab = null!;
    string _secret = "";

    [SetUp]
    public async Task SetUp()
    {
        _lab = await LabServer.StartAsync(("vera", ApiRole.Viewer), ("dev", ApiRole.Developer), ("ops", ApiRole.Admin));
        // A file beside the run store that nothing may serve.
        _secret = "SECRET-" + Guid.NewGuid().ToString("N");
        File.WriteAllText(Path.Combine(Path.GetDirectoryName(_lab.Directory)!, Path.GetFileName(_lab.Directory) + ".secret"), _secret);
        File.WriteAllText(Path.Combine(_lab.Directory, "console.log"), _secret);
    }

    [TearDown]
    public async Task TearDown()
    {
        File.Delete(Path.Combine(Path.GetDirectoryName(_lab.Directory)!, Path.GetFileName(_lab.Directory) + ".secret"));
        await _lab.DisposeAsync();
    }

    static readonly string[] Pieces =
    [
        "qemu-xen", "qemu-native", "..", "%2e%2e", "..%2F..%2F..%2Fetc%2Fpasswd", "farm.db", "report", "tokens.yaml", "console.log", "%00", "%0d%0a",
        "20261201-000000-xen-smoke-a1b2c3", "-1", "1e300", "99999999999h", "%09", "%5c", "a%20b", new string('x', 3000), "*", "%252e%252e", "lab.db",
    ];

    static readonly string[] Templates =
    [
        "/api/boards", "/api/leases", "/api/leases/{0}", "/api/leases/{0}/renew", "/api/boards/{0}/quarantine", "/api/boards/{0}/return", "/api/jobs", "/api/jobs/{0}",
        "/api/runs", "/api/runs?latest={0}", "/api/runs/{0}", "/api/runs/{0}/console?board={1}&offset={2}", "/", "/runs", "/runs?board={0}", "/runs/{0}", "/runs/{0}/console",
        "/runs/{0}/console/stream?from={2}", "/runs/{0}/files/{1}", "/report/{0}", "/report/{0}/{1}", "/reservations", "/login?next={0}", "/login", "/logout", "/ui/reserve",
        "/ui/renew", "/ui/release", "/metrics", "/healthz", "/static/farm.css", "/{0}", "/{0}/{1}",
    ];

    static readonly HttpMethod[] Methods = [HttpMethod.Get, HttpMethod.Post, HttpMethod.Put, HttpMethod.Delete, HttpMethod.Patch, HttpMethod.Head, HttpMethod.Options];

    static HttpContent? Body(Random r)
    {
        string Value() => r.Next(6) switch
        {
            0 => "\"" + Pieces[r.Next(Pieces.Length)].Replace("\"", "") + "\"",
            1 => "1e300",
            2 => "-9223372036854775809",
            3 => "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
            4 => "\"line\\r\\nSet-Cookie: x=y\"",
            _ => "null",
        };
        return r.Next(7) switch
        {
            0 => null,
            1 => new StringContent($"{{\"board\":{Value()},\"for\":{Value()},\"note\":{Value()},\"job\":{Value()},\"reason\":{Value()},\"priority\":{Value()}}}", Encoding.UTF8, "application/json"),
            2 => new StringContent($"{{\"runId\":{Value()},\"board\":{Value()},\"verdict\":{Value()},\"start\":{Value()},\"stages\":{Value()}}}", Encoding.UTF8, "application/json"),
            3 => new FormUrlEncodedContent(new Dictionary<string, string> { ["board"] = Pieces[r.Next(Pieces.Length)], ["for"] = Pieces[r.Next(Pieces.Length)], ["note"] = new string('n', r.Next(2) == 0 ? 10 : 5_000_000), ["token"] = Pieces[r.Next(Pieces.Length)], ["next"] = "/\t/evil.example" }),
            4 => new ByteArrayContent([.. Enumerable.Range(0, r.Next(1, 4096)).Select(_ => (byte)r.Next(256))]),
            5 => new StringContent("{\"board\":", Encoding.UTF8, "application/json"),
            _ => new StringContent(new string('[', 100_000), Encoding.UTF8, "application/json"),
        };
    }

    async Task<List<string>> FuzzAsync(int seed, int count, string?[] who)
    {
        var random = new Random(seed);
        var wrong = new List<string>();
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = _lab.Url, Timeout = TimeSpan.FromSeconds(30) };
        for (int i = 0; i < count; i++)
        {
            var path = string.Format(Templates[random.Next(Templates.Length)], Pieces[random.Next(Pieces.Length)], Pieces[random.Next(Pieces.Length)], Pieces[random.Next(Pieces.Length)]);
            var method = Methods[random.Next(Methods.Length)];
            var user = who[random.Next(who.Length)];
            using var req = new HttpRequestMessage(method, path) { Content = method == HttpMethod.Get || method == HttpMethod.Head ? null : Body(random) };
            var token = user is null ? null : _lab.Tokens.GetValueOrDefault(user, user);
            if (token is not null && random.Next(2) == 0) req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            else if (token is not null) req.Headers.Add("Cookie", $"{Farm.Web.Ui.WebUi.Cookie}={token}");
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            HttpResponseMessage res;
            try { res = await http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, cts.Token); }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { continue; }   // a stream that stays open, or a connection Kestrel closed on bad input
            using (res)
            {
                var head = new byte[1 << 16];
                int n = 0;
                try
                {
                    await using var s = await res.Content.ReadAsStreamAsync(cts.Token);
                    int got;
                    while (n < head.Length && (got = await s.ReadAsync(head.AsMemory(n), cts.Token)) > 0) n += got;
                }
                catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException) { }
                var text = Encoding.UTF8.GetString(head, 0, n);
                if ((int)res.StatusCode >= 500) wrong.Add($"{method} {path} as {user ?? "nobody"}: {(int)res.StatusCode} {text[..Math.Min(200, text.Length)]}");
                if (text.Contains(_secret) || text.Contains("root:x:0:0")) wrong.Add($"{method} {path} as {user ?? "nobody"}: served a file outside the run directories");
                if (res.Headers.Location is { } to && to.IsAbsoluteUri && to.Host != _lab.Url.Host) wrong.Add($"{method} {path}: redirects to {to}");
            }
        }
        return wrong;
    }

    [Test]
    public async Task RandomRequestsWithoutAWriterRoleWriteNothing()
    {
        var wrong = await FuzzAsync(seed: 1, count: 400, who: [null, "garbage-token", "vera"]);
        Assert.That(wrong, Is.Empty);
        await using var db = await Farm.Lab.LabDatabase.OpenAsync(_lab.LabDatabase, default);
        await using var c = await db.ConnectAsync(default);
        foreach (var table in new[] { "leases", "jobs", "board_events", "run_writers", "lease_audit" })
        {
            await using var cmd = c.CreateCommand();
            cmd.CommandText = $"SELECT COUNT(*) FROM {table}";
            Assert.That(Convert.ToInt64(await cmd.ExecuteScalarAsync()), Is.Zero, $"{table}: a viewer or a stranger wrote");
        }
        Assert.That(Directory.GetFileSystemEntries(_lab.Directory).Select(Path.GetFileName).Where(f => !f!.StartsWith("lab.db", StringComparison.Ordinal)),
            Is.EquivalentTo(new[] { "tokens.yaml", "console.log" }), "no run directory or store was made");
    }

    [Test]
    public async Task RandomRequestsFromEveryRoleNeverAnswer500()
    {
        var wrong = await FuzzAsync(seed: 2, count: 500, who: [null, "garbage-token", "vera", "dev", "ops"]);
        Assert.That(wrong, Is.Empty);
    }

    [TestCase("/\t/evil.example")]
    [TestCase("/\n/evil.example")]
    [TestCase("//evil.example")]
    [TestCase("/\\evil.example")]
    [TestCase("https://evil.example/")]
    [TestCase("/ /evil.example")]
    [TestCase("/\r\nSet-Cookie: x=y")]
    public async Task SignInGoesBackOnlyToAPathOfThisSite(string next)
    {
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = _lab.Url };
        var res = await http.PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = _lab.Tokens["vera"], ["next"] = next }));
        Assert.That(res.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That(res.Headers.Location!.OriginalString, Is.EqualTo("/"));
        var ok = await http.PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = _lab.Tokens["vera"], ["next"] = "/runs?board=qemu-xen" }));
        Assert.That(ok.Headers.Location!.OriginalString, Is.EqualTo("/runs?board=qemu-xen"));
    }

    [Test]
    public async Task A500IsLoggedWithItsExceptionAndAnsweredWithoutIt()
    {
        // A lab file broken while the server runs: the server's fault, not the caller's.
        var dir = Directory.CreateTempSubdirectory("farm-lab-").FullName;
        foreach (var f in Directory.GetFiles(Checkout.File("boards"), "*.yaml")) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        var logged = new List<(LogLevel, string, Exception?)>();
        var tokens = Path.Combine(dir, "tokens.txt");
        var token = ApiTokens.Issue(tokens, "vera", ApiRole.Viewer);
        var app = await LabApi.BuildAsync(new LabApiOptions(dir, $"Data Source={Path.Combine(dir, "lab.db")}", dir, null, ApiTokens.Load(tokens)) { Log = new ListLogger(logged) },
            new IPEndPoint(IPAddress.Loopback, 0), default);
        await app.StartAsync();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            Assert.That((await http.GetAsync("/api/boards")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
            var lab = Directory.GetFiles(dir, "*.yaml").First();
            File.AppendAllText(lab, "\nboards: [\n");
            File.SetLastWriteTimeUtc(lab, DateTime.UtcNow.AddMinutes(1));
            var res = await http.GetAsync("/api/boards");
            var body = await res.Content.ReadAsStringAsync();
            Assert.That(res.StatusCode, Is.EqualTo(HttpStatusCode.InternalServerError));
            Assert.That(body, Does.Not.Contain(" at ").And.Not.Contain(dir), "no stack, no paths");
            var (level, message, exception) = logged.Single(l => l.Item1 >= LogLevel.Error);
            Assert.That(level, Is.EqualTo(LogLevel.Error));
            Assert.That(message, Does.StartWith("GET /api/boards failed with 500: ConfigurationException: "));
            Assert.That(exception, Is.TypeOf<ConfigurationException>());
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }

    sealed class ListLogger(List<(LogLevel, string, Exception?)> into) : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (into) into.Add((logLevel, formatter(state, exception), exception));
        }
        public void Dispose() { }
    }
}
