using System.Text.RegularExpressions;

namespace Farm.Checks.Catalog;

/// <summary>
/// The IOMMU is translating: every PCI endpoint is behind it. Natively Linux owns the IOMMU and puts
/// each endpoint in an IOMMU group. Under Xen the IOMMU is Xen's and dom0 never sees it, so no group
/// line can exist: there an endpoint is behind the IOMMU once Xen registered it (pci_add_device
/// attaches it to the IOMMU, and a refusal is dom0's "Failed to add").
/// </summary>
internal sealed partial class IommuDevicesGrouped : Check
{
    public override string Id => "iommu.devices-grouped";
    public override string Group => "dma-iommu";
    public override string Title => "every PCI endpoint behind the IOMMU";
    public override string Source => "linux drivers/iommu/iommu.c iommu_group_add_device: dev_info(dev, \"Adding to iommu group %d\\n\", group->id); " +
        "under Xen: xen/drivers/passthrough/pci.c pci_add_device: printk(XENLOG_DEBUG \"PCI add %s %pp\\n\", pdev_type, &pdev->sbdf)";
    public override IReadOnlyList<Need> Needs => [Need.PciLog, Need.Iommu];

    public override Finding Evaluate(Target t)
    {
        var endpoints = t.Dmesg.Devices.Where(d => !d.Class.StartsWith("0600", StringComparison.Ordinal)).ToList();
        if (endpoints.Count == 0) return Finding.NotApplicable("no PCI endpoints enumerated");
        if (t[Need.Xen].Present)
        {
            var added = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var l in t.Xen.PciLines)
                if (XenAdded().Match(l) is { Success: true } m) added.TryAdd(m.Groups[1].Value, l);
            var outside = endpoints.Where(d => !added.ContainsKey("0000:" + d.Bdf) && !added.ContainsKey(d.Bdf)).ToList();
            return outside.Count == 0
                ? Finding.Pass($"Xen registered all {endpoints.Count} endpoints with its IOMMU on", [t[Need.Iommu].Evidence, .. added.Values])
                : Finding.Fail("endpoints Xen never registered, so its IOMMU does not cover them", [t[Need.Iommu].Evidence, .. outside.Select(d => d.Line), .. t.Dmesg.XenAddFailures.Take(5)]);
        }
        var grouped = t.Dmesg.IommuGroups.Select(g => g.Bdf).ToHashSet();
        var missing = endpoints.Where(d => !grouped.Contains(d.Bdf)).ToList();
        return missing.Count == 0 ? Finding.Pass($"{endpoints.Count} endpoints in IOMMU groups", t.Dmesg.IommuGroups.Select(g => g.Line))
            : Finding.Fail("endpoints doing DMA outside any IOMMU group", missing.Select(d => d.Line));
    }

    [GeneratedRegex(@"PCI add device ((?:[0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])")]
    private static partial Regex XenAdded();
}

/// <summary>No SMMU translation faults, in Linux or in Xen.</summary>
internal sealed class DmaNoIommuFaults : Check
{
    public override string Id => "dma.no-iommu-faults";
    public override string Group => "dma-iommu";
    public override string Title => "no SMMU faults";
    public override string Source => "linux drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c (\"event 0x%02x received:\"); xen/drivers/passthrough/arm/smmu.c (\"Unhandled context fault\")";
    // Without an IOMMU there is nothing to fault: that is not a pass.
    public override IReadOnlyList<Need> Needs => [Need.Iommu];

    public override Finding Evaluate(Target t)
    {
        var faults = t.Dmesg.SmmuFaults.Concat(t.Xen.SmmuFaults).ToList();
        return faults.Count == 0 ? Finding.Pass("no SMMU event/context-fault lines", t[Need.Iommu].Evidence) : Finding.Fail("the SMMU reported faults", faults);
    }
}

/// <summary>Data written to the NVMe by DMA reads back identical.</summary>
internal sealed partial class DmaNvmeRoundTrip : Check
{
    public override string Id => "dma.nvme-write-read-sha256";
    public override string Group => "dma-iommu";
    public override string Title => "NVMe write/read round trip (sha256)";
    public override string Source => "farm probe 'FARM-PROBE nvme-dma' (jobs/*.yaml): dd to /dev/nvme0n1, drop caches, dd back, sha256sum both";
    public override IReadOnlyList<Need> Needs => [Need.Nvme, Need.NvmeDmaProbe];

    public override Finding Evaluate(Target t)
    {
        // Without the nvme driver there is no /dev/nvme0n1 block device: dd then writes and reads back a plain
        // file of that name in /dev, and the sums match without a byte of DMA (seen on Debian's Xen on the
        // stage-2 SMMU board, where dom0 gave the controller up). The round trip counts only through the driver.
        if (t.Nvme is { } nvme && nvme.Driver != "nvme")
            return Finding.Fail($"the NVMe has no nvme driver bound ({(nvme.Driver is { Length: > 0 } d ? d : "none")}): the probe's sums are of a file, not of DMA", [nvme.Header, .. t.NvmeDma!.Take(3)]);
        var sums = t.NvmeDma!.Select(l => Sum().Match(l)).Where(m => m.Success).ToList();
        if (sums.Count < 2) return Finding.Fail("the probe printed no pair of sha256 sums (the transfer did not complete)", t.NvmeDma!);
        return sums[0].Groups[1].Value == sums[1].Groups[1].Value
            ? Finding.Pass("16 MiB read back identical", sums[0].Value, sums[1].Value)
            : Finding.Fail("data read back differs from what was written", sums[0].Value, sums[1].Value);
    }

    [GeneratedRegex(@"^([0-9a-f]{64})\s+\S+")]
    private static partial Regex Sum();
}

/// <summary>NVMe I/O raised the NVMe's interrupt counts: completions are signalled, not polled.</summary>
internal sealed partial class DmaNvmeInterruptsRise : Check
{
    public override string Id => "dma.nvme-interrupts-rise-during-io";
    public override string Group => "dma-iommu";
    public override string Title => "NVMe interrupt counts rise during I/O";
    public override string Source => "farm probe 'FARM-PROBE nvme-dma': grep nvme0q /proc/interrupts before and after (kernel/irq/proc.c)";
    public override IReadOnlyList<Need> Needs => [Need.Nvme, Need.NvmeDmaProbe];

    public override Finding Evaluate(Target t)
    {
        var pairs = t.NvmeDmaInterrupts();
        if (pairs.Count == 0) return Finding.Fail("the probe did not show NVMe interrupt rows before and after", t.NvmeDma!);
        long before = pairs.Sum(p => p.Before.Total), after = pairs.Sum(p => p.After.Total);
        var evidence = pairs.SelectMany(p => new[] { p.Before.Line, p.After.Line });
        return after > before ? Finding.Pass($"NVMe interrupts {before} -> {after}", evidence)
            : Finding.Fail($"NVMe interrupts did not rise ({before} -> {after})", evidence);
    }
}
