using System.Net;
using Farm.Checks;
using Farm.Lab;
using Farm.Reports.Trends;
using Farm.Tests.Spec;
using Farm.Web;

namespace Farm.Tests.Web;

/// <summary>The dashboard on a real Kestrel with a seeded run store: sign-in, roles, escaping, the live console, trends, /metrics.</summary>
public class WebUiTests
{
    LabServer _lab = null!;
    string _dir = "";
    Uri _base = null!;
    Dictionary<string, string> _tokens = null!;
    IRunStore _store = null!;

    const string Hostile = "<script>window.pwned=1</script><img src=x onerror=\"window.pwned=2\"> & \"quotes\"";

    [SetUp]
    public async Task SetUp()
    {
        _lab = await LabServer.StartAsync(("vera", ApiRole.Viewer), ("dev", ApiRole.Developer), ("dan", ApiRole.Developer));
        (_dir, _base, _tokens) = (_lab.Directory, _lab.Url, _lab.Tokens);
        _store = await RunStores.OpenAsync(Path.Combine(_dir, "farm.db"), default);
    }

    [TearDown]
    public async Task TearDown() => await _lab.DisposeAsync();

    /// <summary>A browser: signed in as <paramref name="who"/> through the sign-in form (its cookie is the session it got), or anonymous.</summary>
    async Task<HttpClient> ClientAsync(string? who)
    {
        var http = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false }) { BaseAddress = _base };
        if (who is not null)
        {
            var res = await http.PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = _tokens[who], ["next"] = "/" }));
            Assert.That(res.Headers.Location?.OriginalString, Is.EqualTo("/"), $"{who} signs in");
        }
        return http;
    }

    /// <summary>A run that has started and not finished, with a console whose text is hostile.</summary>
    async Task<RunRecord> RunningAsync()
    {
        var run = new RunRecord("20261201-100000-xen-smoke-abc123", "xen-smoke", "qemu-xen", Verdict.Incomplete, DateTimeOffset.UtcNow, TimeSpan.Zero,
            [], [], new Provenance(new Dictionary<string, string>(), new Dictionary<string, string>()), new Dictionary<string, double>(),
            "infrastructure", Farm.Jobs.JobRunner.PendingMessage, Path.Combine(_dir, "20261201-100000-xen-smoke-abc123"));
        Directory.CreateDirectory(Path.Combine(run.RunDirectory!, run.Board));
        await File.WriteAllTextAsync(Path.Combine(run.RunDirectory!, run.Board, "console.log"), "[t] (XEN) Xen version 4.17\n[t] " + Hostile + "\n");
        await _store.SaveAsync(run, default);
        return run;
    }

    [Test]
    public async Task PagesNeedASignInAndABadTokenIsRefused()
    {
        using var anon = await ClientAsync(null);
        var res = await anon.GetAsync("/runs?board=qemu-xen");
        Assert.That(res.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That(res.Headers.Location!.ToString(), Is.EqualTo("/login?next=%2Fruns%3Fboard%3Dqemu-xen"));
        Assert.That((await anon.PostAsync("/ui/reserve", new FormUrlEncodedContent(new Dictionary<string, string> { ["board"] = "qemu-xen" }))).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));

        var bad = await anon.PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = "nope", ["next"] = "/runs" }));
        Assert.That(bad.Headers.Location!.ToString(), Does.StartWith("/login?error="));
        var good = await anon.PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = _tokens["vera"], ["next"] = "https://evil.example/" }));
        Assert.That(good.Headers.Location!.ToString(), Is.EqualTo("/"), "a sign-in never redirects off the site");
        Assert.That(good.Headers.GetValues("Set-Cookie").Single(), Does.Contain("httponly").IgnoreCase.And.Contain("samesite=strict").IgnoreCase);
        Assert.That((await anon.GetAsync("/")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task AViewerCannotReserveADeveloperCanAndBothAreAudited()
    {
        using var vera = await ClientAsync("vera");
        var page = await vera.GetStringAsync("/");
        Assert.That(page, Does.Contain("data-board=\"qemu-xen\"").And.Not.Contain("class=\"reserve\""));
        var form = new Dictionary<string, string> { ["board"] = "qemu-xen", ["for"] = "2h", ["note"] = "bisect <b>" };
        Assert.That((await vera.PostAsync("/ui/reserve", new FormUrlEncodedContent(form))).StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));

        using var dev = await ClientAsync("dev");
        var res = await dev.PostAsync("/ui/reserve", new FormUrlEncodedContent(form));
        Assert.That(res.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        var boards = await vera.GetStringAsync("/");
        Assert.That(boards, Does.Contain("held by <b>dev</b>").And.Contain("bisect &lt;b&gt;"));
        using var dan = await ClientAsync("dan");
        Assert.That((await dan.PostAsync("/ui/reserve", new FormUrlEncodedContent(form))).StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        Assert.That((await dev.PostAsync("/ui/release", new FormUrlEncodedContent(form))).StatusCode, Is.EqualTo(HttpStatusCode.Redirect));

        await using var db = await LabDatabase.OpenAsync($"Data Source={Path.Combine(_dir, "lab.db")}", default);
        await using var c = await db.ConnectAsync(default);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT api_user || ' ' || path || ' ' || status FROM api_audit ORDER BY at_ms, rowid";
        var rows = new List<string>();
        await using (var r = await cmd.ExecuteReaderAsync())
            while (await r.ReadAsync()) rows.Add(r.GetString(0));
        Assert.That(rows, Is.EqualTo(new[] { "vera /ui/reserve 403", "dev /ui/reserve 302", "dan /ui/reserve 409", "dev /ui/release 302" }));
    }

    [Test]
    public async Task ConsoleTextIsEscapedEverywhereAndScriptIsOnlyServedFromStatic()
    {
        var run = await RunningAsync();
        using var vera = await ClientAsync("vera");
        foreach (var path in new[] { $"/runs/{run.RunId}/console", $"/runs/{run.RunId}", "/runs" })
        {
            var res = await vera.GetAsync(path);
            var html = await res.Content.ReadAsStringAsync();
            Assert.That(html, Does.Not.Contain("<script>window.pwned").And.Not.Contain("<img src=x"), path);
            Assert.That(res.Headers.GetValues("Content-Security-Policy").Single(), Does.Contain("script-src 'self'"), path);
        }
        var console = await vera.GetStringAsync($"/runs/{run.RunId}/console");
        Assert.That(console, Does.Contain("&lt;script&gt;window.pwned=1&lt;/script&gt;&lt;img src=x onerror=&quot;window.pwned=2&quot;&gt; &amp; &quot;quotes&quot;"));
        var raw = await vera.GetAsync($"/runs/{run.RunId}/files/qemu-xen/console.log");
        Assert.That(raw.Content.Headers.ContentType!.MediaType, Is.EqualTo("text/plain"));
        Assert.That((await vera.GetAsync($"/runs/{run.RunId}/files/..%2F..%2Ftokens.yaml")).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }

    [Test]
    public async Task TheConsoleStreamSendsNewLinesThenEndsWhenTheRunFinishes()
    {
        var run = await RunningAsync();
        var log = Path.Combine(run.RunDirectory!, run.Board, "console.log");
        long from = new FileInfo(log).Length;
        using var vera = await ClientAsync("vera");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var res = await vera.GetAsync($"/runs/{run.RunId}/console/stream?from={from}", HttpCompletionOption.ResponseHeadersRead, cts.Token);
        Assert.That(res.Content.Headers.ContentType!.MediaType, Is.EqualTo("text/event-stream"));
        using var reader = new StreamReader(await res.Content.ReadAsStreamAsync(cts.Token));

        await File.AppendAllTextAsync(log, "[t] dom0 login: root\r\n[t] half a li", cts.Token);
        Assert.That(await NextDataAsync(reader, cts.Token), Is.EqualTo("[t] dom0 login: root"));
        await File.AppendAllTextAsync(log, "ne\n", cts.Token);
        Assert.That(await NextDataAsync(reader, cts.Token), Is.EqualTo("[t] half a line"), "a line written in two pieces arrives whole");

        await _store.SaveAsync(run with { Verdict = Verdict.Pass, Message = null, Stages = [new StageRecord("boot", StageStatus.Passed, run.Start, TimeSpan.FromSeconds(9), TimeSpan.FromMinutes(5))] }, cts.Token);
        string? line;
        while ((line = await reader.ReadLineAsync(cts.Token)) is not null && line != "event: end") { }
        Assert.That(line, Is.EqualTo("event: end"));
    }

    static async Task<string> NextDataAsync(StreamReader reader, CancellationToken ct)
    {
        while (await reader.ReadLineAsync(ct) is { } line)
            if (line.StartsWith("data: ", StringComparison.Ordinal)) return line["data: ".Length..];
        throw new EndOfStreamException();
    }

    [Test]
    public async Task TrendsMarkTheShiftAndNameTheBuildChange()
    {
        var end = DateTimeOffset.UtcNow.Date.AddHours(2);
        await _store.SaveManyAsync(SyntheticHistory.Nightly(60, 2, end, changeAt: 40), default);
        using var vera = await ClientAsync("vera");
        var page = await vera.GetStringAsync("/trends?metric=boot.dom0-prompt.seconds");
        var shiftedRun = $"{end.AddDays(40 - 59):yyyyMMdd}-020000-nightly-board-00";
        Assert.That(page, Does.Contain($"class=\"shift\" data-run=\"{shiftedRun}\""));
        Assert.That(page, Does.Contain("xen 4.17.5 → 4.20.1"));
        Assert.That(page.Split("class=\"shift\"").Length - 1, Is.EqualTo(1), "board-01 did not get slower: no shift there");
    }

    [Test]
    public async Task MetricsReportRunsLeasesBoardsAndTheQueue()
    {
        await _store.SaveManyAsync(SyntheticHistory.Nightly(3, 1, DateTimeOffset.UtcNow, null), default);
        await RunningAsync();
        using var dev = await ClientAsync("dev");
        await dev.PostAsync("/ui/reserve", new FormUrlEncodedContent(new Dictionary<string, string> { ["board"] = "qemu-xen", ["for"] = "1h" }));
        await using (var db = await LabDatabase.OpenAsync($"Data Source={Path.Combine(_dir, "lab.db")}", default))
            await new Farm.Lab.Queue.JobQueue(db, TimeProvider.System).EnqueueAsync("jobs/xen-smoke.yaml", "qemu-native", "dev", 0, default);
        var text = await dev.GetStringAsync("/metrics");
        Assert.That(text, Does.Contain("farm_runs{verdict=\"pass\"} 3").And.Contain("farm_runs{verdict=\"incomplete\"} 1"));
        Assert.That(text, Does.Contain("farm_leases{kind=\"interactive\"} 1").And.Contain("farm_boards_leased 1"));
        Assert.That(text, Does.Contain("farm_queue_length 1"));
        var runs = await dev.GetStringAsync("/runs");
        Assert.That(runs, Does.Contain("id=\"queue\"").And.Contain("xen-smoke.yaml").And.Contain("<td>queued</td>"), "the dashboard shows the queue");
        Assert.That(text, Does.Match("farm_boards\\{health=\"healthy\"\\} [1-9]"));
    }
}
