using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Farm.Checks;
using Farm.Lab;
using Farm.Reports.Trends;
using Farm.Web;
using Microsoft.Playwright;

namespace Farm.Scenarios;

/// <summary>
/// The dashboard in a real browser: Debian's chromium driven by Playwright (never a downloaded
/// browser) against a real <c>farm serve</c> process on 127.0.0.1 with a seeded run store. A
/// screenshot of every page is kept in artifacts/scenarios/.
/// </summary>
[Category("Web")]
[NonParallelizable]
public class WebUiScenarios
{
    const string Chromium = "/usr/bin/chromium";
    static string Farm => FarmCli.Path;

    string _dir = "";
    string _shots = "";
    Process? _serve;
    readonly StringBuilder _serveLog = new();
    string _token = "";
    string _base = "";
    RunRecord _running = null!;
    RunRecord _finished = null!;
    DateTimeOffset _lastNight;

    [OneTimeSetUp]
    public async Task StartServe()
    {
        Assert.That(File.Exists(Chromium), Is.True, $"{Chromium} is missing: ci/setup.sh installs Debian's chromium package");
        _dir = Directory.CreateTempSubdirectory("farm-web-").FullName;
        _shots = ScenarioArtifacts.NewRunDirectory();
        var tokens = Path.Combine(_dir, "tokens.yaml");
        _token = ApiTokens.Issue(tokens, "dev", ApiRole.Developer);

        var store = await RunStores.OpenAsync(Path.Combine(_dir, "farm.db"), default);
        _lastNight = DateTimeOffset.UtcNow.Date.AddHours(2);
        await store.SaveManyAsync(SyntheticHistory.Nightly(60, 2, _lastNight, changeAt: 40), default);
        _running = new RunRecord("20261201-100000-xen-smoke-live01", "xen-smoke", "qemu-xen", Verdict.Incomplete, DateTimeOffset.UtcNow, TimeSpan.Zero, [], [],
            new Provenance(new Dictionary<string, string>(), new Dictionary<string, string>()), new Dictionary<string, double>(),
            "infrastructure", global::Farm.Jobs.JobRunner.PendingMessage, Path.Combine(_dir, "20261201-100000-xen-smoke-live01"));
        Directory.CreateDirectory(Path.Combine(_running.RunDirectory!, "qemu-xen"));
        await File.WriteAllTextAsync(ConsoleLog, "[2026-12-01T10:00:00.000Z] (XEN) Xen version 4.17.5\n[2026-12-01T10:00:01.000Z] <script>window.pwned=1</script><img src=x onerror=\"window.pwned=2\">\n");
        _finished = new RunRecord("20261201-090000-xen-smoke-done01", "xen-smoke", "qemu-xen", Verdict.Pass, DateTimeOffset.UtcNow.AddHours(-1), TimeSpan.FromSeconds(42),
            [new StageRecord("power-on", StageStatus.Passed, DateTimeOffset.UtcNow.AddHours(-1), TimeSpan.FromSeconds(0.2), TimeSpan.FromSeconds(30)),
             new StageRecord("dom0-prompt", StageStatus.Passed, DateTimeOffset.UtcNow.AddHours(-1), TimeSpan.FromSeconds(11), TimeSpan.FromSeconds(300))],
            [new CheckResult("ecam.host-bridge-probed", "ecam", CheckVerdict.Pass, CheckVerdict.Pass, "dom0 probed the ECAM host bridge",
                ["pci-host-generic 4010000000.pcie: ECAM at [mem 0x4010000000-0x401fffffff] for [bus 00-ff]"], "drivers/pci/ecam.c (Linux 6.1)")],
            new Provenance(new Dictionary<string, string> { ["xen"] = "abc" }, new Dictionary<string, string>(), "7.2.19", "4.17.5", "6.1.0-56-arm64"),
            new Dictionary<string, double> { ["boot.dom0-prompt.seconds"] = 11 }, RunDirectory: null);
        await store.SaveManyAsync([_running, _finished], default);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

        int port;
        using (var l = new TcpListener(IPAddress.Loopback, 0)) { l.Start(); port = ((IPEndPoint)l.LocalEndpoint).Port; }
        _base = $"http://127.0.0.1:{port}";
        var psi = new ProcessStartInfo(Farm, ["serve", "--listen", $"127.0.0.1:{port}", "--tokens", tokens, "--out", _dir,
            "--lab", Path.Combine(ScenarioArtifacts.RepoRoot, "boards"), "--db", $"Data Source={Path.Combine(_dir, "lab.db")}"])
        { RedirectStandardOutput = true, RedirectStandardError = true };
        _serve = Process.Start(psi)!;
        _serve.OutputDataReceived += (_, e) => { lock (_serveLog) _serveLog.AppendLine(e.Data); };
        _serve.ErrorDataReceived += (_, e) => { lock (_serveLog) _serveLog.AppendLine(e.Data); };
        _serve.BeginOutputReadLine();
        _serve.BeginErrorReadLine();
        using var http = new HttpClient();
        for (int i = 0; i < 150; i++)
        {
            try { if ((await http.GetAsync(_base + "/healthz")).IsSuccessStatusCode) return; }
            catch (HttpRequestException) { }
            if (_serve.HasExited) break;
            await Task.Delay(200);
        }
        Assert.Fail("farm serve did not answer /healthz:\n" + _serveLog);
    }

    [OneTimeTearDown]
    public async Task StopServe()
    {
        if (_serve is { HasExited: false })
        {
            _serve.Kill(entireProcessTree: true);
            await _serve.WaitForExitAsync();
        }
        _serve?.Dispose();
        File.WriteAllText(Path.Combine(_shots, "serve.log"), _serveLog.ToString());
        Directory.Delete(_dir, recursive: true);
    }

    string ConsoleLog => Path.Combine(_running.RunDirectory!, "qemu-xen", "console.log");

    async Task<(IPlaywright, IBrowser, IPage)> OpenAsync()
    {
        var pw = await Playwright.CreateAsync();
        var browser = await pw.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = Chromium, Headless = true });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { BaseURL = _base, ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        page.SetDefaultTimeout(20_000);
        return (pw, browser, page);
    }

    Task ShotAsync(IPage page, string name) => page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(_shots, name + ".png"), FullPage = true });

    async Task SignInAsync(IPage page)
    {
        await page.GotoAsync("/");
        Assert.That(page.Url, Does.Contain("/login"), "an anonymous visitor is sent to sign in");
        await ShotAsync(page, "01-login");
        await page.FillAsync("#token", _token);
        await page.ClickAsync("#signin");
        await Assertions.Expect(page.Locator("#user")).ToContainTextAsync("dev (developer)");
    }

    [Test]
    public async Task SignInReserveABoardAndSeeItTaken()
    {
        var (pw, browser, page) = await OpenAsync();
        using (pw)
        await using (browser)
        {
            await SignInAsync(page);
            await ShotAsync(page, "02-boards");
            var row = page.Locator("tr[data-board=\"qemu-native\"]");
            await Assertions.Expect(row.Locator(".lease")).ToHaveTextAsync("free");
            await row.Locator("input[name=note]").FillAsync("bisecting e1000e");
            await row.Locator("button.reserve").ClickAsync();
            await Assertions.Expect(page.Locator("#flash")).ToContainTextAsync("qemu-native is yours");
            await Assertions.Expect(row.Locator(".lease")).ToContainTextAsync("held by dev");
            await Assertions.Expect(row.Locator(".lease")).ToContainTextAsync("bisecting e1000e");
            await ShotAsync(page, "03-reserved");
            await page.GotoAsync("/reservations");
            await Assertions.Expect(page.Locator("#leases tr[data-board=\"qemu-native\"]")).ToContainTextAsync("dev");
            await ShotAsync(page, "04-reservations");
            await page.Locator("#leases tr[data-board=\"qemu-native\"] button.release").ClickAsync();
            await Assertions.Expect(page.Locator("#flash")).ToContainTextAsync("qemu-native released");
        }
    }

    [Test]
    public async Task WatchAConsoleLineAppearLiveAndHostileTextStayText()
    {
        var (pw, browser, page) = await OpenAsync();
        using (pw)
        await using (browser)
        {
            await SignInAsync(page);
            await page.GotoAsync($"/runs/{_running.RunId}/console");
            await Assertions.Expect(page.Locator("#live")).ToHaveTextAsync("live");
            await File.AppendAllTextAsync(ConsoleLog, "[2026-12-01T10:00:02.000Z] FARM live line <b>42</b>\n");
            await Assertions.Expect(page.Locator("#console")).ToContainTextAsync("FARM live line <b>42</b>");
            Assert.That(await page.Locator("#console").InnerTextAsync(), Does.Contain("<script>window.pwned=1</script><img src=x onerror=\"window.pwned=2\">"));
            Assert.That(await page.EvaluateAsync<bool>("() => window.pwned === undefined"), Is.True, "console text must never run as script");
            Assert.That(await page.Locator("#console img, #console script, #console b").CountAsync(), Is.Zero, "console text must never become markup");
            await ShotAsync(page, "05-console-live");
        }
    }

    [Test]
    public async Task OpenARunAndSeeARegressionMarkedOnAChart()
    {
        var (pw, browser, page) = await OpenAsync();
        using (pw)
        await using (browser)
        {
            await SignInAsync(page);
            await page.GotoAsync("/runs?verdict=pass&board=qemu-xen");
            await ShotAsync(page, "06-runs");
            await page.ClickAsync($"a[href=\"/runs/{_finished.RunId}\"]");
            await Assertions.Expect(page.Locator("#checks")).ToContainTextAsync("ecam.host-bridge-probed");
            await Assertions.Expect(page.Locator("#stages")).ToContainTextAsync("dom0-prompt");
            await ShotAsync(page, "07-run");

            await page.GotoAsync("/trends?metric=boot.dom0-prompt.seconds");
            var shifted = $"{_lastNight.AddDays(40 - 59):yyyyMMdd}-020000-nightly-board-00";
            var mark = page.Locator($"section[data-target=\"xen-smoke@board-00\"] svg g.shift[data-run=\"{shifted}\"]");
            await Assertions.Expect(mark).ToHaveCountAsync(1);
            await Assertions.Expect(mark).ToBeVisibleAsync();
            await Assertions.Expect(page.Locator("section[data-target=\"xen-smoke@board-01\"] svg g.shift")).ToHaveCountAsync(0);
            await Assertions.Expect(page.Locator("section[data-target=\"xen-smoke@board-00\"] .shifts")).ToContainTextAsync("xen 4.17.5 → 4.20.1");
            await ShotAsync(page, "08-trends");
        }
    }
}
