using System.Collections.Concurrent;
using Farm.Spec;

namespace Farm.PowerControl;

/// <summary>
/// How Farm switches one physical board, as its lab file says (<c>power:</c>), validated. Each
/// backend has its own record; the record makes its backend. Secrets (<c>password</c>,
/// <c>community</c>) stay <c>env:NAME</c> or <c>file:/path</c> references until the backend is made.
/// </summary>
internal abstract record PowerSpec
{
    /// <summary>The backend's name in lab files (<c>power.backend</c>).</summary>
    public abstract string Backend { get; }

    /// <summary>Where the power is, for listings: <c>snmp 10.0.0.5:161 outlet 3</c>.</summary>
    public abstract string Summary { get; }

    internal abstract IPowerBackend Create(PowerContext context);
}

/// <summary>What a backend is made for: the board (for messages and per-device locks) and its secrets, resolved only now.</summary>
internal sealed record PowerContext(string Board)
{
    public string Resolve(string secretReference) => Secret.Resolve(secretReference, $"board {Board} power");

    /// <summary>How long one request to a PDU or BMC may take.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a local power command may take.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// One power backend a lab file can name: its name, the keys it owns under <c>power:</c>, and its
/// reader, which validates them (each problem at its own file:line:col) and returns its record.
/// </summary>
internal sealed record PowerBackendEntry(string Name, IReadOnlyList<string> Keys, Func<PowerFields, PowerSpec?> Read);

/// <summary>
/// The power backends by name (labgrid's drivers, LAVA's power commands). Farm's own are here; a
/// new one is one file that calls <see cref="Register"/>, with its record, reader and backend class.
/// </summary>
internal static class PowerBackends
{
    static readonly ConcurrentDictionary<string, PowerBackendEntry> Entries = new(StringComparer.Ordinal);

    static PowerBackends()
    {
        foreach (var e in new[] { CommandPower.Entry, SnmpPower.Entry, TasmotaPower.Entry, RedfishPower.Entry, PduDaemonPower.Entry, IpmiPower.Entry })
            Entries[e.Name] = e;
    }

    /// <summary>Adds a backend; two backends claiming one name is a programming error.</summary>
    public static void Register(PowerBackendEntry entry)
    {
        if (!Entries.TryAdd(entry.Name, entry) && !ReferenceEquals(Entries[entry.Name], entry))
            throw new ArgumentException($"power backend \"{entry.Name}\" is registered already", nameof(entry));
    }

    public static PowerBackendEntry? Find(string name) => Entries.GetValueOrDefault(name);

    public static IReadOnlyList<string> Names => [.. Entries.Keys.Order(StringComparer.Ordinal)];

    /// <summary><c>power:</c> read by the backend it names; a key that backend does not take is reported at its line.</summary>
    public static PowerSpec? Read(SpecMapping power)
    {
        if (power.OneOf("backend", Names, required: true) is not { } name || Find(name) is not { } entry) return null;
        var fields = new PowerFields(power, name, entry.Keys);
        fields.RejectForeignKeys();
        return entry.Read(fields);
    }
}

/// <summary>A backend's view of its <c>power:</c> mapping: typed reads that report at the value's own position.</summary>
internal sealed class PowerFields(SpecMapping mapping, string backend, IReadOnlyList<string> keys)
    : SpecFields(mapping, $"the {backend} backend", "backend", keys)
{
    /// <summary>A secret as a reference: <c>env:NAME</c> or <c>file:/path</c>, never the secret itself.</summary>
    public string? Secret(string key)
    {
        if (Mapping.Text(key) is not { } text) return null;
        if (text.StartsWith("env:", StringComparison.Ordinal) || text.StartsWith("file:", StringComparison.Ordinal)) return text;
        Mapping.Report(key, "write a reference, env:NAME or file:/path, never the secret itself (lab files get committed)");
        return null;
    }

    /// <summary><c>host[:port]</c>, kept as written (for listings) once it parses.</summary>
    public string? HostPort(string key, int defaultPort) => HostAndPort(key, defaultPort) is null ? null : Text(key);

    /// <summary>An http(s) URL without credentials (a lab file is shown on /api/boards and the dashboard).</summary>
    public Uri? Url(string key)
    {
        if (Mapping.Text(key) is not { } text) return null;
        if (!Uri.TryCreate(text, UriKind.Absolute, out var u) || u.Scheme is not ("http" or "https"))
            Mapping.Report(key, "expected an http:// or https:// URL");
        else if (u.UserInfo.Length > 0)
            Mapping.Report(key, "credentials in the URL would be shown to every viewer; use user: and password: env:NAME or file:/path");
        else
            return u;
        return null;
    }

    internal static (string Host, int Port) Endpoint(string hostPort, int defaultPort) =>
        Farm.Spec.HostPort.TryParse(hostPort, defaultPort, out var h, out var p) ? (h, p) : throw new ConfigurationException($"power.host \"{hostPort}\" is not host:port");
}

/// <summary><c>backend: command</c>: shell commands that switch and read the outlet (a USB relay's CLI, a script).</summary>
internal sealed record CommandPower(string On, string Off, string Status) : PowerSpec
{
    internal static readonly PowerBackendEntry Entry = new("command", ["on", "off", "status"], f =>
    {
        var all = f.Require("on", "off", "status");
        var (on, off, status) = (f.Text("on"), f.Text("off"), f.Text("status"));
        return all && on is not null && off is not null && status is not null ? new CommandPower(on, off, status) : null;
    });

    public override string Backend => "command";
    public override string Summary => $"command {On}";
    internal override IPowerBackend Create(PowerContext c) => new CommandPowerBackend(c.Board, On, Off, Status, c.CommandTimeout);
}

/// <summary><c>backend: snmp</c>: a PDU's outlet over SNMP v2c (APC PowerNet-MIB).</summary>
internal sealed record SnmpPower(string Host, int Outlet, string Community) : PowerSpec
{
    internal const int DefaultPort = 161;

    internal static readonly PowerBackendEntry Entry = new("snmp", ["host", "outlet", "community"], f =>
    {
        var all = f.Require("host", "outlet", "community");
        var (host, outlet, community) = (f.HostPort("host", DefaultPort), f.Integer("outlet"), f.Secret("community"));
        return all && host is not null && outlet is { } o && community is not null ? new SnmpPower(host, o, community) : null;
    });

    public override string Backend => "snmp";
    public override string Summary => $"snmp {Host} outlet {Outlet}";

    internal override IPowerBackend Create(PowerContext c)
    {
        var (host, port) = PowerFields.Endpoint(Host, DefaultPort);
        return new SnmpPowerBackend(host, port, Outlet, c.Resolve(Community), c.RequestTimeout);
    }
}

/// <summary><c>backend: tasmota</c>: a Tasmota smart plug or relay board over HTTP.</summary>
internal sealed record TasmotaPower(Uri Url, int Outlet) : PowerSpec
{
    internal static readonly PowerBackendEntry Entry = new("tasmota", ["url", "outlet"], f =>
    {
        var all = f.Require("url", "outlet");
        var (url, outlet) = (f.Url("url"), f.Integer("outlet"));
        return all && url is not null && outlet is { } o ? new TasmotaPower(url, o) : null;
    });

    public override string Backend => "tasmota";
    public override string Summary => $"tasmota {Url} relay {Outlet}";
    internal override IPowerBackend Create(PowerContext c) => new TasmotaPowerBackend(Url, Outlet, c.RequestTimeout);
}

/// <summary><c>backend: redfish</c>: a BMC's ComputerSystem reset over Redfish, the TLS certificate optionally pinned.</summary>
internal sealed record RedfishPower(Uri Url, string User, string Password, string? Fingerprint = null, string? System = null) : PowerSpec
{
    internal static readonly PowerBackendEntry Entry = new("redfish", ["url", "user", "password", "fingerprint", "system"], f =>
    {
        var all = f.Require("url", "user", "password");
        var (url, user, password, fingerprint, system) = (f.Url("url"), f.Text("user"), f.Secret("password"), f.Text("fingerprint"), f.Text("system"));
        return all && url is not null && user is not null && password is not null ? new RedfishPower(url, user, password, fingerprint, system) : null;
    });

    public override string Backend => "redfish";
    public override string Summary => $"redfish {Url}";

    internal override IPowerBackend Create(PowerContext c) =>
        new RedfishPowerBackend(Url, User, c.Resolve(Password), c.RequestTimeout, new TlsPolicy(Fingerprint), System);
}

/// <summary><c>backend: pdudaemon</c>: LAVA's pdudaemon, which switches but cannot read back; the read-back is a command.</summary>
internal sealed record PduDaemonPower(Uri Url, string Pdu, int Outlet, string Status) : PowerSpec
{
    internal static readonly PowerBackendEntry Entry = new("pdudaemon", ["url", "pdu", "outlet", "status"], f =>
    {
        // pdudaemon cannot say whether an outlet is on: the read-back must come from elsewhere.
        var all = f.Require("url", "pdu", "outlet", "status");
        var (url, pdu, outlet, status) = (f.Url("url"), f.Text("pdu"), f.Integer("outlet"), f.Text("status"));
        return all && url is not null && pdu is not null && outlet is { } o && status is not null ? new PduDaemonPower(url, pdu, o, status) : null;
    });

    public override string Backend => "pdudaemon";
    public override string Summary => $"pdudaemon {Url} {Pdu} port {Outlet}";

    internal override IPowerBackend Create(PowerContext c) =>
        new PduDaemonPowerBackend(Url, Pdu, Outlet, new CommandPowerBackend(c.Board, "true", "true", Status, c.CommandTimeout), c.RequestTimeout);
}

/// <summary><c>backend: ipmi</c>: a BMC's chassis power over IPMI v2 (ipmitool lanplus).</summary>
internal sealed record IpmiPower(string Host, string User, string Password) : PowerSpec
{
    internal const int DefaultPort = 623;

    internal static readonly PowerBackendEntry Entry = new("ipmi", ["host", "user", "password"], f =>
    {
        var all = f.Require("host", "user", "password");
        var (host, user, password) = (f.HostPort("host", DefaultPort), f.Text("user"), f.Secret("password"));
        return all && host is not null && user is not null && password is not null ? new IpmiPower(host, user, password) : null;
    });

    public override string Backend => "ipmi";
    public override string Summary => $"ipmi {Host}";

    internal override IPowerBackend Create(PowerContext c)
    {
        var (host, port) = PowerFields.Endpoint(Host, DefaultPort);
        return new IpmiPowerBackend(host, port, User, c.Resolve(Password), c.RequestTimeout);
    }
}
