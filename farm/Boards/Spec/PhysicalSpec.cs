namespace Farm.Boards.Spec;

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
