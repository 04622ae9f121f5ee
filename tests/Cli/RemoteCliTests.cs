using System.Net;
using Farm.Cli;
using Farm.Tests.Spec;
using Farm.Web;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Farm.Tests.Cli;

/// <summary>The CLI against a real controller (farm serve's API on 127.0.0.1) with tokens: who holds a board is decided by the token.</summary>
public class RemoteCliTests
{
    string _dir = "";
    WebApplication _app = null!;
    string _url = "";
    readonly Dictionary<string, string> _tokens = [];

    [SetUp]
    public async Task SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("farm-remote-cli-").FullName;
        var file = Path.Combine(_dir, "tokens.yaml");
        foreach (var (user, role) in new[] { ("alice", ApiRole.Developer), ("bob", ApiRole.Developer), ("vera", ApiRole.Viewer) })
            _tokens[user] = ApiTokens.Issue(file, user, role);
        _app = await LabApi.BuildAsync(new LabApiOptions(Checkout.File("boards"), $"Data Source={Path.Combine(_dir, "lab.db")}", _dir, null, ApiTokens.Load(file)),
            new IPEndPoint(IPAddress.Loopback, 0), default);
        await _app.StartAsync();
        _url = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
    }

    [TearDown]
    public async Task TearDown()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

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
}
