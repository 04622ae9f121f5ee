using Farm.Cli;
using Farm.Tests.Web;
using Farm.Web;

namespace Farm.Tests.Cli;

/// <summary>The CLI against a real controller (farm serve's API on 127.0.0.1) with tokens: who holds a board is decided by the token.</summary>
public class RemoteCliTests
{
    LabServer _lab = null!;
    string _dir = "";
    string _url = "";
    Dictionary<string, string> _tokens = null!;

    [SetUp]
    public async Task SetUp()
    {
        _lab = await LabServer.StartAsync(("alice", ApiRole.Developer), ("bob", ApiRole.Developer), ("vera", ApiRole.Viewer));
        (_dir, _url, _tokens) = (_lab.Directory, _lab.Url.ToString().TrimEnd('/'), _lab.Tokens);
    }

    [TearDown]
    public async Task TearDown() => await _lab.DisposeAsync();

    string[] As(string user) => ["--server", _url, "--token", _tokens.GetValueOrDefault(user, user)];

    [Test]
    public async Task ReserveRenewReleaseAndQueueThroughTheController()
    {
        Assert.That(await FarmApp.RunAsync(["reserve", "qemu-xen", "--for", "2h", "--note", "bisect", .. As("alice")]), Is.EqualTo(0));
        Assert.That(await FarmApp.RunAsync(["reserve", "qemu-xen", "--for", "1h", .. As("bob")]), Is.EqualTo(1), "taken by alice");
        Assert.That(await FarmApp.RunAsync(["reserve", "--tag", "xen", "--tag", "snapshot", .. As("bob")]), Is.EqualTo(0), "by tags, from the controller's boards");
        Assert.That(await FarmApp.RunAsync(["renew", "qemu-xen", "--for", "3h", .. As("alice")]), Is.EqualTo(0));
        Assert.That(await FarmApp.RunAsync(["renew", "qemu-xen", .. As("bob")]), Is.EqualTo(1), "bob's token is not alice's lease");
        Assert.That(await FarmApp.RunAsync(["leases", .. As("vera")]), Is.EqualTo(0));
        Assert.That(await FarmApp.RunAsync(["release", "qemu-xen", .. As("alice")]), Is.EqualTo(0));
        Assert.That(await FarmApp.RunAsync(["queue", "jobs/xen-smoke.yaml", "--board", "qemu-xen", .. As("alice")]), Is.EqualTo(0));

        await using var db = await Farm.Lab.LabDatabase.OpenAsync($"Data Source={Path.Combine(_dir, "lab.db")}", default);
        var active = await new Farm.Lab.Leases.LeaseStore(db, TimeProvider.System).ActiveAsync(default);
        Assert.That(active.Select(l => (l.Board, l.Holder)), Is.EqualTo(new[] { ("qemu-xen-snap", "bob") }));
        var queued = await new Farm.Lab.Queue.JobQueue(db, TimeProvider.System).ListAsync(10, default);
        Assert.That(queued.Select(j => (j.Job, j.Board, j.Requester)), Is.EqualTo(new[] { ("jobs/xen-smoke.yaml", "qemu-xen", "alice") }));
    }

    [Test]
    public async Task ABadTokenOrRoleIsAnErrorAndAnUnreachableControllerIsIncomplete()
    {
        Assert.That(await FarmApp.RunAsync(["reserve", "qemu-xen", .. As("not-a-token")]), Is.EqualTo(Verdict.Error.ExitCode()));
        Assert.That(await FarmApp.RunAsync(["reserve", "qemu-xen", .. As("vera")]), Is.EqualTo(Verdict.Error.ExitCode()), "viewers cannot reserve");
        Assert.That(await FarmApp.RunAsync(["reserve", "qemu-xen", "--server", _url]), Is.EqualTo(Verdict.Error.ExitCode()), "a server without a token");
        Assert.That(await FarmApp.RunAsync(["reserve", "qemu-xen", "--server", "http://127.0.0.1:1", "--token", "x"]), Is.EqualTo(Verdict.Incomplete.ExitCode()));
    }

    [Test]
    public async Task ATokenFileKeepsTheTokenOffTheCommandLineAndTokenOnArgvIsWarnedAbout()
    {
        var file = Path.Combine(_dir, "alice.token");
        File.WriteAllText(file, _tokens["alice"] + "\n");
        var err = new StringWriter();
        var was = Console.Error;
        Console.SetError(err);
        try
        {
            Assert.That(await FarmApp.RunAsync(["reserve", "qemu-xen", "--server", _url, "--token-file", file]), Is.EqualTo(0));
            Assert.That(err.ToString(), Does.Not.Contain("warning"));
            Assert.That(await FarmApp.RunAsync(["release", "qemu-xen", .. As("alice")]), Is.EqualTo(0), "--token still works");
            Assert.That(err.ToString(), Does.Contain("warning: --token puts the token on the command line"));
            Assert.That(await FarmApp.RunAsync(["leases", "--server", _url, "--token-file", Path.Combine(_dir, "missing")]), Is.EqualTo(Verdict.Error.ExitCode()));
        }
        finally { Console.SetError(was); }
    }
}
