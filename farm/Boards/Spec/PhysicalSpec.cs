using Farm.Serial;

namespace Farm.Boards.Spec;

/// <summary>The power backends a lab file can name (<c>power.backend</c>).</summary>
public enum PowerBackendKind { Command, Snmp, Tasmota, Redfish, PduDaemon, Ipmi }

/// <summary>
/// How Farm switches one physical board, as written on the board (<c>power:</c>). Secrets
/// (<c>password</c>, <c>community</c>) are <c>env:NAME</c> or <c>file:/path</c> references.
/// </summary>
public sealed record PowerSpec
{
    public required PowerBackendKind Backend { get; init; }
    public string? Host { get; init; }
    public int? Outlet { get; init; }
    public string? Url { get; init; }
    public string? User { get; init; }
    public string? Password { get; init; }
    public string? Community { get; init; }
    public string? On { get; init; }
    public string? Off { get; init; }
    public string? Status { get; init; }
    public string? Fingerprint { get; init; }
    public string? System { get; init; }

    /// <summary>pdudaemon's name for the PDU (<c>hostname=</c> in its API).</summary>
    public string? Pdu { get; init; }

    /// <summary>The port <see cref="Host"/> means when it names none (SNMP 161, IPMI 623).</summary>
    public int? DefaultPort => Backend switch { PowerBackendKind.Snmp => 161, PowerBackendKind.Ipmi => 623, _ => null };

    /// <summary><see cref="Host"/> as host and port (validated when the lab file was read).</summary>
    public (string Host, int Port) Endpoint => HostPort.TryParse(Host, DefaultPort, out var h, out var p)
        ? (h, p) : throw new ConfigurationException($"power.host \"{Host}\" is not host:port");

    /// <summary>Where the power is, for listings: <c>snmp 10.0.0.5:161 outlet 3</c>.</summary>
    public string Summary => Backend switch
    {
        PowerBackendKind.Snmp => $"snmp {Host} outlet {Outlet}",
        PowerBackendKind.Tasmota => $"tasmota {Url} relay {Outlet}",
        PowerBackendKind.Redfish => $"redfish {Url}",
        PowerBackendKind.Ipmi => $"ipmi {Host}",
        PowerBackendKind.PduDaemon => $"pdudaemon {Url} {Pdu} port {Outlet}",
        _ => $"command {On}",
    };
}

/// <summary>A board's UART: a local tty (<c>device</c>) or a console server port (<c>ser2net: host:port</c>).</summary>
public sealed record SerialSpec
{
    public string? Device { get; init; }

    /// <summary>Line settings of a local tty (a console server sets its own).</summary>
    public SerialSettings Line { get; init; } = SerialSettings.Default;

    public int Baud => Line.Baud;
    public string? Ser2NetHost { get; init; }
    public int Ser2NetPort { get; init; }
    public Ser2NetMode Mode { get; init; } = Ser2NetMode.Raw;

    public string Summary => Device is not null ? $"{Device} {Line}" : $"ser2net {Ser2NetHost}:{Ser2NetPort} ({Mode.ToString().ToLowerInvariant()})";
}

/// <summary>
/// A board's network as U-Boot and Farm see it: U-Boot's address and the TFTP server's, the
/// directory the TFTP server serves (Farm writes each run's images under it), and how Farm
/// reaches the booted system's sshd.
/// </summary>
public sealed record NetworkSpec
{
    public required string Ip { get; init; }
    public required string ServerIp { get; init; }
    public required string TftpRoot { get; init; }
    public required string SshHost { get; init; }
    public int SshPort { get; init; } = 22;
}

/// <summary>A board type's U-Boot: its prompt, the NIC to use, and where each image goes (hex addresses).</summary>
public sealed record UBootSpec
{
    public string Prompt { get; init; } = "=> ";
    public string? Interface { get; init; }
    public ulong XenAddr { get; init; } = 0x40400000;
    public ulong KernelAddr { get; init; } = 0x49000000;
    public ulong InitrdAddr { get; init; } = 0x50000000;
    public ulong FdtAddr { get; init; } = 0x44000000;
}

/// <summary><c>host:port</c> as written in lab files; the port may be left out where there is a default.</summary>
public static class HostPort
{
    public static bool TryParse(string? text, int? defaultPort, out string host, out int port)
    {
        (host, port) = ("", 0);
        if (string.IsNullOrEmpty(text)) return false;
        var i = text.LastIndexOf(':');
        if (i < 0 && defaultPort is { } d) (host, port) = (text, d);
        else if (i > 0 && int.TryParse(text.AsSpan(i + 1), out var p) && p is > 0 and < 65536)
            (host, port) = (text[..i], p);
        return port != 0;
    }
}
