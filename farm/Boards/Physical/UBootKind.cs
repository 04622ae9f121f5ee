using Farm.Boards.Spec;
using Farm.Consoles;
using Farm.PowerControl;
using Farm.Spec;

namespace Farm.Boards.Physical;

/// <summary>A physical board booted by U-Boot (<c>kind: uboot</c>): its power, UART, network and U-Boot, validated.</summary>
internal sealed record UBootBoardSpec(PowerSpec Power, ConsoleSpec Serial, NetworkSpec Network, UBootSpec UBoot) : BoardKindSpec
{
    public override string Kind => "uboot";

    public override bool Physical => true;

    public override string PowerSummary => Power.Summary;

    public override string ConsoleSummary => Serial.Summary;

    internal override IBoardConfig Config(BoardSpec board) => Bench(board);

    PhysicalBoardConfig Bench(BoardSpec board) =>
        new(board.Name, board.Mode, board.XenCmdline, board.LinuxCmdline, Power, Serial, Network, UBoot);

    /// <summary>Asks the power controller for the outlet state and the console transport whether it is reachable.</summary>
    internal override async Task<(string Power, string Console)?> ProbeAsync(BoardSpec board, CancellationToken ct) =>
        (await ProbePowerAsync(board, ct).ConfigureAwait(false), await ProbeConsoleAsync(ct).ConfigureAwait(false));

    async Task<string> ProbePowerAsync(BoardSpec b, CancellationToken ct)
    {
        try
        {
            await using var board = new PhysicalBoard(Bench(b), Path.Combine(Path.GetTempPath(), "farm-boards-check"));
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
            limit.CancelAfter(TimeSpan.FromSeconds(15));
            return $"outlet reads {(await board.Power.GetAsync(limit.Token).ConfigureAwait(false)).ToString().ToLowerInvariant()}";
        }
        catch (Exception e) when (e is FarmException or OperationCanceledException)
        {
            return $"UNHEALTHY: {e.Message}";
        }
    }

    async Task<string> ProbeConsoleAsync(CancellationToken ct)
    {
        try
        {
            return await Serial.ProbeAsync(ct).ConfigureAwait(false);
        }
        catch (InfrastructureException e)
        {
            return $"UNHEALTHY: {e.Message}";
        }
    }
}

/// <summary>
/// <c>kind: uboot</c>: a board on a bench. Owns <c>uboot:</c> (board types and boards) and, on
/// boards only, <c>power:</c> (read by the backend it names), <c>serial:</c> and <c>network:</c>;
/// the factory is <see cref="PhysicalBoardConfig"/> → <see cref="PhysicalBoard"/>.
/// </summary>
internal static class UBootKind
{
    static readonly string[] UBootKeys = ["prompt", "interface", "xen-addr", "kernel-addr", "initrd-addr", "fdt-addr"];
    static readonly string[] NetworkKeys = ["ip", "server-ip", "tftp-root", "ssh"];

    internal static readonly BoardKindSection<UBootSpec> UBoot = new("uboot", m => m.Mapping("uboot", UBootKeys) is { } u ? ReadUBoot(u) : null);
    internal static readonly BoardKindSection<PowerSpec> Power = new("power", m => m.Mapping("power", null) is { } p ? PowerBackends.Read(p) : null, boardOnly: true);
    internal static readonly BoardKindSection<ConsoleSpec> Serial = new("serial", m => m.Mapping("serial", null) is { } s ? ConsoleTransports.Read(s) : null, boardOnly: true);
    internal static readonly BoardKindSection<NetworkSpec> Network = new("network", m => m.Mapping("network", NetworkKeys) is { } n ? ReadNetwork(n) : null, boardOnly: true);

    internal static readonly BoardKindEntry Entry = new("uboot", "U-Boot", [Power, Serial, Network, UBoot], Build);

    static UBootBoardSpec? Build(BoardKindBuild b)
    {
        var before = b.Errors;
        // A section that is written but wrong has been reported where it is wrong; only say what is absent.
        if (!b.Written(Power)) b.Problem("power", "a uboot board needs power: {backend: ..., ...} (how Farm switches it)");
        if (!b.Written(Serial)) b.Problem("serial", "a uboot board needs serial: {device: /dev/ttyUSB0} or {ser2net: host:port}");
        if (!b.Written(Network)) b.Problem("network", "a uboot board needs network: {ip, server-ip, tftp-root}");
        b.RejectForeign();
        if (b.Errors > before || b.Section(Power) is not { } power || b.Section(Serial) is not { } serial || b.Section(Network) is not { } network) return null;
        return new UBootBoardSpec(power, serial, network, b.Section(UBoot) ?? new UBootSpec());
    }

    static UBootSpec ReadUBoot(SpecMapping u)
    {
        var d = new UBootSpec();
        return new UBootSpec
        {
            Prompt = u.Text("prompt") ?? d.Prompt,
            Interface = u.Text("interface"),
            XenAddr = Address(u, "xen-addr") ?? d.XenAddr,
            KernelAddr = Address(u, "kernel-addr") ?? d.KernelAddr,
            InitrdAddr = Address(u, "initrd-addr") ?? d.InitrdAddr,
            FdtAddr = Address(u, "fdt-addr") ?? d.FdtAddr,
        };
    }

    static ulong? Address(SpecMapping m, string key)
    {
        if (m.Text(key) is not { } text) return null;
        if (text.StartsWith("0x", StringComparison.Ordinal) &&
            ulong.TryParse(text.AsSpan(2), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out var a))
            return a;
        m.Report(key, $"\"{text}\" is not a hex address like 0x40400000");
        return null;
    }

    static NetworkSpec? ReadNetwork(SpecMapping n)
    {
        var ip = n.Text("ip", required: true, "the address U-Boot takes");
        var server = n.Text("server-ip", required: true, "the TFTP server's address as the board sees it");
        var root = n.Text("tftp-root", required: true, "the directory the TFTP server serves; Farm writes each run's images under it");
        var ssh = n.Endpoint("ssh", 22);
        if (ip is null || server is null || root is null) return null;
        return new NetworkSpec { Ip = ip, ServerIp = server, TftpRoot = root, SshHost = ssh?.Host ?? ip, SshPort = ssh?.Port ?? 22 };
    }
}
