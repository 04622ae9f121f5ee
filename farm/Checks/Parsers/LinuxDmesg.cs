using System.Text.RegularExpressions;

namespace Farm.Checks.Parsers;

/// <summary>A host bridge Linux registered: <c>pci-host-generic 4010000000.pcie: ECAM at [mem 0x4010000000-0x401fffffff] for [bus 00-ff]</c>.</summary>
internal sealed record EcamBridge(string Device, AddressRange Ecam, int BusStart, int BusEnd, string Line);

/// <summary><c>pci_bus 0000:00: root bus resource [mem 0x10000000-0x3efeffff]</c>.</summary>
internal sealed record BusWindow(string Bus, string Kind, AddressRange Range, string Line);

/// <summary>A BAR as probed (<c>pci 0000:00:01.0: BAR 0 [mem 0x00000000-0x00003fff 64bit]</c>) or as assigned.</summary>
internal sealed record PciBar(string Bdf, int Index, string Kind, AddressRange Range, bool Is64, bool Prefetchable, bool Assigned, string Line)
{
    /// <summary>One of a bridge's forwarding windows rather than a BAR of its own (see <see cref="LinuxDmesg.IsBridgeResource"/>).</summary>
    public bool IsBridgeWindow { get; init; }
}

internal sealed record PciDeviceLine(string Bdf, string VendorDevice, string Class, string Line);

/// <summary>An ACPI host bridge: <c>ACPI: PCI Root Bridge [PCI0] (domain 0000 [bus 00-ff])</c>.</summary>
internal sealed record AcpiHostBridge(string Name, int Segment, int BusStart, int BusEnd, string Line);

/// <summary>A PCI-to-PCI bridge's forwarding window (resources 13-16; <c>bridge window [mem ...]</c>).</summary>
internal sealed record BridgeWindow(string Bdf, string Kind, AddressRange Range, bool Prefetchable, string Line);

/// <summary><c>pci 0000:00:01.0: PCI bridge to [bus 01-ff]</c>: the buses behind a bridge.</summary>
internal sealed record BridgeBuses(string Bdf, int Secondary, int Subordinate, string Line);

/// <summary>What Linux's boot log says about PCI, interrupts and IOMMUs.</summary>
internal sealed record LinuxDmesg(
    IReadOnlyList<string> Lines,
    IReadOnlyList<EcamBridge> Bridges,
    IReadOnlyList<BusWindow> Windows,
    IReadOnlyList<PciDeviceLine> Devices,
    IReadOnlyList<PciBar> Bars,
    IReadOnlyList<string> BarFailures,
    IReadOnlyList<string> XenAddFailures,
    IReadOnlyList<(string Bdf, int Group, string Line)> IommuGroups,
    IReadOnlyList<string> SmmuLines,
    IReadOnlyList<string> SmmuFaults,
    IReadOnlyList<string> ItsLines,
    IReadOnlyList<string> MsiDomainLines,
    IReadOnlyList<string> Warnings,
    IReadOnlyList<string> Oopses,
    string? Version)
{
    /// <summary>ACPI host bridges (drivers/acpi/pci_root.c), so an ACPI server's host bridge is not invisible.</summary>
    public IReadOnlyList<AcpiHostBridge> AcpiBridges { get; init; } = [];

    /// <summary>Bridge windows as the kernel set them: the last word per (bridge, kind, prefetchable).</summary>
    public IReadOnlyList<BridgeWindow> BridgeWindows { get; init; } = [];

    public IReadOnlyList<BridgeBuses> BridgeBusRanges { get; init; } = [];

    /// <summary>SMMU global faults (GFSR decoded) and SMMUv3 global errors.</summary>
    public IReadOnlyList<SmmuGlobalFault> SmmuGlobalFaults { get; init; } = [];

    /// <summary>Lines the kernel printed with its timestamp: a kernel log even when the excerpt has no 'Linux version' line.</summary>
    public IReadOnlyList<string> KernelLines { get; init; } = [];

    /// <summary>Assigned BARs, the last word per (device, index): what the device decodes now.</summary>
    public IReadOnlyList<PciBar> AssignedBars =>
        Bars.Where(b => b.Assigned && !b.IsBridgeWindow).GroupBy(b => (b.Bdf, b.Index)).Select(g => g.Last()).ToList();

    /// <summary>
    /// A bridge's windows are its resources after the standard BARs and ROM (include/linux/pci.h
    /// PCI_BRIDGE_RESOURCES: 13-16 with CONFIG_PCI_IOV, 7-10 without, as on a Raspberry Pi 4's
    /// "BAR 8: assigned"). Older kernels print them as BARs; they contain the BARs behind the bridge by design.
    /// </summary>
    public static bool IsBridgeResource(int index, bool isBridge) => index is >= 13 and <= 16 || (isBridge && index is >= 7 and <= 10);

    /// <summary>Probed BARs (size known, address not yet), first sighting per (device, index).</summary>
    public IReadOnlyList<PciBar> ProbedBars =>
        Bars.Where(b => !b.Assigned && !b.IsBridgeWindow).GroupBy(b => (b.Bdf, b.Index)).Select(g => g.First()).ToList();
}

/// <summary>
/// Linux <c>dmesg</c> (or a serial transcript of a Linux boot). Strings from
/// drivers/pci/ecam.c ("ECAM at %pR for %pR"), drivers/pci/probe.c ("root bus resource %pR",
/// "[%04x:%04x] type %02x class %#08x", "BAR %d %pR" — 6.x prints "BAR 0 [mem ...]", older
/// kernels "reg 0x10: [mem ...]"), drivers/pci/setup-res.c ("%s %pR: assigned" in 6.x,
/// "BAR %d: assigned %pR" before; "can't assign; no space", "failed to assign"),
/// drivers/xen/pci.c ("Failed to add - passthrough or MSI/MSI-X might fail!"),
/// drivers/iommu/iommu.c ("Adding to iommu group %d"), drivers/iommu/arm/arm-smmu-v3
/// ("event 0x%02x received"), drivers/irqchip/irq-gic-v3-its.c ("ITS [mem ...]", "ITS@0x...").
/// Host bridges beyond ECAM: drivers/acpi/pci_root.c ("%s [%s] (domain %04x %pR)" with the device
/// name "PCI Root Bridge"), arch/x86/pci/mmconfig-shared.c ("PCI: MMCONFIG for domain %04x [bus
/// %02x-%02x] at %pR (base %#lx)"). Bridges: drivers/pci/probe.c ("PCI bridge to %pR%s", "  bridge
/// window %pR"), drivers/pci/setup-bus.c ("  bridge window %pR"). SMMU global faults:
/// drivers/iommu/arm/arm-smmu/arm-smmu.c ("Unexpected global fault, this could be serious",
/// "\tGFSR 0x%08x, GFSYNR0 0x%08x, GFSYNR1 0x%08x, GFSYNR2 0x%08x", "Blocked unknown Stream ID 0x%hx; ..."),
/// drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c ("unexpected global error reported (0x%08x), this could be serious").
/// </summary>
internal static partial class LinuxDmesgParser
{
    public static LinuxDmesg Parse(string? text)
    {
        var lines = LogText.Lines(text);
        var bridges = new List<EcamBridge>();
        var windows = new List<BusWindow>();
        var devices = new List<PciDeviceLine>();
        var bars = new List<PciBar>();
        var barFailures = new List<string>();
        var xenAdd = new List<string>();
        var groups = new List<(string, int, string)>();
        var smmu = new List<string>();
        var faults = new List<string>();
        var its = new List<string>();
        var msi = new List<string>();
        var warnings = new List<string>();
        var oopses = new List<string>();
        string? version = null;
        var acpi = new List<AcpiHostBridge>();
        var windowLines = new List<BridgeWindow>();
        var busRanges = new List<BridgeBuses>();
        var global = new List<SmmuGlobalFault>();
        var kernelLines = new List<string>();

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in lines)
        {
            var msg = LogText.Message(line);
            if (msg.Length == 0) continue;
            // A console that carries the boot log and a replay of dmesg shows each stamped line twice: count it once.
            if (msg.Length != line.Length && !seen.Add(line.TrimStart())) continue;
            if (msg.Length != line.Length && kernelLines.Count < 10_000) kernelLines.Add(line);
            if (version is null && LinuxVersion().Match(msg) is { Success: true } v) version = v.Groups[1].Value;
            if (AcpiRoot().Match(msg) is { Success: true } ar && LogText.TryHex(ar.Groups["seg"].Value, out var seg)
                && LogText.TryHex(ar.Groups["b0"].Value, out var ab0) && LogText.TryHex(ar.Groups["b1"].Value, out var ab1))
                acpi.Add(new AcpiHostBridge(ar.Groups["name"].Value, (int)seg, (int)ab0, (int)ab1, line));
            if (Mmconfig().Match(msg) is { Success: true } mc
                && LogText.TryHex(mc.Groups["s"].Value, out var ms) && LogText.TryHex(mc.Groups["e"].Value, out var me) && me >= ms
                && LogText.TryHex(mc.Groups["b0"].Value, out var mb0) && LogText.TryHex(mc.Groups["b1"].Value, out var mb1))
                bridges.Add(new EcamBridge($"MMCONFIG domain {(mc.Groups["seg"].Success ? mc.Groups["seg"].Value : "0000")}", new AddressRange(ms, me), (int)mb0, (int)mb1, line));
            if (BridgeWindowLine().Match(msg) is { Success: true } bw && LogText.TryHex(bw.Groups["s"].Value, out var bws) && LogText.TryHex(bw.Groups["e"].Value, out var bwe) && bwe >= bws)
                windowLines.Add(new BridgeWindow(bw.Groups["bdf"].Value, bw.Groups["kind"].Value.Trim(), new AddressRange(bws, bwe), bw.Groups["flags"].Value.Contains("pref", StringComparison.Ordinal), line));
            if (BridgeTo().Match(msg) is { Success: true } bt && LogText.TryHex(bt.Groups["b0"].Value, out var sec))
            {
                ulong sub = bt.Groups["b1"].Success && LogText.TryHex(bt.Groups["b1"].Value, out var s1) ? s1 : sec;
                if (sec <= 0xff && sub <= 0xff) busRanges.Add(new BridgeBuses(bt.Groups["bdf"].Value, (int)sec, (int)sub, line));
            }
            if (LinuxGfsr().Match(msg) is { Success: true } lf && LogText.TryHex(lf.Groups["v"].Value, out var gv) && gv <= uint.MaxValue)
                global.Add(new SmmuGlobalFault(lf.Groups["dev"].Value, (uint)gv, SmmuGlobalFault.DecodeGfsr((uint)gv), line));
            else if (LinuxGerror().Match(msg) is { Success: true } le && LogText.TryHex(le.Groups["v"].Value, out var gev) && gev <= uint.MaxValue)
                global.Add(new SmmuGlobalFault(le.Groups["dev"].Value, (uint)gev, ["global error (GERROR)"], line));

            if (Ecam().Match(msg) is { Success: true } e
                && LogText.TryHex(e.Groups["s"].Value, out var es) && LogText.TryHex(e.Groups["e"].Value, out var ee)
                && LogText.TryHex(e.Groups["b0"].Value, out var b0) && LogText.TryHex(e.Groups["b1"].Value, out var b1) && b0 <= 0xff && b1 <= 0xff)
                bridges.Add(new EcamBridge(e.Groups["dev"].Value, new AddressRange(es, ee), (int)b0, (int)b1, line));
            else if (RootResource().Match(msg) is { Success: true } w
                && LogText.TryHex(w.Groups["s"].Value, out var ws) && LogText.TryHex(w.Groups["e"].Value, out var we))
                windows.Add(new BusWindow(w.Groups["bus"].Value, w.Groups["kind"].Value.Trim(), new AddressRange(ws, we), line));
            else if (DeviceHeader().Match(msg) is { Success: true } d)
                devices.Add(new PciDeviceLine(d.Groups["bdf"].Value, d.Groups["id"].Value, d.Groups["class"].Value, line));
            else if (Bar().Match(msg) is { Success: true } b && TryBar(b, line, out var bar))
                bars.Add(bar);
            if (msg.Contains("can't assign", StringComparison.Ordinal) || msg.Contains("failed to assign", StringComparison.Ordinal)) barFailures.Add(line);
            if (msg.Contains("Failed to add - passthrough or MSI/MSI-X might fail!", StringComparison.Ordinal)) xenAdd.Add(line);
            if (IommuGroup().Match(msg) is { Success: true } g && LogText.TryInt(g.Groups["g"].Value, out var gn)) groups.Add((g.Groups["bdf"].Value, gn, line));
            if (msg.StartsWith("arm-smmu", StringComparison.Ordinal)) smmu.Add(line);
            if (SmmuFault().IsMatch(msg) || LinuxGlobalFault().IsMatch(msg) || LinuxGfsr().IsMatch(msg) || LinuxGerror().IsMatch(msg) || BlockedStream().IsMatch(msg)) faults.Add(line);
            if (msg.StartsWith("ITS", StringComparison.Ordinal) || msg.Contains("its@", StringComparison.Ordinal)) its.Add(line);
            if (msg.StartsWith("PCI/MSI:", StringComparison.Ordinal) && msg.Contains("domain created", StringComparison.Ordinal)) msi.Add(line);
            if (msg.StartsWith("WARNING: ", StringComparison.Ordinal)) warnings.Add(line);
            if (Oops().IsMatch(msg)) oopses.Add(line);
        }
        // Old kernels print a bridge's windows as its resources ("BAR 14: assigned [mem ...]", "BAR 8: ...").
        var bridgeDevices = devices.Where(d => d.Class.StartsWith("0604", StringComparison.Ordinal)).Select(d => d.Bdf)
            .Concat(busRanges.Select(r => r.Bdf)).ToHashSet(StringComparer.Ordinal);
        for (int i = 0; i < bars.Count; i++)
            if (LinuxDmesg.IsBridgeResource(bars[i].Index, bridgeDevices.Contains(bars[i].Bdf)))
            {
                bars[i] = bars[i] with { IsBridgeWindow = true };
                if (bars[i].Assigned) windowLines.Add(new BridgeWindow(bars[i].Bdf, bars[i].Kind, bars[i].Range, bars[i].Prefetchable, bars[i].Line));
            }
        var bridgeWindows = windowLines.GroupBy(w => (w.Bdf, w.Kind, w.Prefetchable)).Select(g => g.Last()).ToList();
        return new LinuxDmesg(lines, bridges, windows, devices, bars, barFailures, xenAdd, groups, smmu, faults, its, msi, warnings, oopses, version)
        {
            AcpiBridges = acpi, BridgeWindows = bridgeWindows, BridgeBusRanges = busRanges, SmmuGlobalFaults = global, KernelLines = kernelLines,
        };
    }

    static bool TryBar(Match b, string line, out PciBar bar)
    {
        bar = null!;
        if (!LogText.TryInt(b.Groups["idx"].Value, out var idx) && !TryRegIndex(b.Groups["reg"].Value, out idx)) return false;
        if (!LogText.TryHex(b.Groups["s"].Value, out var s) || !LogText.TryHex(b.Groups["e"].Value, out var e) || e < s) return false;
        var flags = b.Groups["flags"].Value;
        bool assigned = b.Groups["assigned"].Success || b.Groups["assigned_old"].Success;
        bar = new PciBar(b.Groups["bdf"].Value, idx, b.Groups["kind"].Value.Trim(), new AddressRange(s, e),
            flags.Contains("64bit", StringComparison.Ordinal), flags.Contains("pref", StringComparison.Ordinal), assigned, line);
        return true;
    }

    // Older kernels: "reg 0x10: [mem ...]" -> BAR (0x10-0x10)/4.
    static bool TryRegIndex(string reg, out int idx)
    {
        idx = -1;
        if (!LogText.TryHex(reg, out var r) || r < 0x10 || r > 0x24) return false;
        idx = (int)(r - 0x10) / 4;
        return true;
    }

    [GeneratedRegex(@"Linux version (\S+)")]
    private static partial Regex LinuxVersion();

    [GeneratedRegex(@"^(?:pci-host-generic|pci-host-ecam-generic|[\w-]+) (?<dev>\S+): ECAM at \[mem 0x(?<s>[0-9a-f]+)-0x(?<e>[0-9a-f]+)\] for \[bus (?<b0>[0-9a-f]{2})-(?<b1>[0-9a-f]{2})\]")]
    private static partial Regex Ecam();

    [GeneratedRegex(@"^pci_bus (?<bus>[0-9a-f]{4}:[0-9a-f]{2}): root bus resource \[(?<kind>mem|io ) 0x(?<s>[0-9a-f]+)-0x(?<e>[0-9a-f]+)")]
    private static partial Regex RootResource();

    [GeneratedRegex(@"^pci (?<bdf>[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]): \[(?<id>[0-9a-f]{4}:[0-9a-f]{4})\] type [0-9a-f]{2} class 0x(?<class>[0-9a-f]{6})")]
    private static partial Regex DeviceHeader();

    // 6.x: "BAR 0 [mem 0x...-0x... 64bit pref]" and "BAR 0 [mem ...]: assigned"; before: "reg 0x10: [mem ...]" and "BAR 0: assigned [mem ...]".
    [GeneratedRegex(@"^pci (?<bdf>[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]): (?:BAR (?<idx>\d+)(?<assigned_old>: assigned)? |reg 0x(?<reg>[0-9a-f]+): )\[(?<kind>mem|io ) 0x(?<s>[0-9a-f]+)-0x(?<e>[0-9a-f]+)(?<flags>[^\]]*)\](?<assigned>: assigned)?")]
    private static partial Regex Bar();

    [GeneratedRegex(@"^\S+ (?<bdf>[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]): Adding to iommu group (?<g>\d+)")]
    private static partial Regex IommuGroup();

    [GeneratedRegex(@"arm-smmu(-v3)? \S+: (event 0x[0-9a-f]+ received|Unhandled context fault)")]
    private static partial Regex SmmuFault();

    [GeneratedRegex(@"^(Unable to handle kernel|Internal error: |Kernel panic - )")]
    private static partial Regex Oops();

    [GeneratedRegex(@"^(?:ACPI: )?PCI Root Bridge \[(?<name>[^\]]{1,32})\] \(domain (?<seg>[0-9a-f]{4}) \[bus (?<b0>[0-9a-f]{2})-(?<b1>[0-9a-f]{2})\]\)")]
    private static partial Regex AcpiRoot();

    [GeneratedRegex(@"^PCI: MMCONFIG for (?:domain (?<seg>[0-9a-f]{4}) )?\[bus (?<b0>[0-9a-f]{2})-(?<b1>[0-9a-f]{2})\] at \[mem 0x(?<s>[0-9a-f]{1,16})-0x(?<e>[0-9a-f]{1,16})")]
    private static partial Regex Mmconfig();

    [GeneratedRegex(@"^pci (?<bdf>[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]):\s+bridge window \[(?<kind>mem|io ) 0x(?<s>[0-9a-f]{1,16})-0x(?<e>[0-9a-f]{1,16})(?<flags>[^\]]*)\]")]
    private static partial Regex BridgeWindowLine();

    [GeneratedRegex(@"^pci (?<bdf>[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]): PCI bridge to \[bus (?<b0>[0-9a-f]{2})(?:-(?<b1>[0-9a-f]{2}))?\]")]
    private static partial Regex BridgeTo();

    [GeneratedRegex(@"^arm-smmu \S+: Unexpected global fault")]
    private static partial Regex LinuxGlobalFault();

    [GeneratedRegex(@"^arm-smmu (?<dev>\S+):\s+GFSR 0x(?<v>[0-9a-f]{1,8}), GFSYNR0")]
    private static partial Regex LinuxGfsr();

    [GeneratedRegex(@"^arm-smmu-v3 (?<dev>\S+): unexpected global error reported \(0x(?<v>[0-9a-f]{1,8})\)")]
    private static partial Regex LinuxGerror();

    [GeneratedRegex(@"^arm-smmu \S+: Blocked unknown Stream ID 0x[0-9a-f]+")]
    private static partial Regex BlockedStream();
}
