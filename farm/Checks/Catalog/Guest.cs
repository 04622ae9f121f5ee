using System.Text.RegularExpressions;
using Farm.Checks.Parsers;
using Farm.Guests;

namespace Farm.Checks.Catalog;

/// <summary>
/// The memory map Xen on Arm gives a domU's virtual PCI host bridge
/// (xen/include/public/arch-arm.h, Xen 4.17 to 4.21: GUEST_VPCI_ECAM_BASE/SIZE,
/// GUEST_VPCI_ADDR_TYPE_MEM/PREFETCH_MEM, GUEST_VPCI_MEM_ADDR/SIZE, GUEST_VPCI_PREFETCH_MEM_ADDR/SIZE).
/// </summary>
internal static class GuestVpciLayout
{
    public const ulong EcamBase = 0x10000000, EcamSize = 0x10000000;
    public const ulong MemType = 0x02000000, MemAddr = 0x23000000, MemSize = 0x10000000;
    public const ulong PrefetchType = 0x42000000, PrefetchAddr = 0x100000000, PrefetchSize = 0x100000000;

    public static AddressRange Mem => new(MemAddr, MemAddr + MemSize - 1);
    public static AddressRange Prefetch => new(PrefetchAddr, PrefetchAddr + PrefetchSize - 1);

    /// <summary>A BAR belongs in the non-prefetchable window, or (prefetchable only) in the 64-bit prefetchable one.</summary>
    public static bool Holds(LspciRegion r) => r.Range is { } range && (Mem.Contains(range) || (r.Prefetchable && Prefetch.Contains(range)));

    /// <summary>
    /// The guest device each requested device became: Xen's vPCI numbers a domU's devices on bus 0 from
    /// slot 0 in assignment order (xen/drivers/vpci/vpci.c add_virtual_device: guest_sbdf = PCI_SBDF(0, 0,
    /// new_dev_number, 0)), so the guest sees 0000:00:00.0 .. 0000:00:(n-1).0, never the host SBDF. A
    /// device is recognised by dom0's lspci header of its host SBDF (class and name).
    /// </summary>
    public static IReadOnlyList<(PciDevice Requested, LspciDevice? Host, LspciDevice? Guest)> Match(Target t, Guest g)
    {
        var virtualSlots = Enumerable.Range(0, g.Requested.Count).Select(i => $"0000:00:{i:x2}.0").ToHashSet(StringComparer.Ordinal);
        var free = g.Lspci.Where(d => virtualSlots.Contains(d.Bdf)).ToList();
        var result = new List<(PciDevice, LspciDevice?, LspciDevice?)>();
        foreach (var (req, i) in g.Requested.Select((r, i) => (r, i)))
        {
            var host = t.Lspci.FirstOrDefault(d => string.Equals(d.Bdf, req.Sbdf, StringComparison.OrdinalIgnoreCase));
            var guest = host is null
                ? free.FirstOrDefault(d => d.Bdf == $"0000:00:{i:x2}.0")
                : free.FirstOrDefault(d => d.ClassName == host.ClassName && d.Name == host.Name);
            if (guest is not null) free.Remove(guest);
            result.Add((req, host, guest));
        }
        return result;
    }
}

/// <summary>libxl gives a vPCI domU one virtual host bridge at the fixed guest ECAM base.</summary>
internal sealed class EcamDomUBridgeAtGuestBase : GuestCheck
{
    public override string Id => "ecam.domu-bridge-at-guest-base";
    public override string Group => "ecam";
    public override string Title => "domU virtual host bridge at GUEST_VPCI_ECAM_BASE with pci-host-ecam-generic";
    public override string Source => "xen/include/public/arch-arm.h GUEST_VPCI_ECAM_BASE 0x10000000 / SIZE 0x10000000; tools/libs/light/libxl_arm.c make_vpci_node";
    public override IReadOnlyList<GuestNeed> GuestNeeds => [GuestNeed.Booted, GuestNeed.Devices, GuestNeed.DeviceTree];

    public override Finding Evaluate(Target t, Guest g)
    {
        if (g.VpciBridge is not { } b)
            return Finding.Fail($"no pci-host-ecam-generic node in guest {g.Name}'s device tree", DeviceTreeParser.HostBridges(g.DeviceTree!).Select(n => n.Path));
        var reg = b.Cells("reg");
        ulong Cell64(int i) => reg.Count > i + 1 ? (reg[i] << 32) | reg[i + 1] : ulong.MaxValue;
        return Cell64(0) == GuestVpciLayout.EcamBase && Cell64(2) == GuestVpciLayout.EcamSize
            ? Finding.Pass($"{b.Path} reg = ECAM 0x{GuestVpciLayout.EcamBase:x}+0x{GuestVpciLayout.EcamSize:x}", $"{b.Path} reg = {b.Get("reg")}")
            : Finding.Fail($"{b.Path} is not at the guest ECAM base", $"{b.Path} reg = {b.Get("reg")}");
    }
}

/// <summary>
/// The whole bridge node libxl writes: name <c>pcie@10000000</c>, reg, <c>bus-range = &lt;0 255&gt;</c>, and
/// <c>ranges</c> as libxl encodes them: per window one flags cell (GUEST_VPCI_ADDR_TYPE_*), the PCI
/// address (2 cells), the same CPU address (2 cells) and the size (2 cells): identity bus addresses.
/// </summary>
internal sealed class EcamDomUBridgeNodeMatchesLayout : GuestCheck
{
    public override string Id => "ecam.domu-bridge-node-matches-guest-layout";
    public override string Group => "ecam";
    public override string Title => "domU bridge reg, ranges and bus-range match the guest vPCI layout";
    public override string Source => "tools/libs/light/libxl_arm.c make_vpci_node (\"pcie@%\"PRIx64, \"bus-range\" 0 255, fdt_property_vpci_ranges); " +
                                     "xen/include/public/arch-arm.h GUEST_VPCI_ADDR_TYPE_MEM 0x02000000, GUEST_VPCI_MEM_ADDR 0x23000000 +0x10000000, " +
                                     "GUEST_VPCI_ADDR_TYPE_PREFETCH_MEM 0x42000000, GUEST_VPCI_PREFETCH_MEM_ADDR 0x100000000 +0x100000000";
    public override IReadOnlyList<GuestNeed> GuestNeeds => [GuestNeed.Booted, GuestNeed.Devices, GuestNeed.DeviceTree];

    public override Finding Evaluate(Target t, Guest g)
    {
        if (g.VpciBridge is not { } b) return Finding.Fail($"no pci-host-ecam-generic node in guest {g.Name}'s device tree", DeviceTreeParser.HostBridges(g.DeviceTree!).Select(n => n.Path));
        var evidence = new[] { "reg", "bus-range", "ranges" }.Select(p => $"{b.Path} {p} = {b.Get(p) ?? "(missing)"}").ToList();
        var wrong = new List<string>();
        if (!b.Path.EndsWith($"pcie@{GuestVpciLayout.EcamBase:x}", StringComparison.Ordinal)) wrong.Add($"node {b.Path}, want pcie@{GuestVpciLayout.EcamBase:x}");
        if (b.Get("device_type") != "\"pci\"") wrong.Add($"device_type = {b.Get("device_type") ?? "(missing)"}, want \"pci\"");
        if (!b.Cells("reg").SequenceEqual([0UL, GuestVpciLayout.EcamBase, 0UL, GuestVpciLayout.EcamSize]))
            wrong.Add($"reg = {b.Get("reg") ?? "(missing)"}, want ECAM 0x{GuestVpciLayout.EcamBase:x} size 0x{GuestVpciLayout.EcamSize:x}");
        if (!b.Cells("bus-range").SequenceEqual([0UL, 0xffUL])) wrong.Add($"bus-range = {b.Get("bus-range") ?? "(missing)"}, want <0x00 0xff>");
        var ranges = b.Cells("ranges");
        var windows = ranges.Count % 7 == 0
            ? Enumerable.Range(0, ranges.Count / 7).Select(i => ranges.Skip(i * 7).Take(7).ToArray())
                .Select(c => (Flags: c[0], Pci: (c[1] << 32) | c[2], Cpu: (c[3] << 32) | c[4], Size: (c[5] << 32) | c[6])).ToList()
            : [];
        foreach (var (flags, addr, size, name) in new[] { (GuestVpciLayout.MemType, GuestVpciLayout.MemAddr, GuestVpciLayout.MemSize, "GUEST_VPCI_MEM"),
                                                          (GuestVpciLayout.PrefetchType, GuestVpciLayout.PrefetchAddr, GuestVpciLayout.PrefetchSize, "GUEST_VPCI_PREFETCH_MEM") })
            if (!windows.Contains((flags, addr, addr, size)))
                wrong.Add($"ranges has no {name} window (flags 0x{flags:x}, 0x{addr:x} -> 0x{addr:x}, size 0x{size:x})");
        if (windows.Count != 2) wrong.Add($"ranges has {(ranges.Count % 7 == 0 ? windows.Count.ToString(System.Globalization.CultureInfo.InvariantCulture) : "a garbled")} window(s), want 2 of 7 cells");
        return wrong.Count == 0 ? Finding.Pass($"{b.Path}: reg, bus-range and both ranges windows as libxl writes them", evidence)
            : Finding.Fail(string.Join("; ", wrong), evidence);
    }
}

/// <summary>Each requested device appears in the guest at its virtual SBDF (bus 0, slot in assignment order), not at its host SBDF.</summary>
internal sealed class EcamDomUDevicesAtVirtualSbdf : GuestCheck
{
    public override string Id => "ecam.domu-devices-at-virtual-sbdf";
    public override string Group => "ecam";
    public override string Title => "requested devices at their virtual SBDF in the domU";
    public override string Source => "xen/drivers/vpci/vpci.c add_virtual_device: pdev->vpci->guest_sbdf = PCI_SBDF(0, 0, new_dev_number, 0); pciutils lspci.c show_device header";
    public override IReadOnlyList<GuestNeed> GuestNeeds => [GuestNeed.Booted, GuestNeed.Devices, GuestNeed.Vpci, GuestNeed.Lspci];

    public override Finding Evaluate(Target t, Guest g)
    {
        var evidence = new List<string>();
        var wrong = new List<string>();
        foreach (var (req, host, guest) in GuestVpciLayout.Match(t, g))
        {
            if (guest is not null) { evidence.Add($"{req.Sbdf} -> {guest.Header}"); continue; }
            var atHost = g.Lspci.FirstOrDefault(d => string.Equals(d.Bdf, req.Sbdf, StringComparison.OrdinalIgnoreCase));
            wrong.Add(atHost is not null && (host is null || atHost.Name == host.Name)
                ? $"{req.Sbdf} appears at its host SBDF in guest {g.Name} (identity, not a virtual topology): {atHost.Header}"
                : $"{req.Sbdf} ({host?.Header ?? "not in dom0's lspci"}) is at no virtual SBDF 0000:00:00.0-0000:00:{g.Requested.Count - 1:x2}.0 of guest {g.Name}");
        }
        return wrong.Count == 0 ? Finding.Pass($"{evidence.Count} requested devices at virtual SBDFs", evidence)
            : Finding.Fail(wrong[0], [.. wrong, .. g.Lspci.Select(d => d.Header)]);
    }
}

/// <summary>A vPCI domU sees its BARs relocated into the guest MMIO windows, never at host addresses.</summary>
internal sealed class BarDomURelocated : GuestCheck
{
    public override string Id => "bar.domu-relocated-into-guest-window";
    public override string Group => "bar";
    public override string Title => "domU BARs inside GUEST_VPCI_MEM / GUEST_VPCI_PREFETCH_MEM";
    public override string Source => "xen/include/public/arch-arm.h GUEST_VPCI_MEM_ADDR 0x23000000 (+0x10000000), GUEST_VPCI_PREFETCH_MEM_ADDR 0x100000000 (+0x100000000)";
    public override IReadOnlyList<GuestNeed> GuestNeeds => [GuestNeed.Booted, GuestNeed.Devices, GuestNeed.Vpci, GuestNeed.Lspci];

    public override Finding Evaluate(Target t, Guest g)
    {
        var regions = g.Lspci.SelectMany(d => d.Regions).Where(r => r.Kind == "mem" && r.Range is not null).ToList();
        if (regions.Count == 0) return Finding.Fail($"guest {g.Name} sees no memory BARs", g.Lspci.Select(d => d.Header));
        var outside = regions.Where(r => !GuestVpciLayout.Holds(r)).ToList();
        return outside.Count == 0 ? Finding.Pass("every domU BAR is in a guest vPCI window", regions.Select(r => r.Line.Trim()))
            : Finding.Fail("domU BARs outside the guest vPCI windows (identity-mapped?)", outside.Select(r => r.Line.Trim()));
    }
}

/// <summary>Each requested device's BARs in the guest have the sizes dom0 sees on the host device, at guest (not host) addresses.</summary>
internal sealed class BarDomUHostSizes : GuestCheck
{
    public override string Id => "bar.domu-bars-match-host-sizes";
    public override string Group => "bar";
    public override string Title => "domU BARs in the guest windows with the host BAR sizes";
    public override string Source => "pciutils lspci.c show_bases (\"Region %d: Memory at %08x ... [size=%s]\") in dom0 and in the domU; " +
                                     "xen/drivers/vpci/header.c (guest BAR writes relocate the p2m mapping, size is the host's); xen/include/public/arch-arm.h GUEST_VPCI_MEM_ADDR, GUEST_VPCI_PREFETCH_MEM_ADDR";
    public override IReadOnlyList<GuestNeed> GuestNeeds => [GuestNeed.Booted, GuestNeed.Devices, GuestNeed.Vpci, GuestNeed.Lspci];

    public override Finding Evaluate(Target t, Guest g)
    {
        if (t.Lspci.Count == 0) return Finding.NotApplicable("the job did not collect dom0's lspci -vvv: no host sizes to compare");
        var evidence = new List<string>();
        var wrong = new List<string>();
        foreach (var (req, host, guest) in GuestVpciLayout.Match(t, g))
        {
            if (host is null) { wrong.Add($"{req.Sbdf} is not in dom0's lspci"); continue; }
            if (guest is null) { wrong.Add($"{req.Sbdf} ({host.Name}) is not at a virtual SBDF in guest {g.Name}"); continue; }
            foreach (var hr in host.Regions.Where(r => r.Kind == "mem" && r.Size > 0))
            {
                var gr = guest.Regions.FirstOrDefault(r => r.Index == hr.Index);
                if (gr is null) { wrong.Add($"{guest.Bdf} has no region {hr.Index} (host {req.Sbdf}: {hr.Line.Trim()})"); continue; }
                if (gr.Size != hr.Size) wrong.Add($"{guest.Bdf} region {hr.Index} size 0x{gr.Size:x}, host {req.Sbdf} 0x{hr.Size:x}");
                else if (gr.Address == hr.Address && !GuestVpciLayout.Holds(hr)) wrong.Add($"{guest.Bdf} region {hr.Index} at the host address 0x{hr.Address:x}: identity-mapped");
                else if (!GuestVpciLayout.Holds(gr)) wrong.Add($"{guest.Bdf} region {hr.Index} at {gr.Range?.ToString() ?? "no address"}, outside GUEST_VPCI_MEM/PREFETCH_MEM");
                else { evidence.Add($"host {req.Sbdf}: {hr.Line.Trim()}"); evidence.Add($"guest {guest.Bdf}: {gr.Line.Trim()}"); }
            }
        }
        if (wrong.Count > 0) return Finding.Fail(wrong[0], [.. wrong, .. evidence]);
        return evidence.Count > 0 ? Finding.Pass($"{evidence.Count / 2} BARs relocated with their host sizes", evidence)
            : Finding.Fail("the requested devices have no memory BARs to compare");
    }
}

/// <summary>Data the guest writes to its passed-through NVMe by DMA reads back identical.</summary>
internal sealed class DmaDomUNvmeRoundTrip : GuestCheck
{
    public override string Id => "dma.domu-nvme-write-read-sha256";
    public override string Group => "dma-iommu";
    public override string Title => "domU NVMe write/read round trip (sha256)";
    public override string Source => "farm probe 'FARM-PROBE nvme-dma' run inside the guest (domU:<g>:*): dd to /dev/nvme0n1, drop caches, dd back, sha256sum both (coreutils sha256sum \"%s  %s\")";
    public override IReadOnlyList<GuestNeed> GuestNeeds => [GuestNeed.Booted, GuestNeed.Devices, GuestNeed.Vpci, GuestNeed.PciInterrupts, GuestNeed.NvmeDmaProbe];

    public override Finding Evaluate(Target t, Guest g)
    {
        // Without a bound NVMe, dd of=/dev/nvme0n1 writes a plain file in the guest's /dev and reads it
        // back identical (measured: a guest booted with module_blacklist=nvme): the sums prove nothing.
        var nvme = g.Lspci.Where(d => d.ClassName.StartsWith("Non-Volatile memory controller", StringComparison.Ordinal)).ToList();
        if (!nvme.Any(d => d.Driver == "nvme"))
            return Finding.Fail($"guest {g.Name}: no NVMe bound to the nvme driver in the guest's lspci, so the probe's /dev/nvme0n1 is no NVMe",
                [.. nvme.Select(d => d.Header), .. g.NvmeDma!]);
        return GuestProbes.SumsMatch(g.NvmeDma!, $"guest {g.Name}");
    }
}

/// <summary>
/// The passed-through NIC carries a TCP transfer between guest and host intact. The probe's format, printed
/// on both ends (the guest's in a <c>domU:&lt;g&gt;:</c> command, dom0's in a <c>dom0:&lt;g&gt;:&lt;stage&gt;:</c> step):
/// <code>
/// FARM-PROBE nic-tcp guest|host
/// sent &lt;sha256 hex&gt; &lt;bytes&gt;
/// received &lt;sha256 hex&gt; &lt;bytes&gt;
/// </code>
/// (e.g. <c>head -c 16M /dev/urandom | tee /tmp/tx | nc host 5201; echo sent $(sha256sum &lt; /tmp/tx | cut -d' ' -f1) $(stat -c %s /tmp/tx)</c>).
/// What one end sent the other must have received, same sum and size; at least one direction must have run.
/// </summary>
internal sealed partial class DmaDomUNicTcp : GuestCheck
{
    public override string Id => "dma.domu-nic-tcp-sha256";
    public override string Group => "dma-iommu";
    public override string Title => "domU NIC TCP transfer to/from the host (sha256)";
    public override string Source => "farm probe 'FARM-PROBE nic-tcp' (lines 'sent <sha256> <bytes>' / 'received <sha256> <bytes>' on guest and host; documented in farm/Checks/Catalog/Guest.cs)";
    public override IReadOnlyList<GuestNeed> GuestNeeds => [GuestNeed.Booted, GuestNeed.Devices, GuestNeed.Vpci, GuestNeed.PciInterrupts, GuestNeed.NicTcpProbe];

    public override Finding Evaluate(Target t, Guest g) => Judge(g);

    internal static Finding Judge(Guest g)
    {
        var guest = Transfers(g.NicTcp!);
        var host = Transfers(g.NicTcpHost!);
        var evidence = new List<string>();
        var wrong = new List<string>();
        foreach (var (from, to, fromName, toName) in new[] { (guest, host, "guest", "host"), (host, guest, "host", "guest") })
            foreach (var sent in from.Where(x => x.Dir == "sent"))
            {
                var got = to.Where(x => x.Dir == "received").OrderByDescending(x => x.Sum == sent.Sum).FirstOrDefault();
                if (got.Line is null) wrong.Add($"{fromName} sent {sent.Bytes} bytes but the {toName} printed no 'received' line: {sent.Line}");
                else if (got.Sum != sent.Sum || got.Bytes != sent.Bytes) wrong.Add($"{fromName} -> {toName} differs: {sent.Line} / {got.Line}");
                else evidence.AddRange([$"{fromName}: {sent.Line}", $"{toName}: {got.Line}"]);
            }
        if (wrong.Count > 0) return Finding.Fail(wrong[0], [.. wrong, .. g.NicTcp!, .. g.NicTcpHost!]);
        return evidence.Count > 0 ? Finding.Pass($"{evidence.Count / 2} TCP transfer(s) arrived intact", evidence)
            : Finding.Fail("the probe printed no 'sent <sha256> <bytes>' line on either end (the transfer did not run)", [.. g.NicTcp!, .. g.NicTcpHost!]);
    }

    static List<(string Dir, string Sum, ulong Bytes, string Line)> Transfers(IReadOnlyList<string> lines) =>
        lines.Select(l => Line().Match(l.Trim())).Where(m => m.Success && ulong.TryParse(m.Groups["n"].Value, System.Globalization.CultureInfo.InvariantCulture, out _))
            .Select(m => (m.Groups["dir"].Value, m.Groups["sum"].Value, ulong.Parse(m.Groups["n"].Value, System.Globalization.CultureInfo.InvariantCulture), m.Value)).ToList();

    [GeneratedRegex(@"^(?<dir>sent|received) (?<sum>[0-9a-f]{64}) (?<n>\d{1,19})$")]
    private static partial Regex Line();
}

/// <summary>
/// Each device the guest drives on INTx (lspci's <c>Interrupt: pin X routed to IRQ N</c>, no MSI/MSI-X enabled)
/// has that IRQ in the guest's <c>/proc/interrupts</c> with a count above zero: Xen delivered the device's host
/// line to the guest. When the job dumps the bridge's <c>interrupt-map</c>, the row's GIC interrupt must also be
/// the one the map gives for the device's virtual slot and pin (a host line routed to another vIRQ shows there).
/// </summary>
internal sealed class IrqDomUIntxDelivered : GuestCheck
{
    public override string Id => "irq.domu-intx-delivered";
    public override string Group => "interrupts";
    public override string Title => "domU devices' INTx delivered on the SPI the bridge's interrupt-map names";
    public override string Source => "pciutils lspci.c (\"Interrupt: pin %c routed to IRQ %d\"); linux kernel/irq/proc.c show_interrupts; " +
                                     "Documentation/devicetree/bindings/pci/pci.txt (interrupt-map, interrupt-map-mask); " +
                                     "ci/xen/patches/xen-4.17-arm-vpci-guestintx.patch (\"%pd: vPCI: %pp INT%c (host IRQ %u) at virtual %pp INT%c, vIRQ %u\")";
    public override IReadOnlyList<GuestNeed> GuestNeeds => [GuestNeed.Booted, GuestNeed.Devices, GuestNeed.Vpci, GuestNeed.PciInterrupts, GuestNeed.Lspci];

    public override Finding Evaluate(Target t, Guest g)
    {
        if (g.Interrupts.Count == 0) return Finding.NotApplicable($"guest {g.Name}: the job did not collect cat /proc/interrupts in the guest");
        var driven = GuestVpciLayout.Match(t, g).Select(m => m.Guest).OfType<LspciDevice>().Where(d => d.Driver is not null).ToList();
        var intx = driven.Where(d => d.InterruptMode == "INTx").ToList();
        if (intx.Count == 0)
            return Finding.NotApplicable($"guest {g.Name}: no device it drives uses INTx", driven.Select(d => $"{d.Header} ({d.InterruptMode})"));
        var map = g.VpciBridge is { } bridge ? MapOf(bridge) : null;
        var evidence = new List<string>();
        foreach (var d in intx)
        {
            var who = $"guest {g.Name} {d.Bdf} ({d.Driver})";
            if (d.Irq is not { } irq || d.InterruptPin is not { } pin)
                return Finding.Fail($"{who} uses INTx but lspci shows no routed IRQ", d.Header);
            var pinName = $"INT{(char)('A' + pin - 1)}";
            var row = g.Interrupts.FirstOrDefault(r => r.Id == irq.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (row is null) return Finding.Fail($"{who}: IRQ {irq} is not in the guest's /proc/interrupts", d.InterruptLine!);
            if (row.Total == 0)
                return Finding.Fail($"{who}: IRQ {irq} never fired (count 0): its INTx did not reach the guest", d.InterruptLine!, row.Line);
            evidence.Add($"{d.Bdf}: {d.InterruptLine!.Trim()}");
            evidence.Add(row.Line);
            if (map is null) continue;
            var slot = int.Parse(d.Bdf[^4..^2], System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
            var want = map.FirstOrDefault(e => e.Matches(slot, pin));
            if (want.Line is null)
                return Finding.Fail($"{who}: the bridge's interrupt-map has no entry for slot {slot} {pinName}", evidence[^2], $"interrupt-map = {g.VpciBridge!.Get("interrupt-map")}");
            if (row.HwIrq != want.GicIrq.ToString(System.Globalization.CultureInfo.InvariantCulture))
                return Finding.Fail($"{who}: delivered on GIC {row.HwIrq}, but the bridge's interrupt-map gives {want.GicIrq} for slot {slot} {pinName}",
                    evidence[^2], row.Line, want.Line);
            evidence.Add($"interrupt-map: {want.Line}");
        }
        return Finding.Pass($"{intx.Count} INTx device(s) of guest {g.Name} took interrupts{(map is null ? "" : " on the SPIs the bridge's interrupt-map names")}", evidence);
    }

    /// <summary>
    /// One entry of the bridge's <c>interrupt-map</c> as libxl writes it for a GIC parent without address cells:
    /// child unit address (3 cells), pin, parent phandle, GIC specifier (type 0 = SPI, number, flags): 8 cells.
    /// </summary>
    readonly record struct MapEntry(ulong Hi, ulong MaskHi, ulong Pin, ulong MaskPin, int GicIrq, string Line)
    {
        public bool Matches(int slot, int pin) => (((ulong)slot << 11) & MaskHi) == (Hi & MaskHi) && ((ulong)pin & MaskPin) == (Pin & MaskPin);
    }

    static List<MapEntry>? MapOf(Parsers.DtNode bridge)
    {
        var cells = bridge.Cells("interrupt-map");
        var mask = bridge.Cells("interrupt-map-mask");
        if (cells.Count == 0 || cells.Count % 8 != 0 || mask.Count != 4) return null;
        return Enumerable.Range(0, cells.Count / 8).Select(i => cells.Skip(i * 8).Take(8).ToList())
            .Where(e => e[5] == 0 && e[6] < 988)
            .Select(e => new MapEntry(e[0], mask[0], e[3], mask[3], (int)e[6] + 32,
                $"<0x{e[0]:x} 0x{e[1]:x} 0x{e[2]:x} {e[3]} 0x{e[4]:x} {e[5]} {e[6]} 0x{e[7]:x}> (slot {(e[0] >> 11) & 0x1f}, GIC {e[6] + 32})"))
            .ToList();
    }
}

/// <summary>
/// No SMMU fault while the guest did I/O through its devices. Xen's and dom0's logs cannot be cut at the
/// moment the guest's I/O began, so any fault in them by the end of the guest's life fails (stricter, never laxer):
/// the serial console (Xen's own lines as they happen), xl dmesg, dom0's dmesg and the guest's lifecycle outputs.
/// </summary>
internal sealed class DmaDomUNoSmmuFaults : GuestCheck
{
    public override string Id => "dma.domu-no-smmu-faults-during-io";
    public override string Group => "dma-iommu";
    public override string Title => "no SMMU fault during the domU's I/O";
    public override string Source => "xen/drivers/passthrough/arm/smmu-v3.c (\"event 0x%02x received:\"), xen/drivers/passthrough/arm/smmu.c (\"Unhandled context fault\"); " +
                                     "linux drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c (\"event 0x%02x received:\")";
    // Without an IOMMU there is nothing to fault, and no device could have been assigned: not a pass.
    public override IReadOnlyList<Need> Needs => [Need.Xen, Need.DomUPci, Need.Iommu];
    public override IReadOnlyList<GuestNeed> GuestNeeds => [GuestNeed.Booted, GuestNeed.Devices, GuestNeed.Vpci, GuestNeed.PciInterrupts, GuestNeed.GuestIo];

    public override Finding Evaluate(Target t, Guest g)
    {
        var steps = string.Join('\n', g.Steps.SelectMany(s => s.Lines));
        var console = XenLogParser.Parse(t.Bundle.ConsoleLog);
        var faults = t.Xen.SmmuFaults
            .Concat(console.SmmuFaults)
            .Concat(t.Dmesg.SmmuFaults)
            .Concat(XenLogParser.Parse(steps).SmmuFaults)
            .Concat(LinuxDmesgParser.Parse(steps).SmmuFaults)
            .Concat(g.Dmesg.SmmuFaults)
            .Distinct().ToList();
        var io = g.NvmeDma?[0] ?? g.NicTcp?[0];
        if (faults.Count == 0) return Finding.Pass($"no SMMU event/context-fault lines after guest {g.Name}'s I/O", t[Need.Iommu].Evidence, io);
        // The first event Xen printed on the console, decoded from its record (its lines are evidence with the faults).
        var first = console.SmmuEvents.FirstOrDefault();
        return Finding.Fail($"the SMMU reported faults by the end of guest {g.Name}'s I/O{(first?.Summary is { } e ? ": " + e : "")}",
            [.. faults, .. first?.Summary is null ? (IEnumerable<string>)[] : [first.Line, .. first.WordLines], io]);
    }
}

/// <summary>Detaching one device and attaching it again leaves the guest's other devices in place and working.</summary>
internal sealed partial class LifecycleDomUHotplug : GuestCheck
{
    public override string Id => "lifecycle.domu-hotplug-keeps-other-device";
    public override string Group => "lifecycle";
    public override string Title => "domU hotplug (pci-detach/-attach) leaves the other device working";
    public override string Source => "tools/xl/xl_pci.c main_pcidetach/main_pciattach, pcilist (\"Vdev Device\", \"%02x.%01x %04x:%02x:%02x.%01x\"); the other device's guest probe (FARM-PROBE nvme-dma / nic-tcp)";
    public override IReadOnlyList<GuestNeed> GuestNeeds => [GuestNeed.Booted, GuestNeed.Devices, GuestNeed.Hotplug];

    public override Finding Evaluate(Target t, Guest g)
    {
        var steps = g.StepsOf("hotplug-detach").Concat(g.StepsOf("hotplug-attach")).ToList();
        if (steps.FirstOrDefault(s => !s.Succeeded) is { } failed) return Finding.Fail($"{failed.Stage} failed", [failed.ToString(), .. failed.Lines]);
        var detached = g.StepsOf("hotplug-detach").SelectMany(s => Sbdf().Matches(s.Command).Select(m => m.Value.ToLowerInvariant())).ToHashSet();
        var requested = g.Requested.Select(r => r.Sbdf.ToLowerInvariant()).ToList();
        var others = requested.Where(r => !detached.Contains(r)).ToList();
        if (detached.Count == 0) return Finding.Fail("the pci-detach command names no SBDF", steps.Select(s => s.ToString()));
        if (others.Count == 0) return Finding.NotApplicable($"guest {g.Name} has no device besides the detached {string.Join(", ", detached)}");
        HashSet<string> Listed(string stage) => g.StepsOf(stage).SelectMany(s => s.Lines).Select(l => PciListRow().Match(l.Trim()))
            .Where(m => m.Success).Select(m => m.Groups["sbdf"].Value.ToLowerInvariant()).ToHashSet();
        var before = Listed("pci-list-before");
        var after = Listed("pci-list-after");
        var evidence = g.StepsOf("pci-list-before").Concat(g.StepsOf("pci-list-after")).SelectMany(s => (IEnumerable<string>)[s.ToString(), .. s.Lines]).ToList();
        var wrong = new List<string>();
        wrong.AddRange(requested.Where(r => !before.Contains(r)).Select(r => $"{r} missing from xl pci-list before hotplug"));
        wrong.AddRange(others.Where(r => !after.Contains(r)).Select(r => $"the other device {r} is gone from xl pci-list after hotplug"));
        wrong.AddRange(detached.Where(r => !after.Contains(r)).Select(r => $"{r} was not re-attached (not in xl pci-list after hotplug)"));
        // The other device's own probe must pass (by its class in dom0's lspci; every probe when dom0's lspci is missing).
        string? Class(string sbdf) => t.Lspci.FirstOrDefault(d => string.Equals(d.Bdf, sbdf, StringComparison.OrdinalIgnoreCase))?.ClassName;
        bool Other(string cls) => others.Any(o => Class(o) is not { } c || c.StartsWith(cls, StringComparison.Ordinal));
        if (g.NvmeDma is { } nvme && Other("Non-Volatile memory controller") && GuestProbes.SumsMatch(nvme, $"guest {g.Name}") is { Verdict: not CheckVerdict.Pass } n)
            wrong.Add($"the other device's probe fails: {n.Summary}");
        if (g.NicTcp is not null && g.NicTcpHost is not null && Other("Ethernet controller") && DmaDomUNicTcp.Judge(g) is { Verdict: not CheckVerdict.Pass } x)
            wrong.Add($"the other device's probe fails: {x.Summary}");
        return wrong.Count == 0 ? Finding.Pass($"{string.Join(", ", detached)} detached and re-attached; {string.Join(", ", others)} stayed", evidence)
            : Finding.Fail(wrong[0], [.. wrong, .. evidence]);
    }

    [GeneratedRegex(@"[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]")]
    private static partial Regex Sbdf();

    [GeneratedRegex(@"^[0-9a-f]{2}\.[0-7] (?<sbdf>[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])$")]
    private static partial Regex PciListRow();
}

/// <summary>After the guest is destroyed and its devices deassigned (pci-assignable-remove -r), dom0 drives them again.</summary>
internal sealed class LifecycleDomUDeviceBackInDom0 : GuestCheck
{
    public override string Id => "lifecycle.domu-device-works-in-dom0-after-deassign";
    public override string Group => "lifecycle";
    public override string Title => "after destroy + deassign the device works in dom0 again";
    public override string Source => "tools/libs/light/libxl_pci.c libxl__device_pci_assignable_remove (rebind: \"Couldn't bind device to driver\" on failure); " +
                                     "pciutils lspci.c \"Kernel driver in use: %s\"; farm probe 'FARM-PROBE nvme-dma' in dom0:<g>:after-deassign";
    public override IReadOnlyList<GuestNeed> GuestNeeds => [GuestNeed.Devices, GuestNeed.AfterDeassign];

    public override Finding Evaluate(Target t, Guest g)
    {
        var lifecycle = g.StepsOf("destroy").Concat(g.StepsOf("deassign")).Concat(g.StepsOf("after-deassign")).ToList();
        if (!g.StepsOf("deassign").Any()) return Finding.Fail($"no deassign (xl pci-assignable-remove -r) step recorded for guest {g.Name}", lifecycle.Select(s => s.ToString()));
        if (lifecycle.FirstOrDefault(s => !s.Succeeded) is { } failed) return Finding.Fail($"{failed.Stage} failed", [failed.ToString(), .. failed.Lines]);
        var after = g.StepsOf("after-deassign").ToList();
        var lines = after.SelectMany(s => s.Lines).ToList();
        var lspci = LspciParser.Parse(string.Join('\n', lines));
        var evidence = new List<string>();
        var wrong = new List<string>();
        foreach (var req in g.Requested)
        {
            var d = lspci.FirstOrDefault(x => string.Equals(x.Bdf, req.Sbdf, StringComparison.OrdinalIgnoreCase));
            if (d is null) { if (lspci.Count > 0) wrong.Add($"{req.Sbdf} is not in dom0's lspci after deassign"); continue; }
            if (d.Driver is null or "pciback" or "xen-pciback") wrong.Add($"{req.Sbdf} has no dom0 driver after deassign (driver {d.Driver ?? "(none)"})");
            else evidence.Add($"{d.Header}: Kernel driver in use: {d.Driver}");
        }
        var probe = after.Select(s => s.Lines).FirstOrDefault(l => l.Any(x => x.Contains(Target.NvmeDmaMarker, StringComparison.Ordinal)));
        if (probe is not null)
        {
            var sums = GuestProbes.SumsMatch(probe.SkipWhile(x => !x.Contains(Target.NvmeDmaMarker, StringComparison.Ordinal)).ToList(), "dom0 after deassign");
            if (sums.Verdict != CheckVerdict.Pass) wrong.Add(sums.Summary);
            evidence.AddRange(sums.Evidence);
        }
        if (wrong.Count > 0) return Finding.Fail(wrong[0], [.. wrong, .. evidence]);
        return evidence.Count > 0 ? Finding.Pass($"dom0 drives {string.Join(", ", g.Requested.Select(r => r.Sbdf))} again", [.. after.Select(s => s.ToString()), .. evidence])
            : Finding.Fail("the after-deassign steps show neither a bound driver (lspci -k/-vvv) nor a DMA round trip", [.. after.Select(s => s.ToString()), .. lines.Take(10)]);
    }
}

/// <summary>The guest kernel neither oopsed nor panicked: a crash in the guest is the system under test failing.</summary>
internal sealed class LifecycleDomUKernelHealthy : GuestCheck
{
    public override string Id => "lifecycle.guest-kernel-healthy";
    public override string Group => "lifecycle";
    public override string Title => "domU kernel booted without oops or panic";
    public override string Source => "linux arch/arm64/mm/fault.c (\"Unable to handle kernel %s at virtual address\"), arch/arm64/kernel/traps.c (\"Internal error: \"), kernel/panic.c (\"Kernel panic - not syncing\") on the guest console";
    public override IReadOnlyList<GuestNeed> GuestNeeds => [];

    public override Finding Evaluate(Target t, Guest g)
    {
        if (g.Crashes.Count > 0)
            return Finding.Fail($"guest {g.Name}'s kernel crashed", [.. g.Crashes, .. LogText.Lines(g.Console).Where(l => l.Length > 0).TakeLast(15)]);
        var booted = g[GuestNeed.Booted];
        return booted.Present ? Finding.Pass($"guest {g.Name} booted, no oops/panic lines", booted.Evidence)
            : Finding.NotApplicable($"guest {g.Name} did not boot", booted.Evidence);
    }
}

static partial class GuestProbes
{
    /// <summary>The first two sha256sum lines of a probe (what was written, what was read back) are equal.</summary>
    public static Finding SumsMatch(IReadOnlyList<string> probe, string where)
    {
        var sums = probe.Select(l => Sum().Match(l.Trim())).Where(m => m.Success).ToList();
        if (sums.Count < 2) return Finding.Fail($"{where}: the probe printed no pair of sha256 sums (the transfer did not complete)", probe);
        return sums[0].Groups[1].Value == sums[1].Groups[1].Value
            ? Finding.Pass($"{where}: data read back identical", sums[0].Value, sums[1].Value)
            : Finding.Fail($"{where}: data read back differs from what was written", sums[0].Value, sums[1].Value);
    }

    [GeneratedRegex(@"^([0-9a-f]{64})\s+\S+")]
    private static partial Regex Sum();
}
