using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Farm.Cli;
using Farm.Lab;
using Farm.Web;
using Microsoft.Extensions.Time.Testing;

namespace Farm.Tests.Web;

/// <summary>
/// Issue 15, item 5, on a real Kestrel at 127.0.0.1: HTTPS from PEM files with a certificate made here,
/// a session-id cookie (Secure under HTTPS), tokens in the lab database that expire and are revoked
/// without a restart, failed sign-ins limited and audited, security headers, and /metrics behind a token.
/// </summary>
public class LabServerSecurityTests
{
    /// <summary>A throwaway certificate for 127.0.0.1 written as PEM files (certificate, key), as an operator would give them.</summary>
    static (X509Certificate2 Cert, string CertFile, string KeyFile) MakeCertificate(string dir)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var req = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        req.CertificateExtensions.Add(san.Build());
        req.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var cert = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var (certFile, keyFile) = (Path.Combine(dir, "lab.crt"), Path.Combine(dir, "lab.key"));
        File.WriteAllText(certFile, cert.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        return (X509CertificateLoader.LoadCertificate(cert.RawData), certFile, keyFile);
    }

    /// <summary>A client that trusts only <paramref name="cert"/> (full chain and name checks, no blanket acceptance).</summary>
    static HttpClient Trusting(X509Certificate2 cert, Uri url, CookieContainer? cookies = null) =>
        new(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            CookieContainer = cookies ?? new CookieContainer(),
            UseCookies = cookies is not null,
            SslOptions = new SslClientAuthenticationOptions
            {
                CertificateChainPolicy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, CustomTrustStore = { cert }, RevocationMode = X509RevocationMode.NoCheck },
            },
        }) { BaseAddress = url };

    static FormUrlEncodedContent SignIn(string token) => new(new Dictionary<string, string> { ["token"] = token, ["next"] = "/" });

    [Test]
    public async Task ServeAnswersHttpsWithTheCertificateFromPemFilesAndTheCookieIsASecureSessionId()
    {
        var dir = Directory.CreateTempSubdirectory("farm-tls-").FullName;
        try
        {
            var (cert, certFile, keyFile) = MakeCertificate(dir);
            await using var lab = await LabServer.StartAsync(o => o with { Certificate = ServeCommand.LoadCertificate(certFile, keyFile) }, ("vera", ApiRole.Viewer));
            Assert.That(lab.Url.Scheme, Is.EqualTo("https"));
            using var http = Trusting(cert, lab.Url);
            var health = await http.GetAsync("/healthz");
            Assert.That(health.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(health.Headers.GetValues("Strict-Transport-Security").Single(), Does.StartWith("max-age="));

            var signIn = await http.PostAsync("/login", SignIn(lab.Tokens["vera"]));
            Assert.That(signIn.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
            var cookie = signIn.Headers.GetValues("Set-Cookie").Single();
            Assert.That(cookie, Does.Contain("secure").IgnoreCase.And.Contain("httponly").IgnoreCase.And.Contain("samesite=strict").IgnoreCase);
            var value = cookie.Split(';')[0].Split('=', 2)[1];
            Assert.That(value, Is.Not.EqualTo(lab.Tokens["vera"]).And.Not.Contain(lab.Tokens["vera"]), "the cookie is a session id, not the token");
            using var page = new HttpRequestMessage(HttpMethod.Get, "/");
            page.Headers.Add("Cookie", $"{Farm.Web.Ui.WebUi.Cookie}={value}");
            Assert.That((await http.SendAsync(page)).StatusCode, Is.EqualTo(HttpStatusCode.OK), "the session signs in");

            // Plain HTTP to the HTTPS port gets no lab.
            using var plain = new HttpClient { BaseAddress = new UriBuilder(lab.Url) { Scheme = "http" }.Uri, Timeout = TimeSpan.FromSeconds(30) };
            HttpStatusCode? got = null;
            try { got = (await plain.GetAsync("/api/boards")).StatusCode; }
            catch (HttpRequestException) { }
            Assert.That(got, Is.Null.Or.EqualTo(HttpStatusCode.BadRequest));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Test]
    public void AKeyThatIsNotTheCertificatesOrAMissingFileIsBadInput()
    {
        var dir = Directory.CreateTempSubdirectory("farm-tls-").FullName;
        try
        {
            var (_, certFile, _) = MakeCertificate(dir);
            File.WriteAllText(Path.Combine(dir, "other.key"), ECDsa.Create(ECCurve.NamedCurves.nistP256).ExportPkcs8PrivateKeyPem());
            Assert.Throws<ConfigurationException>(() => ServeCommand.LoadCertificate(certFile, Path.Combine(dir, "other.key")));
            Assert.Throws<ConfigurationException>(() => ServeCommand.LoadCertificate(certFile, Path.Combine(dir, "missing.key")));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Test]
    public async Task TheBareTokenInTheCookieSignsNobodyIn()
    {
        await using var lab = await LabServer.StartAsync(("vera", ApiRole.Viewer));
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = lab.Url };
        using var req = new HttpRequestMessage(HttpMethod.Get, "/");
        req.Headers.Add("Cookie", $"{Farm.Web.Ui.WebUi.Cookie}={lab.Tokens["vera"]}");
        Assert.That((await http.SendAsync(req)).StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
    }

    [Test]
    public async Task ARevokedTokenAndItsSessionsStopAtOnceWithoutARestart()
    {
        await using var lab = await LabServer.StartAsync(("dev", ApiRole.Developer), ("vera", ApiRole.Viewer));
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() }) { BaseAddress = lab.Url };
        Assert.That((await http.PostAsync("/login", SignIn(lab.Tokens["dev"]))).Headers.Location!.OriginalString, Is.EqualTo("/"));
        Assert.That((await http.GetAsync("/")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        using var api = new HttpClient { BaseAddress = lab.Url };
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", lab.Tokens["dev"]);
        Assert.That((await api.GetAsync("/api/boards")).StatusCode, Is.EqualTo(HttpStatusCode.OK));

        // The operator's CLI, on the same lab database, while the server runs.
        Assert.That(await FarmApp.RunAsync(["token", "--revoke", "dev", "--db", lab.LabDatabase]), Is.Zero);

        Assert.That((await api.GetAsync("/api/boards")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), "the bearer token is refused on the next request");
        Assert.That((await http.GetAsync("/")).StatusCode, Is.EqualTo(HttpStatusCode.Redirect), "its session ended too");
        using var viewer = new HttpClient { BaseAddress = lab.Url };
        viewer.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", lab.Tokens["vera"]);
        Assert.That((await viewer.GetAsync("/api/boards")).StatusCode, Is.EqualTo(HttpStatusCode.OK), "other users' tokens still work");
        Assert.That(await FarmApp.RunAsync(["token", "--revoke", "nobody", "--db", lab.LabDatabase]), Is.EqualTo(2), "revoking nothing is bad input");
    }

    [Test]
    public async Task ATokenMadeWhileTheServerRunsWorksAndOneRevokedByIdStops()
    {
        await using var lab = await LabServer.StartAsync(("vera", ApiRole.Viewer));
        await using var db = await LabDatabase.OpenAsync(lab.LabDatabase, default);
        var (token, entry) = await new TokenStore(db, TimeProvider.System).IssueAsync("ci", ApiRole.Developer, null, default);
        using var api = new HttpClient { BaseAddress = lab.Url };
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        Assert.That((await api.GetAsync("/api/boards")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await new TokenStore(db, TimeProvider.System).RevokeAsync(ApiTokens.Id(entry.Sha256), default), Is.EqualTo(1));
        Assert.That((await api.GetAsync("/api/boards")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task TheDatabaseKeepsOnlyHashesAndARestartDoesNotReviveARevokedToken()
    {
        var dir = Directory.CreateTempSubdirectory("farm-tokens-").FullName;
        try
        {
            var file = Path.Combine(dir, "tokens.yaml");
            var token = ApiTokens.Issue(file, "dev", ApiRole.Developer);
            var cs = $"Data Source={Path.Combine(dir, "lab.db")}";
            await using (var db = await LabDatabase.OpenAsync(cs, default))
            {
                var store = new TokenStore(db, TimeProvider.System);
                await store.ImportAsync(ApiTokens.Load(file), default);
                Assert.That(await store.FindAsync(token, default), Is.EqualTo(new ApiUser("dev", ApiRole.Developer)));
                Assert.That(await store.RevokeAsync("dev", default), Is.EqualTo(1));
                await store.ImportAsync(ApiTokens.Load(file), default);   // farm serve starting again with the same file
                Assert.That(await store.FindAsync(token, default), Is.Null);
            }
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Assert.That(File.ReadAllBytes(Path.Combine(dir, "lab.db")).AsSpan().IndexOf(System.Text.Encoding.UTF8.GetBytes(token)), Is.EqualTo(-1), "the token itself is stored nowhere");
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public async Task ATokenStopsWhenItExpires()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var lab = await LabServer.StartAsync(o => o with { Time = clock }, ("vera", ApiRole.Viewer));
        await using var db = await LabDatabase.OpenAsync(lab.LabDatabase, default);
        var (token, _) = await new TokenStore(db, clock).IssueAsync("temp", ApiRole.Viewer, clock.GetUtcNow().AddHours(1), default);
        using var api = new HttpClient { BaseAddress = lab.Url };
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        Assert.That((await api.GetAsync("/api/boards")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        clock.Advance(TimeSpan.FromHours(2));
        Assert.That((await api.GetAsync("/api/boards")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public void ATokensFileEntryMayCarryAnExpiryAndFarmTokenWritesOneTheFileReadsBack()
    {
        var dir = Directory.CreateTempSubdirectory("farm-tokens-").FullName;
        try
        {
            var file = Path.Combine(dir, "tokens.yaml");
            var until = new DateTimeOffset(2027, 1, 31, 0, 0, 0, TimeSpan.Zero);
            var token = ApiTokens.Issue(file, "eve", ApiRole.Viewer, until);
            Assert.That(ApiTokens.Load(file).Entries.Single(), Is.EqualTo(new TokenEntry(ApiTokens.Hash(token), new ApiUser("eve", ApiRole.Viewer), until)));
            Assert.That(TokenCommand.ExpiryOf("90d", until), Is.EqualTo(until.AddDays(90)));
            Assert.That(TokenCommand.ExpiryOf("12h", until), Is.EqualTo(until.AddHours(12)));
            Assert.That(TokenCommand.ExpiryOf("2020-01-01T00:00:00Z", until), Is.Null, "in the past");
            Assert.That(TokenCommand.ExpiryOf("99999d", until), Is.Null);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Test]
    public async Task FailedSignInsAreLimitedPerAddressAndAudited()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var lab = await LabServer.StartAsync(o => o with { Time = clock, SignInLimit = 3 }, ("vera", ApiRole.Viewer));
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = lab.Url };
        for (int i = 0; i < 2; i++)
            Assert.That((await http.PostAsync("/login", SignIn("guess-" + i))).Headers.Location!.OriginalString, Does.StartWith("/login?error="));
        using (var bearer = new HttpRequestMessage(HttpMethod.Get, "/api/boards"))
        {
            bearer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "guess-2");
            Assert.That((await http.SendAsync(bearer)).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        }
        // Over the limit a wrong token is told to wait; the right one still signs in (a shared address is not locked out).
        var refused = await http.PostAsync("/login", SignIn("guess-3"));
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        using (var bearer = new HttpRequestMessage(HttpMethod.Get, "/api/boards"))
        {
            bearer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "guess-4");
            var res = await http.SendAsync(bearer);
            Assert.That(res.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
            Assert.That(res.Headers.RetryAfter?.Delta, Is.GreaterThan(TimeSpan.Zero));
        }
        Assert.That((await http.PostAsync("/login", SignIn(lab.Tokens["vera"]))).Headers.Location!.OriginalString, Is.EqualTo("/"));
        clock.Advance(TimeSpan.FromMinutes(6));
        Assert.That((await http.PostAsync("/login", SignIn("guess-5"))).Headers.Location!.OriginalString, Does.StartWith("/login?error="), "the window passed: a failure is a failure again");

        await using var db = await LabDatabase.OpenAsync(lab.LabDatabase, default);
        await using var c = await db.ConnectAsync(default);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT method, path, status, remote FROM api_audit WHERE api_user = '-' ORDER BY at_ms";
        await using var r = await cmd.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await r.ReadAsync()) rows.Add($"{r.GetString(0)} {r.GetString(1)} {r.GetInt32(2)} {r.GetString(3)}");
        Assert.That(rows, Is.EqualTo(new[] { "POST /login 401 127.0.0.1", "POST /login 401 127.0.0.1", "GET /api/boards 401 127.0.0.1", "POST /login 401 127.0.0.1" }),
            "every failure up to the limit, and the one after the window");
    }

    [Test]
    public void TheSignInWindowSlides()
    {
        var clock = new FakeTimeProvider();
        var t = new SignInThrottle(clock, limit: 2, window: TimeSpan.FromMinutes(5));
        t.Failed("a");
        clock.Advance(TimeSpan.FromMinutes(3));
        t.Failed("a");
        Assert.That(t.RetryAfter("a"), Is.EqualTo(TimeSpan.FromMinutes(2)));
        Assert.That(t.RetryAfter("b"), Is.EqualTo(TimeSpan.Zero), "per address");
        clock.Advance(TimeSpan.FromMinutes(2));
        Assert.That(t.RetryAfter("a"), Is.EqualTo(TimeSpan.Zero), "the first failure left the window");
    }

    [TestCase("/")]
    [TestCase("/login")]
    [TestCase("/api/boards")]
    [TestCase("/api/no-such")]
    [TestCase("/runs/20261201-000000-x-abcdef")]
    public async Task EveryAnswerCarriesTheSecurityHeaders(string path)
    {
        await using var lab = await LabServer.StartAsync(("vera", ApiRole.Viewer));
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() }) { BaseAddress = lab.Url };
        await http.PostAsync("/login", SignIn(lab.Tokens["vera"]));
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", lab.Tokens["vera"]);
        var res = await http.GetAsync(path);
        Assert.That(res.Headers.GetValues("X-Content-Type-Options").Single(), Is.EqualTo("nosniff"));
        Assert.That(res.Headers.GetValues("Referrer-Policy").Single(), Is.EqualTo("same-origin"));
        var csp = res.Headers.GetValues("Content-Security-Policy").Single();
        Assert.That(csp, Does.Contain("frame-ancestors 'none'"));
        if (path is "/" or "/login") Assert.That(csp, Does.Contain("script-src 'self'"), "the page's own policy is kept");
        if (path != "/login") Assert.That(res.Headers.CacheControl?.NoStore, Is.True, $"{path} is an authenticated answer");
    }

    [Test]
    public async Task MetricsNeedATokenUnlessAnonymousScrapingIsChosen()
    {
        await using (var lab = await LabServer.StartAsync(("vera", ApiRole.Viewer)))
        {
            using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = lab.Url };
            Assert.That((await http.GetAsync("/metrics")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", lab.Tokens["vera"]);
            var res = await http.GetAsync("/metrics");
            Assert.That(res.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(await res.Content.ReadAsStringAsync(), Does.Contain("farm_queue_length"));
        }
        await using (var lab = await LabServer.StartAsync(o => o with { AnonymousMetrics = true }, ("vera", ApiRole.Viewer)))
        {
            using var http = new HttpClient { BaseAddress = lab.Url };
            Assert.That((await http.GetAsync("/metrics")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }
    }
}
