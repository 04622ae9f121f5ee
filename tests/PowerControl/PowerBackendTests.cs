using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Farm.PowerControl;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Farm.Tests.PowerControl;

/// <summary>
/// Each backend against a real server speaking its protocol on 127.0.0.1: shell commands with a
/// state file, a Tasmota-style relay over HTTP, a Redfish BMC over HTTPS with basic auth and a
/// self-signed certificate. Faults: stuck outlet, refused connection, bad credentials, timeouts.
/// </summary>
public class PowerBackendTests
{
    static readonly PowerPolicy Quick = new() { Retries = 1, RetryDelay = TimeSpan.Zero, Settle = TimeSpan.FromSeconds(2), PollInterval = TimeSpan.FromMilliseconds(50) };
    string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("farm-power-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    // ---- external commands

    CommandPowerBackend Commands(string on, string? off = null, TimeSpan? timeout = null)
    {
        var state = Path.Combine(_dir, "outlet");
        File.WriteAllText(state, "off\n");
        return new CommandPowerBackend(_dir, on.Replace("STATE", state), (off ?? "echo off > STATE").Replace("STATE", state), $"cat {state}",
            timeout ?? TimeSpan.FromSeconds(10));
    }

    [Test]
    public async Task CommandBackendSwitchesAndReadsBack()
    {
        var power = new VerifiedPowerSwitch(Commands("echo on > STATE"), policy: Quick);
        await power.SetAsync(PowerState.On, CancellationToken.None);
        Assert.That(await power.GetAsync(CancellationToken.None), Is.EqualTo(PowerState.On));
        await power.SetAsync(PowerState.Off, CancellationToken.None);
        Assert.That(await power.GetAsync(CancellationToken.None), Is.EqualTo(PowerState.Off));
    }

    [Test]
    public async Task CommandThatDoesNotSwitchIsIncomplete()
    {
        var power = new VerifiedPowerSwitch(Commands("true"), policy: Quick with { Settle = TimeSpan.FromMilliseconds(200) });
        var e = (await Assert.ThrowsAsync<InfrastructureException>(() => power.SetAsync(PowerState.On, CancellationToken.None)))!;
        Assert.That(e.Message, Does.Contain("reads back off").And.Contain("after switching on"));
        Assert.That(e.Evidence, Does.Contain("off"), "what the status command printed");
    }

    [Test]
    public async Task FailingAndHangingCommandsAreIncompleteWithTheirOutput()
    {
        var failing = new VerifiedPowerSwitch(Commands("echo relay jammed >&2; exit 3"), policy: Quick);
        var e = (await Assert.ThrowsAsync<InfrastructureException>(() => failing.SetAsync(PowerState.On, CancellationToken.None)))!;
        Assert.That(e.Message, Does.EndWith("exited with code 3"));
        Assert.That(e.Evidence, Does.Contain("relay jammed"));

        var hanging = new VerifiedPowerSwitch(Commands("sleep 30", timeout: TimeSpan.FromMilliseconds(300)), policy: Quick with { Retries = 0 });
        e = (await Assert.ThrowsAsync<InfrastructureException>(() => hanging.SetAsync(PowerState.On, CancellationToken.None)))!;
        Assert.That(e.Message, Does.EndWith("'sleep 30' did not finish within 0.3s"));
    }

    // ---- HTTP servers

    sealed class Server(WebApplication app, Uri uri, X509Certificate2? cert) : IAsyncDisposable
    {
        public Uri Uri { get; } = uri;
        public string? Fingerprint { get; } = cert is null ? null : Convert.ToHexString(SHA256.HashData(cert.RawData));
        public async ValueTask DisposeAsync() => await app.DisposeAsync();
    }

    static async Task<Server> ServeAsync(Action<WebApplication> routes, bool https = false)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        X509Certificate2? cert = null;
        if (https)
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var req = new CertificateRequest("CN=bmc.farm.test", key, HashAlgorithmName.SHA256);
            using var ephemeral = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            cert = X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pfx), null);
        }
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => { if (cert is not null) l.UseHttps(cert); }));
        var app = builder.Build();
        routes(app);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Server(app, new Uri(address), cert);
    }

    /// <summary>A Tasmota with four relays; <paramref name="stuck"/> relays acknowledge but do not switch.</summary>
    static Task<Server> TasmotaAsync(int stuck = 0, int failFirst = 0)
    {
        var relays = new Dictionary<int, bool>();
        int requests = 0;
        return ServeAsync(app => app.MapGet("/cm", (string cmnd) =>
        {
            if (Interlocked.Increment(ref requests) <= failFirst) return Results.StatusCode(503);
            var parts = cmnd.Split(' ');
            int n = int.Parse(parts[0]["Power".Length..]);
            if (parts.Length > 1 && n != stuck) relays[n] = parts[1] == "On";
            return Json(new JsonObject { [$"POWER{n}"] = relays.GetValueOrDefault(n) ? "ON" : "OFF" });
        }));
    }

    [Test]
    public async Task TasmotaRelaySwitchesAndReadsBack()
    {
        await using var server = await TasmotaAsync();
        using var backend = new TasmotaPowerBackend(server.Uri, relay: 2, TimeSpan.FromSeconds(5));
        var power = new VerifiedPowerSwitch(backend, policy: Quick);
        await power.SetAsync(PowerState.On, CancellationToken.None);
        Assert.That(await power.GetAsync(CancellationToken.None), Is.EqualTo(PowerState.On));
        Assert.That(backend.LastExchange[0], Is.EqualTo("GET /cm?cmnd=Power2"));
        await power.SetAsync(PowerState.Off, CancellationToken.None);
        Assert.That(await power.GetAsync(CancellationToken.None), Is.EqualTo(PowerState.Off));
    }

    [Test]
    public async Task TasmotaStuckRelayAndServerErrors()
    {
        await using var server = await TasmotaAsync(stuck: 3, failFirst: 1);
        using var stuck = new TasmotaPowerBackend(server.Uri, relay: 3, TimeSpan.FromSeconds(5));
        // The first request gets 503 and is retried; then relay 3 acknowledges but stays off.
        var e = (await Assert.ThrowsAsync<InfrastructureException>(() =>
            new VerifiedPowerSwitch(stuck, policy: Quick with { Settle = TimeSpan.FromMilliseconds(200) }).SetAsync(PowerState.On, CancellationToken.None)))!;
        Assert.That(e.Message, Does.StartWith($"power: tasmota {server.Uri.GetLeftPart(UriPartial.Authority)} relay 3 reads back off"));
        Assert.That(e.Evidence, Does.Contain("{\"POWER3\":\"OFF\"}"));
    }

    [Test]
    public async Task DeviceThatDoesNotAnswerInTimeIsIncomplete()
    {
        await using var server = await ServeAsync(app => app.MapGet("/cm", async (HttpContext ctx) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(10), ctx.RequestAborted);   // a relay board that hangs
            return Results.Ok();
        }));
        using var backend = new TasmotaPowerBackend(server.Uri, 1, TimeSpan.FromMilliseconds(300));
        var e = (await Assert.ThrowsAsync<InfrastructureException>(() => new VerifiedPowerSwitch(backend, policy: Quick).SetAsync(PowerState.On, CancellationToken.None)))!;
        Assert.That(e.Message, Does.EndWith("no answer within 0.3s"));
    }

    [Test]
    public async Task UnreachableDeviceIsIncompleteNamingIt()
    {
        int port;
        using (var l = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0)) { l.Start(); port = ((IPEndPoint)l.LocalEndpoint).Port; }
        using var backend = new TasmotaPowerBackend(new Uri($"http://127.0.0.1:{port}"), 1, TimeSpan.FromSeconds(2));
        var e = (await Assert.ThrowsAsync<InfrastructureException>(() => new VerifiedPowerSwitch(backend, policy: Quick).SetAsync(PowerState.On, CancellationToken.None)))!;
        Assert.That(e.Message, Does.StartWith($"power: tasmota http://127.0.0.1:{port} relay 1: GET /cm?cmnd=Power1%20On:"));
        Assert.That(e.Message, Does.Contain("refused"));
    }

    /// <summary>A Redfish BMC: one system, basic auth, PoweringOn for a few reads before On.</summary>
    // The fakes answer JSON as text: Farm's builds have no reflection serialiser (as under Native AOT).
    static IResult Json(JsonObject body) => Results.Text(body.ToJsonString(), "application/json");

    static Task<Server> BmcAsync(string password = "s3cret", int transitionReads = 2) => ServeAsync(app =>
    {
        string state = "Off";
        int pending = 0;
        app.Use(async (ctx, next) =>
        {
            var expected = "Basic " + Convert.ToBase64String("admin:s3cret"u8.ToArray());
            if (ctx.Request.Headers.Authorization.ToString() != expected) { ctx.Response.StatusCode = 401; return; }
            await next(ctx);
        });
        app.MapGet("/redfish/v1/Systems", () => Json(new JsonObject { ["Members"] = new JsonArray(new JsonObject { ["@odata.id"] = "/redfish/v1/Systems/1" }) }));
        app.MapGet("/redfish/v1/Systems/1", () =>
        {
            var shown = pending > 0 ? (state == "On" ? "PoweringOn" : "PoweringOff") : state;
            if (pending > 0) pending--;
            return Json(new JsonObject { ["Id"] = "1", ["PowerState"] = shown });
        });
        app.MapPost("/redfish/v1/Systems/1/Actions/ComputerSystem.Reset", async (HttpRequest req) =>
        {
            var body = await JsonNode.ParseAsync(req.Body);
            state = body?["ResetType"]?.ToString() switch { "On" => "On", "ForceOff" => "Off", _ => state };
            pending = transitionReads;
            return Results.NoContent();
        });
    }, https: true);

    [Test]
    public async Task RedfishBmcOverHttpsWithAPinnedCertificate()
    {
        await using var bmc = await BmcAsync();
        using var backend = new RedfishPowerBackend(bmc.Uri, "admin", "s3cret", TimeSpan.FromSeconds(5), new TlsPolicy(bmc.Fingerprint));
        var power = new VerifiedPowerSwitch(backend, policy: Quick);
        await power.SetAsync(PowerState.On, CancellationToken.None);   // reads PoweringOn twice, then On
        Assert.That(await power.GetAsync(CancellationToken.None), Is.EqualTo(PowerState.On));
        Assert.That(backend.Describe, Does.EndWith("/redfish/v1/Systems/1"));
        Assert.That(string.Join("\n", backend.LastExchange), Does.Not.Contain("s3cret"), "no secret in evidence");
        await power.SetAsync(PowerState.Off, CancellationToken.None);
        Assert.That(await power.GetAsync(CancellationToken.None), Is.EqualTo(PowerState.Off));
    }

    [Test]
    public async Task RedfishWrongPasswordIsAnErrorNotRetriedAndUnpinnedSelfSignedCertificateIsRefused()
    {
        await using var bmc = await BmcAsync();
        using var wrong = new RedfishPowerBackend(bmc.Uri, "admin", "guess", TimeSpan.FromSeconds(5), new TlsPolicy(bmc.Fingerprint));
        var e = (await Assert.ThrowsAsync<ConfigurationException>(() => new VerifiedPowerSwitch(wrong, policy: Quick).SetAsync(PowerState.On, CancellationToken.None)))!;
        Assert.That(e.Message, Does.Contain("401").And.Contain("check the credentials"));
        Assert.That(e.Message + string.Join("\n", e.Evidence), Does.Not.Contain("guess"));

        using var unpinned = new RedfishPowerBackend(bmc.Uri, "admin", "s3cret", TimeSpan.FromSeconds(5), TlsPolicy.System);
        var tls = (await Assert.ThrowsAsync<InfrastructureException>(() => new VerifiedPowerSwitch(unpinned, policy: Quick).GetAsync(CancellationToken.None)))!;
        Assert.That(tls.Message, Does.Contain("SSL").IgnoreCase);
    }

    [TestCase("http://127.0.0.1:{0}/redfish/v1/Systems/1")]
    [TestCase("//127.0.0.1:{0}/redfish/v1/Systems/1")]
    [TestCase("https://admin:x@127.0.0.1:{0}/redfish/v1/Systems/1")]
    public async Task RedfishNeverFollowsAnOdataIdToAnotherOriginWithTheCredentials(string elsewhere)
    {
        // Another origin (another port on the same host) that records whatever authorization reaches it.
        var seen = new List<string>();
        await using var other = await ServeAsync(app => app.Run(ctx =>
        {
            lock (seen) seen.Add(ctx.Request.Headers.Authorization.ToString());
            ctx.Response.StatusCode = 200;
            ctx.Response.ContentType = "application/json";
            return ctx.Response.WriteAsync(new JsonObject { ["PowerState"] = "On" }.ToJsonString());
        }));
        var target = string.Format(System.Globalization.CultureInfo.InvariantCulture, elsewhere, other.Uri.Port);
        await using var bmc = await ServeAsync(app =>
        {
            app.MapGet("/redfish/v1/Systems", () => Json(new JsonObject { ["Members"] = new JsonArray(new JsonObject { ["@odata.id"] = target }) }));
            app.MapGet("/redfish/v1/Systems/1", (HttpContext ctx) => Results.Redirect($"http://127.0.0.1:{other.Uri.Port}/redfish/v1/Systems/1"));
        }, https: true);
        using var backend = new RedfishPowerBackend(bmc.Uri, "admin", "s3cret", TimeSpan.FromSeconds(5), new TlsPolicy(bmc.Fingerprint));
        var e = (await Assert.ThrowsAsync<InfrastructureException>(() => backend.ReadAsync(CancellationToken.None)))!;
        Assert.That(e.Message, Does.Contain("refusing GET").And.Contain("credentials go nowhere else"));
        Assert.That(seen, Is.Empty, "nothing reached the other origin");

        // The BMC's own system that redirects elsewhere: not followed either.
        using var redirected = new RedfishPowerBackend(bmc.Uri, "admin", "s3cret", TimeSpan.FromSeconds(5), new TlsPolicy(bmc.Fingerprint), system: "/redfish/v1/Systems/1");
        await Assert.ThrowsAsync<InfrastructureException>(() => redirected.ReadAsync(CancellationToken.None));
        Assert.That(seen, Is.Empty, "a redirect is not followed with the credentials");
    }

    [Test]
    public void SecretsComeFromEnvironmentOrFileNeverInline()
    {
        Environment.SetEnvironmentVariable("FARM_TEST_PDU_PASSWORD", "pw1");
        Assert.That(Secret.Resolve("env:FARM_TEST_PDU_PASSWORD", "pdu1"), Is.EqualTo("pw1"));
        var file = Path.Combine(_dir, "secret");
        File.WriteAllText(file, "pw2\n");
        Assert.That(Secret.Resolve($"file:{file}", "pdu1"), Is.EqualTo("pw2"));
        Assert.That(Assert.Throws<ConfigurationException>(() => Secret.Resolve("hunter2", "pdu1"))!.Message,
            Is.EqualTo("pdu1: a credential is written env:NAME or file:/path, never inline"));
        Assert.That(Assert.Throws<ConfigurationException>(() => Secret.Resolve("env:FARM_TEST_UNSET_VAR", "pdu1"))!.Message,
            Is.EqualTo("pdu1: environment variable FARM_TEST_UNSET_VAR is not set"));
    }
}
