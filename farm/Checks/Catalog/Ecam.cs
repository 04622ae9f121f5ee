using Farm.Checks.Parsers;

namespace Farm.Checks.Catalog;

/// <summary>Linux registered a host bridge through its ECAM window.</summary>
internal sealed class EcamHostBridgeRegistered : Check
{
    public override string Id => "ecam.host-bridge-registered";
    public override string Group => "ecam";
    public override string Title => "host bridge ECAM registered";
    public override string Source => "linux drivers/pci/ecam.c: dev_info(dev, \"ECAM at %pR for %pR\\n\", &cfg->res, &cfg->busr)";
    public override IReadOnlyList<Need> Needs => [Need.PciLog];

    public override Finding Evaluate(Target t) => t.Dmesg.Bridges is [var b, ..]
        ? Finding.Pass($"{b.Device}: ECAM {b.Ecam} for buses {b.BusStart:x2}-{b.BusEnd:x2}", b.Line)
        : Finding.Fail("no 'ECAM at [mem ...] for [bus ...]' line: the kernel found no ECAM host bridge", t[Need.PciLog].Evidence);
}

/// <summary>The ECAM window is exactly 1 MiB of config space per bus of the bridge's range.</summary>
internal sealed class EcamWindowCoversBusRange : Check
{
    public override string Id => "ecam.window-covers-bus-range";
    public override string Group => "ecam";
    public override string Title => "ECAM window size matches the bus range";
    public override string Source => "linux drivers/pci/ecam.c pci_ecam_create: bus_range_max = resource_size(cfgres) >> bus_shift (20 for ECAM)";
    public override IReadOnlyList<Need> Needs => [Need.PciLog];

    public override Finding Evaluate(Target t)
    {
        if (t.Dmesg.Bridges.Count == 0) return Finding.Fail("no ECAM host bridge to measure", t[Need.PciLog].Evidence);
        var bad = t.Dmesg.Bridges.Where(b => b.Ecam.Size != (ulong)(b.BusEnd - b.BusStart + 1) << 20).ToList();
        return bad.Count == 0
            ? Finding.Pass("every ECAM window is (buses x 1 MiB)", t.Dmesg.Bridges.Select(b => b.Line))
            : Finding.Fail("ECAM window size does not match its bus range", bad.Select(b => $"{b.Line}  (size 0x{b.Ecam.Size:x}, want 0x{(ulong)(b.BusEnd - b.BusStart + 1) << 20:x})"));
    }
}

/// <summary>The ECAM window is reserved in /proc/iomem so nothing else can claim it.</summary>
internal sealed class EcamWindowReserved : Check
{
    public override string Id => "ecam.window-reserved-in-iomem";
    public override string Group => "ecam";
    public override string Title => "ECAM window reserved in /proc/iomem";
    public override string Source => "linux drivers/pci/ecam.c: cfg->res.name = \"PCI ECAM\"; kernel/resource.c r_show";
    public override IReadOnlyList<Need> Needs => [Need.PciLog];

    public override Finding Evaluate(Target t)
    {
        if (t.Iomem.Count == 0) return Finding.NotApplicable("the job did not collect cat /proc/iomem");
        if (t.Dmesg.Bridges.Count == 0) return Finding.Fail("no ECAM host bridge in dmesg");
        var evidence = new List<string>();
        foreach (var b in t.Dmesg.Bridges)
        {
            var e = t.Iomem.FirstOrDefault(i => i.Range == b.Ecam && i.Name.StartsWith("PCI ECAM", StringComparison.Ordinal));
            if (e is null) return Finding.Fail($"ECAM {b.Ecam} is not reserved as 'PCI ECAM'", b.Line);
            evidence.Add(e.Line);
        }
        return Finding.Pass("every ECAM window appears as 'PCI ECAM'", evidence);
    }
}

/// <summary>Every PCI device the board is expected to have was enumerated through config space.</summary>
internal sealed class EcamDevicesEnumerated : Check
{
    public override string Id => "ecam.devices-enumerated";
    public override string Group => "ecam";
    public override string Title => "expected devices enumerated on bus 0";
    public override string Source => "linux drivers/pci/probe.c pci_setup_device: pci_info(dev, \"[%04x:%04x] type %02x class %#08x\\n\", ...)";
    public override IReadOnlyList<Need> Needs => [Need.PciLog];

    public override Finding Evaluate(Target t)
    {
        if (t.ExpectedPci.Count == 0) return Finding.NotApplicable("the board lists no expected-pci devices");
        var found = t.Dmesg.Devices.GroupBy(d => d.Bdf).ToDictionary(g => g.Key, g => g.First().Line);
        var missing = t.ExpectedPci.Where(b => !found.ContainsKey(b)).ToList();
        return missing.Count == 0
            ? Finding.Pass($"{t.ExpectedPci.Count} expected devices enumerated", t.ExpectedPci.Select(b => found[b]))
            : Finding.Fail($"not enumerated: {string.Join(", ", missing)}", t.Dmesg.Devices.Select(d => d.Line));
    }
}

/// <summary>With PCI passthrough on, Xen owns the host bridge and dom0's config accesses go through vPCI.</summary>
internal sealed class EcamXenTrapsDom0 : Check
{
    public override string Id => "ecam.xen-traps-dom0-config-space";
    public override string Group => "ecam";
    public override string Title => "Xen owns the host bridge and registers dom0's devices";
    public override string Source => "xen/arch/arm/pci/pci-host-common.c, xen/drivers/vpci/vpci.c; linux drivers/xen/pci.c (PHYSDEVOP_pci_device_add)";
    public override IReadOnlyList<Need> Needs => [Need.PciLog, Need.Xen, Need.XenPci];

    public override Finding Evaluate(Target t) => t.Dmesg.XenAddFailures.Count == 0 && t.Dmesg.Devices.Count > 0
        ? Finding.Pass("Xen reports PCI/vPCI and dom0 registered every device", [.. t.Xen.PciLines.Take(5), .. t.Dmesg.Devices.Select(d => d.Line)])
        : Finding.Fail("dom0 could not register its PCI devices with Xen", t.Dmesg.XenAddFailures);
}
