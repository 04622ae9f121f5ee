using Farm.Serial;

namespace Farm.Boards.Spec;

/// <summary>A board's UART: a local tty (<c>device</c>) or a console server port (<c>ser2net: host:port</c>).</summary>
internal sealed record SerialSpec
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
internal sealed record NetworkSpec
{
    public required string Ip { get; init; }
    public required string ServerIp { get; init; }
    public required string TftpRoot { get; init; }
    public required string SshHost { get; init; }
    public int SshPort { get; init; } = 22;
}

/// <summary>A board type's U-Boot: its prompt, the NIC to use, and where each image goes (hex addresses).</summary>
internal sealed record UBootSpec
{
    public string Prompt { get; init; } = "=> ";
    public string? Interface { get; init; }
    public ulong XenAddr { get; init; } = 0x40400000;
    public ulong KernelAddr { get; init; } = 0x49000000;
    public ulong InitrdAddr { get; init; } = 0x50000000;
    public ulong FdtAddr { get; init; } = 0x44000000;
}
