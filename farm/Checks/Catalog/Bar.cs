using Farm.Checks.Parsers;

namespace Farm.Checks.Catalog;

/// <summary>Every BAR the kernel sized got an address.</summary>
internal sealed class BarAllAssigned : Check
{
    public override string Id => "bar.all-probed-bars-assigned";
    public override string Group => "bar";
    public override string Title => "every sized BAR is assigned";
    public override string Source => "linux drivers/pci/probe.c __pci_read_base (\"BAR %d %pR\"); drivers/pci/setup-res.c (\"%s %pR: assigned\", older \"BAR %d: assigned %pR\")";
    public override IReadOnlyList<Need> Needs => [Need.PciLog];

    public override Finding Evaluate(Target t)
    {
        if (t.Dmesg.ProbedBars.Count == 0) return Finding.Fail("the kernel sized no BARs", t.Dmesg.Devices.Select(d => d.Line));
        var assigned = t.Dmesg.AssignedBars.Select(b => (b.Bdf, b.Index)).ToHashSet();
        var missing = t.Dmesg.ProbedBars.Where(b => !assigned.Contains((b.Bdf, b.Index))).ToList();
        return missing.Count == 0
            ? Finding.Pass($"{assigned.Count} BARs assigned", t.Dmesg.AssignedBars.Select(b => b.Line))
            : Finding.Fail($"{missing.Count} BARs sized but never assigned", missing.Select(b => b.Line));
    }
}

/// <summary>No "can't assign" or "failed to assign" for any BAR.</summary>
internal sealed class BarNoAssignmentFailures : Check
{
    public override string Id => "bar.no-assignment-failures";
    public override string Group => "bar";
    public override string Title => "no BAR assignment failures";
    public override string Source => "linux drivers/pci/setup-res.c: \"%s %pR: can't assign; no space\", \"%s %pR: failed to assign\"";
    public override IReadOnlyList<Need> Needs => [Need.PciBars];

    public override Finding Evaluate(Target t) => t.Dmesg.BarFailures.Count == 0
        ? Finding.Pass("no 'can't assign' / 'failed to assign' lines", t.Dmesg.AssignedBars.Take(3).Select(b => b.Line))
        : Finding.Fail("BARs could not be placed", t.Dmesg.BarFailures);
}

/// <summary>Every assigned BAR lies inside one of the host bridge's windows.</summary>
internal sealed class BarInsideRootWindows : Check
{
    public override string Id => "bar.inside-root-windows";
    public override string Group => "bar";
    public override string Title => "assigned BARs inside the bridge windows";
    public override string Source => "linux drivers/pci/probe.c pci_register_host_bridge: \"root bus resource %pR%s\"";
    public override IReadOnlyList<Need> Needs => [Need.PciLog];

    public override Finding Evaluate(Target t)
    {
        if (t.Dmesg.Windows.Count == 0) return Finding.Fail("no 'root bus resource' windows in dmesg");
        var outside = t.Dmesg.AssignedBars.Where(b => !t.Dmesg.Windows.Any(w => w.Kind == b.Kind && w.Range.Contains(b.Range))).ToList();
        return outside.Count == 0
            ? Finding.Pass("all assigned BARs inside a root bus window", [.. t.Dmesg.Windows.Select(w => w.Line), .. t.Dmesg.AssignedBars.Select(b => b.Line)])
            : Finding.Fail("BARs outside every bridge window", [.. outside.Select(b => b.Line), .. t.Dmesg.Windows.Select(w => w.Line)]);
    }
}

/// <summary>
/// No two assigned BARs decode the same addresses. A bridge's windows (resources 13-16) forward
/// the addresses of everything behind it, so a BAR inside its upstream bridge's window, or a
/// window inside its parent bridge's window, is the hierarchy working, not an overlap.
/// </summary>
internal sealed class BarNoOverlaps : Check
{
    public override string Id => "bar.no-overlaps";
    public override string Group => "bar";
    public override string Title => "assigned BARs do not overlap";
    public override string Source => "linux drivers/pci/setup-res.c (assigned ranges), drivers/pci/probe.c (\"PCI bridge to %pR%s\", \"  bridge window %pR\"), include/linux/pci.h PCI_BRIDGE_RESOURCES (13-16); PCI Local Bus spec: decoders must not overlap";
    public override IReadOnlyList<Need> Needs => [Need.PciBars];

    public override Finding Evaluate(Target t)
    {
        var bars = t.Dmesg.AssignedBars;
        var windows = t.Dmesg.BridgeWindows;
        for (int i = 0; i < bars.Count; i++)
            for (int j = i + 1; j < bars.Count; j++)
                if (bars[i].Kind == bars[j].Kind && bars[i].Range.Overlaps(bars[j].Range))
                    return Finding.Fail("two BARs decode the same addresses", bars[i].Line, bars[j].Line);
        foreach (var b in bars)
            foreach (var w in windows.Where(w => w.Kind == b.Kind && w.Range.Overlaps(b.Range)))
            {
                if (!w.Range.Contains(b.Range))
                    return Finding.Fail($"{b.Bdf} BAR {b.Index} straddles the edge of bridge {w.Bdf}'s window", b.Line, w.Line);
                if (Behind(t, b.Bdf, w.Bdf) == false)
                    return Finding.Fail($"{b.Bdf} BAR {b.Index} lies in the window of bridge {w.Bdf}, which it is not behind", b.Line, w.Line,
                        t.Dmesg.BridgeBusRanges.FirstOrDefault(r => r.Bdf == w.Bdf)?.Line);
            }
        for (int i = 0; i < windows.Count; i++)
            for (int j = i + 1; j < windows.Count; j++)
                if (windows[i].Kind == windows[j].Kind && windows[i].Range.Overlaps(windows[j].Range)
                    && !windows[i].Range.Contains(windows[j].Range) && !windows[j].Range.Contains(windows[i].Range))
                    return Finding.Fail("two bridge windows overlap without nesting", windows[i].Line, windows[j].Line);
        var summary = windows.Count == 0 ? $"{bars.Count} assigned BARs, pairwise disjoint"
            : $"{bars.Count} assigned BARs pairwise disjoint, each inside only its upstream bridges' windows ({windows.Count} windows)";
        return Finding.Pass(summary, [.. bars.Select(b => b.Line), .. windows.Select(w => w.Line)]);
    }

    /// <summary>Whether a device sits behind a bridge: its bus within the bridge's secondary..subordinate; null when the log does not say.</summary>
    static bool? Behind(Target t, string device, string bridge)
    {
        if (t.Dmesg.BridgeBusRanges.FirstOrDefault(r => r.Bdf == bridge) is not { } range) return null;
        if (device.Length < 7 || !Parsers.LogText.TryHex(device[5..7], out var bus)) return null;
        return device[..4] == bridge[..4] && (int)bus >= range.Secondary && (int)bus <= range.Subordinate;
    }
}

/// <summary>vPCI maps every BAR dom0 enables: no "not mapping BAR ... invalid position".</summary>
internal sealed class BarXenMapsEveryBar : Check
{
    public override string Id => "bar.xen-maps-every-bar";
    public override string Group => "bar";
    public override string Title => "Xen's vPCI maps every BAR dom0 enables";
    public override string Source => "xen/drivers/vpci/header.c modify_bars: printk(XENLOG_G_WARNING \"%pp: not mapping BAR [%lx, %lx] invalid position\\n\", ...); xen/arch/arm/pci/pci-host-common.c pci_check_bar";
    public override IReadOnlyList<Need> Needs => [Need.Xen, Need.XenPci];

    public override Finding Evaluate(Target t) => t.Xen.BarRefusals.Count == 0
        ? Finding.Pass("no 'not mapping BAR' lines: vPCI mapped what dom0 enabled", t[Need.XenPci].Evidence)
        : Finding.Fail($"vPCI refused to map {t.Xen.BarRefusals.Count} BARs (outside the host bridge windows or over reserved memory): dom0 will fault on them",
            t.Xen.BarRefusals.Select(r => $"{r.Line}  ({r.Sbdf} [mem {r.Range}])"));
}

/// <summary>Each assigned memory BAR is claimed in /proc/iomem by its device, nested under a bridge window.</summary>
internal sealed class BarClaimedInIomem : Check
{
    public override string Id => "bar.claimed-in-iomem";
    public override string Group => "bar";
    public override string Title => "memory BARs claimed in /proc/iomem without overlap";
    public override string Source => "linux kernel/resource.c r_show (\"%0*llx-%0*llx : %s\"); drivers/pci/setup-res.c pci_claim_resource";
    public override IReadOnlyList<Need> Needs => [Need.PciLog];

    public override Finding Evaluate(Target t)
    {
        if (t.Iomem.Count == 0) return Finding.NotApplicable("the job did not collect cat /proc/iomem");
        var evidence = new List<string>();
        foreach (var b in t.Dmesg.AssignedBars.Where(b => b.Kind == "mem"))
        {
            var e = t.Iomem.FirstOrDefault(i => i.Range == b.Range && i.Name == b.Bdf);
            if (e is null) return Finding.Fail($"{b.Bdf} BAR {b.Index} {b.Range} is not claimed in /proc/iomem", b.Line);
            var clash = t.Iomem.FirstOrDefault(i => i.Depth == e.Depth && i != e && i.Range.Overlaps(e.Range));
            if (clash is not null) return Finding.Fail($"{b.Bdf} BAR {b.Index} overlaps another range", e.Line, clash.Line);
            evidence.Add(e.Line);
        }
        return evidence.Count > 0 ? Finding.Pass($"{evidence.Count} memory BARs claimed", evidence) : Finding.Fail("no memory BARs assigned");
    }
}

/// <summary>lspci shows the same address and size for each region as the kernel assigned.</summary>
internal sealed class BarLspciMatchesKernel : Check
{
    public override string Id => "bar.lspci-matches-kernel";
    public override string Group => "bar";
    public override string Title => "lspci regions equal the kernel's BAR assignments";
    public override string Source => "pciutils lspci.c show_bases: \"Region %d: Memory at %08x (%s, %s) [size=%s]\"";
    public override IReadOnlyList<Need> Needs => [Need.PciLog];

    public override Finding Evaluate(Target t)
    {
        if (t.Lspci.Count == 0) return Finding.NotApplicable("the job did not collect lspci -vvv");
        var evidence = new List<string>();
        foreach (var b in t.Dmesg.AssignedBars.Where(b => b.Kind == "mem"))
        {
            var region = t.Lspci.FirstOrDefault(d => d.Bdf == b.Bdf)?.Regions.FirstOrDefault(r => r.Index == b.Index);
            if (region is null) return Finding.Fail($"lspci shows no region {b.Index} for {b.Bdf}", b.Line);
            if (region.Range != b.Range) return Finding.Fail($"{b.Bdf} region {b.Index}: lspci {region.Range}, kernel {b.Range}", region.Line, b.Line);
            evidence.Add(region.Line.Trim());
        }
        return evidence.Count > 0 ? Finding.Pass($"{evidence.Count} regions agree", evidence) : Finding.Fail("no memory BARs to compare");
    }
}
