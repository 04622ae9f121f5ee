using Farm.Checks.Parsers;

namespace Farm.Checks.Catalog;

/// <summary>Every BAR the kernel sized got an address.</summary>
public sealed class BarAllAssigned : Check
{
    public override string Id => "bar.all-probed-bars-assigned";
    public override string Group => "bar";
    public override string Title => "every sized BAR is assigned";
    public override string Source => "linux drivers/pci/probe.c __pci_read_base (\"BAR %d %pR\"); drivers/pci/setup-res.c (\"%s %pR: assigned\", older \"BAR %d: assigned %pR\")";

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
public sealed class BarNoAssignmentFailures : Check
{
    public override string Id => "bar.no-assignment-failures";
    public override string Group => "bar";
    public override string Title => "no BAR assignment failures";
    public override string Source => "linux drivers/pci/setup-res.c: \"%s %pR: can't assign; no space\", \"%s %pR: failed to assign\"";

    public override Finding Evaluate(Target t) => t.Dmesg.BarFailures.Count == 0
        ? Finding.Pass("no 'can't assign' / 'failed to assign' lines", t.Dmesg.AssignedBars.Take(3).Select(b => b.Line))
        : Finding.Fail("BARs could not be placed", t.Dmesg.BarFailures);
}

/// <summary>Every assigned BAR lies inside one of the host bridge's windows.</summary>
public sealed class BarInsideRootWindows : Check
{
    public override string Id => "bar.inside-root-windows";
    public override string Group => "bar";
    public override string Title => "assigned BARs inside the bridge windows";
    public override string Source => "linux drivers/pci/probe.c pci_register_host_bridge: \"root bus resource %pR%s\"";

    public override Finding Evaluate(Target t)
    {
        if (t.Dmesg.Windows.Count == 0) return Finding.Fail("no 'root bus resource' windows in dmesg");
        var outside = t.Dmesg.AssignedBars.Where(b => !t.Dmesg.Windows.Any(w => w.Kind == b.Kind && w.Range.Contains(b.Range))).ToList();
        return outside.Count == 0
            ? Finding.Pass("all assigned BARs inside a root bus window", [.. t.Dmesg.Windows.Select(w => w.Line), .. t.Dmesg.AssignedBars.Select(b => b.Line)])
            : Finding.Fail("BARs outside every bridge window", [.. outside.Select(b => b.Line), .. t.Dmesg.Windows.Select(w => w.Line)]);
    }
}

/// <summary>No two assigned BARs decode the same addresses.</summary>
public sealed class BarNoOverlaps : Check
{
    public override string Id => "bar.no-overlaps";
    public override string Group => "bar";
    public override string Title => "assigned BARs do not overlap";
    public override string Source => "linux drivers/pci/setup-res.c (assigned ranges); PCI Local Bus spec: decoders must not overlap";

    public override Finding Evaluate(Target t)
    {
        var bars = t.Dmesg.AssignedBars;
        for (int i = 0; i < bars.Count; i++)
            for (int j = i + 1; j < bars.Count; j++)
                if (bars[i].Kind == bars[j].Kind && bars[i].Range.Overlaps(bars[j].Range))
                    return Finding.Fail("two BARs decode the same addresses", bars[i].Line, bars[j].Line);
        return Finding.Pass($"{bars.Count} assigned BARs, pairwise disjoint", bars.Select(b => b.Line));
    }
}

/// <summary>Each assigned memory BAR is claimed in /proc/iomem by its device, nested under a bridge window.</summary>
public sealed class BarClaimedInIomem : Check
{
    public override string Id => "bar.claimed-in-iomem";
    public override string Group => "bar";
    public override string Title => "memory BARs claimed in /proc/iomem without overlap";
    public override string Source => "linux kernel/resource.c r_show (\"%0*llx-%0*llx : %s\"); drivers/pci/setup-res.c pci_claim_resource";

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
public sealed class BarLspciMatchesKernel : Check
{
    public override string Id => "bar.lspci-matches-kernel";
    public override string Group => "bar";
    public override string Title => "lspci regions equal the kernel's BAR assignments";
    public override string Source => "pciutils lspci.c show_bases: \"Region %d: Memory at %08x (%s, %s) [size=%s]\"";

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
