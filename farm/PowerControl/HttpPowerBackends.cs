using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Security;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Farm.PowerControl;

/// <summary>Shared HTTP plumbing: one client per device, faults as infrastructure with the exchange as evidence.</summary>
internal abstract class HttpPowerBackend : IPowerBackend, IDisposable
{
    protected HttpPowerBackend(Uri baseUri, TimeSpan timeout, string? user, string? password, TlsPolicy tls)
    {
        BaseUri = baseUri;
        // A redirect is not followed: the device's credentials go to the device and nowhere else.
        var handler = new SocketsHttpHandler { AllowAutoRedirect = false };
        if (tls.Fingerprint is { } pin)
            handler.SslOptions = new SslClientAuthenticationOptions
            {
                // BMCs ship self-signed certificates: pin the one the lab expects instead of trusting any.
                RemoteCertificateValidationCallback = (_, cert, _, errors) =>
                    errors == SslPolicyErrors.None || (cert is not null && Convert.ToHexString(SHA256.HashData(cert.GetRawCertData())).Equals(pin, StringComparison.OrdinalIgnoreCase)),
            };
        Client = new HttpClient(handler) { BaseAddress = baseUri, Timeout = timeout };
        if (user is not null)
            Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic",
                Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
    }

    protected Uri BaseUri { get; }

    protected HttpClient Client { get; }

    public string Device => $"{Kind} {BaseUri.GetLeftPart(UriPartial.Authority)}";

    public abstract string Describe { get; }

    protected abstract string Kind { get; }

    public IReadOnlyList<string> LastExchange { get; private set; } = [];

    public abstract Task SwitchAsync(PowerState state, CancellationToken ct);

    public abstract Task<PowerState> ReadAsync(CancellationToken ct);

    /// <summary>Sends a request; a network fault, timeout or non-2xx status is a lab fault. Returns the JSON body (or null).</summary>
    protected async Task<JsonNode?> SendAsync(HttpMethod method, string path, JsonObject? body, CancellationToken ct, bool json = true)
    {
        // Paths can come from the device's own answers (Redfish's @odata.id): one naming another origin
        // ("https://elsewhere/...", "//elsewhere/...") would carry the basic-auth credentials there.
        if (!Uri.TryCreate(BaseUri, path, out var target) || !SameOrigin(target))
            throw new InfrastructureException($"power: {Describe}: refusing {method} {MessageText.Clip(path.Length > 200 ? path[..200] : path)}: not on {BaseUri.GetLeftPart(UriPartial.Authority)}, and the device's credentials go nowhere else", LastExchange);
        using var request = new HttpRequestMessage(method, target);
        if (body is not null) request.Content = new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json");
        var line = $"{method} {path}{(body is null ? "" : " " + body.ToJsonString())}";
        try
        {
            using var response = await Client.SendAsync(request, ct).ConfigureAwait(false);
            var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            LastExchange = [line, $"{(int)response.StatusCode} {response.ReasonPhrase}", Truncate(text)];
            if (response.StatusCode is System.Net.HttpStatusCode.Unauthorized or System.Net.HttpStatusCode.Forbidden)
                throw new ConfigurationException($"power: {Describe}: {(int)response.StatusCode} {response.ReasonPhrase}: check the credentials", LastExchange);
            if (!response.IsSuccessStatusCode)
                throw new InfrastructureException($"power: {Describe}: {line} answered {(int)response.StatusCode} {response.ReasonPhrase}", LastExchange);
            return text.Length == 0 || !json ? null : JsonNode.Parse(text);
        }
        catch (Exception e) when (e is HttpRequestException or System.Text.Json.JsonException
                                      || (e is TaskCanceledException && !ct.IsCancellationRequested))
        {
            LastExchange = [line, $"{e.GetType().Name}: {e.Message}"];
            throw new InfrastructureException($"power: {Describe}: {line}: {(e is TaskCanceledException ? $"no answer within {Client.Timeout.TotalSeconds:0.#}s" : e.Message)}", LastExchange, e);
        }
    }

    bool SameOrigin(Uri target) =>
        target.IsAbsoluteUri && target.Scheme == BaseUri.Scheme && string.Equals(target.IdnHost, BaseUri.IdnHost, StringComparison.OrdinalIgnoreCase) && target.Port == BaseUri.Port
        && target.UserInfo.Length == 0;

    static string Truncate(string s) => s.Length <= 500 ? s : s[..500] + "...";

    public void Dispose() => Client.Dispose();
}

/// <summary>How to trust an HTTPS device: the system's CAs, plus (optionally) one pinned certificate by SHA-256.</summary>
internal sealed record TlsPolicy(string? Fingerprint = null)
{
    public static TlsPolicy System { get; } = new();
}

/// <summary>
/// A Tasmota relay board (and Tasmota-flashed smart plugs): <c>GET /cm?cmnd=Power2 On</c> switches
/// relay 2, <c>GET /cm?cmnd=Power2</c> reads it; the answer is <c>{"POWER2":"ON"}</c> (<c>POWER</c>
/// on a single-relay device). Web password, if set, as <c>user</c>/<c>password</c> query parameters.
/// </summary>
internal sealed class TasmotaPowerBackend(Uri baseUri, int relay, TimeSpan timeout, string? user = null, string? password = null)
    : HttpPowerBackend(baseUri, timeout, null, null, TlsPolicy.System)
{
    protected override string Kind => "tasmota";

    public override string Describe => $"{Device} relay {relay}";

    string Command(string cmnd) =>
        $"/cm?cmnd={Uri.EscapeDataString(cmnd)}" + (user is null ? "" : $"&user={Uri.EscapeDataString(user)}&password={Uri.EscapeDataString(password ?? "")}");

    public override async Task SwitchAsync(PowerState state, CancellationToken ct) =>
        Parse(await SendAsync(HttpMethod.Get, Command($"Power{relay} {(state == PowerState.On ? "On" : "Off")}"), null, ct).ConfigureAwait(false));

    public override async Task<PowerState> ReadAsync(CancellationToken ct) =>
        Parse(await SendAsync(HttpMethod.Get, Command($"Power{relay}"), null, ct).ConfigureAwait(false));

    PowerState Parse(JsonNode? answer)
    {
        var value = answer?[$"POWER{relay}"] ?? (relay == 1 ? answer?["POWER"] : null);
        return value?.ToString() switch
        {
            "ON" => PowerState.On,
            "OFF" => PowerState.Off,
            _ => throw new InfrastructureException($"power: {Describe}: answer has no POWER{relay} ON/OFF", LastExchange),
        };
    }
}

/// <summary>
/// A BMC speaking Redfish (DMTF DSP0266): <c>POST {system}/Actions/ComputerSystem.Reset</c> with
/// <c>ResetType</c> On or ForceOff, state from <c>GET {system}</c> <c>PowerState</c>. The system is
/// the first member of <c>/redfish/v1/Systems</c> unless given. HTTP basic authentication.
/// </summary>
internal sealed class RedfishPowerBackend(Uri baseUri, string user, string password, TimeSpan timeout, TlsPolicy tls, string? system = null)
    : HttpPowerBackend(baseUri, timeout, user, password, tls)
{
    string? _system = system;

    protected override string Kind => "redfish";

    public override string Describe => $"{Device} {_system ?? "system"}";

    async Task<string> SystemAsync(CancellationToken ct)
    {
        if (_system is not null) return _system;
        var systems = await SendAsync(HttpMethod.Get, "/redfish/v1/Systems", null, ct).ConfigureAwait(false);
        _system = systems?["Members"]?.AsArray().FirstOrDefault()?["@odata.id"]?.ToString()
            ?? throw new InfrastructureException($"power: {Device}: /redfish/v1/Systems lists no system", LastExchange);
        return _system;
    }

    public override async Task SwitchAsync(PowerState state, CancellationToken ct)
    {
        var system = await SystemAsync(ct).ConfigureAwait(false);
        await SendAsync(HttpMethod.Post, $"{system}/Actions/ComputerSystem.Reset",
            new JsonObject { ["ResetType"] = state == PowerState.On ? "On" : "ForceOff" }, ct).ConfigureAwait(false);
    }

    public override async Task<PowerState> ReadAsync(CancellationToken ct)
    {
        var system = await SystemAsync(ct).ConfigureAwait(false);
        var s = await SendAsync(HttpMethod.Get, system, null, ct).ConfigureAwait(false);
        // PoweringOn / PoweringOff are transitions: not yet the state asked for, so read-back keeps polling.
        return s?["PowerState"]?.ToString() switch
        {
            "On" => PowerState.On,
            "Off" => PowerState.Off,
            "PoweringOn" or "PoweringOff" => PowerState.Unknown,
            var other => throw new InfrastructureException($"power: {Describe}: PowerState is \"{other}\"", LastExchange),
        };
    }
}

/// <summary>
/// An outlet behind LAVA's pdudaemon (its HTTP listener): <c>GET /power/control/on?hostname=PDU&amp;port=N</c>.
/// pdudaemon queues the request and cannot report an outlet's state, so the read-back is a
/// <paramref name="status"/> command that asks the truth elsewhere (the PDU itself, a BMC, a
/// sensor) and prints on or off.
/// </summary>
internal sealed class PduDaemonPowerBackend(Uri baseUri, string pdu, int port, CommandPowerBackend status, TimeSpan timeout)
    : HttpPowerBackend(baseUri, timeout, null, null, TlsPolicy.System)
{
    protected override string Kind => "pdudaemon";

    public override string Describe => $"{Device} {pdu} port {port}";

    public override async Task SwitchAsync(PowerState state, CancellationToken ct) =>
        await SendAsync(HttpMethod.Get,
            $"/power/control/{(state == PowerState.On ? "on" : "off")}?hostname={Uri.EscapeDataString(pdu)}&port={port}", null, ct, json: false).ConfigureAwait(false);

    public override Task<PowerState> ReadAsync(CancellationToken ct) => status.ReadAsync(ct);
}
