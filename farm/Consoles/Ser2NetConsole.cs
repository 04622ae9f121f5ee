using Farm.Serial;

namespace Farm.Consoles;

/// <summary><c>transport: ser2net</c> (or just <c>ser2net: host:port</c>): a console server's port, raw or telnet; the server sets the line.</summary>
internal sealed record Ser2NetConsole(string Host, int Port, Ser2NetMode Mode) : ConsoleSpec
{
    static readonly Dictionary<string, Ser2NetMode> Modes = new() { ["raw"] = Ser2NetMode.Raw, ["telnet"] = Ser2NetMode.Telnet };

    internal static readonly ConsoleTransportEntry Entry = new("ser2net", ["ser2net", "mode"], f =>
    {
        var all = f.Require("ser2net");
        var (endpoint, mode) = (f.HostAndPort("ser2net", defaultPort: null), f.Choice("mode", Modes));
        return all && endpoint is { } e ? new Ser2NetConsole(e.Host, e.Port, mode ?? Ser2NetMode.Raw) : null;
    }, new ConsoleShorthand("ser2net", "host:port of a console server"));

    public override string Transport => "ser2net";

    public override string Summary => $"ser2net {Host}:{Port} ({Mode.ToString().ToLowerInvariant()})";

    internal override Task<Stream> OpenAsync(CancellationToken ct) => Ser2Net.ConnectAsync(Host, Port, Mode, ct);

    internal override async Task<string> ProbeAsync(CancellationToken ct)
    {
        await using var stream = await OpenAsync(ct).ConfigureAwait(false);
        return "console server answers";
    }
}
