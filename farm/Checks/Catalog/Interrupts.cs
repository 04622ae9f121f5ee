using System.Text.RegularExpressions;

namespace Farm.Checks.Catalog;

/// <summary>With a GICv3 ITS present, the kernel builds a PCI/MSI domain on it.</summary>
internal sealed partial class IrqMsiDomainOnIts : Check
{
    [GeneratedRegex(@"PCI/MSI: \S*/its(@[0-9a-f]+)? domain created")]
    private static partial Regex ItsNode();

    public override string Id => "irq.msi-domain-on-its";
    public override string Group => "interrupts";
    public override string Title => "PCI/MSI domain created on the ITS";
    public override string Source => "linux drivers/irqchip/irq-gic-v3-its-pci-msi.c its_pci_msi_init_one: pr_info(\"PCI/MSI: %pOF domain created\\n\", np)";
    public override IReadOnlyList<Need> Needs => [Need.KernelLog, Need.Its];

    // Natively the node is /intc@8000000/its@8080000; in a dom0 it is the one Xen writes, /interrupt-controller/its.
    public override Finding Evaluate(Target t) => t.Dmesg.MsiDomainLines.FirstOrDefault(l => ItsNode().IsMatch(l)) is { } line
        ? Finding.Pass("PCI/MSI domain on the ITS", line, t[Need.Its].Evidence)
        : Finding.Fail("an ITS is present but no PCI/MSI domain was created on it", t[Need.Its].Evidence);
}

/// <summary>Where MSI works, the NVMe and the NIC use MSI-X rather than falling back to INTx.</summary>
internal sealed class IrqDevicesUseMsiX : Check
{
    public override string Id => "irq.devices-use-msix";
    public override string Group => "interrupts";
    public override string Title => "NVMe and NIC interrupts on MSI-X";
    public override string Source => "pciutils ls-caps.c cap_msix: \"MSI-X: Enable%c Count=%d Masked%c\"; linux drivers/nvme/host/pci.c pci_alloc_irq_vectors(PCI_IRQ_ALL_TYPES)";
    public override IReadOnlyList<Need> Needs => [Need.Msi];

    public override Finding Evaluate(Target t)
    {
        var devices = new[] { t.Nvme, t.E1000e }.Where(d => d is { Driver: not null, MsiX: not null }).Select(d => d!).ToList();
        if (devices.Count == 0) return Finding.NotApplicable("no bound NVMe/e1000e with an MSI-X capability in lspci");
        var off = devices.Where(d => d.MsiX is not { Enabled: true }).ToList();
        return off.Count == 0 ? Finding.Pass("MSI-X enabled on " + string.Join(", ", devices.Select(d => d.Bdf)), devices.Select(d => d.MsiX!.Line))
            : Finding.Fail("MSI is available but devices fell back from MSI-X", off.Select(d => $"{d.Bdf}: {d.MsiX!.Line.Trim()}"));
    }
}

/// <summary>The NVMe's queues took interrupts.</summary>
internal sealed class IrqNvmeDelivered : Check
{
    public override string Id => "irq.nvme-interrupts-delivered";
    public override string Group => "interrupts";
    public override string Title => "NVMe queue interrupts delivered";
    public override string Source => "linux kernel/irq/proc.c show_interrupts; drivers/nvme/host/pci.c queue irq names \"nvme%dq%d\"";
    public override IReadOnlyList<Need> Needs => [Need.Nvme];

    public override Finding Evaluate(Target t)
    {
        if (t.Interrupts.Count == 0) return Finding.NotApplicable("the job did not collect cat /proc/interrupts");
        var rows = t.Interrupts.Where(r => Regex.IsMatch(r.Name, @"\bnvme\d+q\d+")).ToList();
        if (rows.Count == 0) return Finding.Fail("no nvme queue interrupts registered", t[Need.Nvme].Evidence);
        return rows.Sum(r => r.Total) > 0 ? Finding.Pass($"{rows.Sum(r => r.Total)} NVMe interrupts on {rows.Count} vectors ({rows[0].Chip})", rows.Select(r => r.Line))
            : Finding.Fail("NVMe queue interrupts registered but none delivered", rows.Select(r => r.Line));
    }
}

/// <summary>The NIC took interrupts.</summary>
internal sealed class IrqNicDelivered : Check
{
    public override string Id => "irq.nic-interrupts-delivered";
    public override string Group => "interrupts";
    public override string Title => "e1000e interrupts delivered";
    public override string Source => "linux kernel/irq/proc.c show_interrupts; drivers/net/ethernet/intel/e1000e/netdev.c (\"%s-rx-0\", \"%s-tx-0\", \"%s\")";
    public override IReadOnlyList<Need> Needs => [Need.E1000e];

    public override Finding Evaluate(Target t)
    {
        if (t.Interrupts.Count == 0) return Finding.NotApplicable("the job did not collect cat /proc/interrupts");
        if (t.E1000e?.Driver is null) return Finding.Fail("the e1000e has no driver bound", t[Need.E1000e].Evidence);
        var rows = t.Interrupts.Where(r => Regex.IsMatch(r.Name, @"^eth\d+(-[rt]x-\d+)?$")).ToList();
        if (rows.Count == 0) return Finding.Fail("no eth interrupts registered", t[Need.E1000e].Evidence);
        return rows.Sum(r => r.Total) > 0 ? Finding.Pass($"{rows.Sum(r => r.Total)} NIC interrupts ({rows[0].Chip})", rows.Select(r => r.Line))
            : Finding.Fail("NIC interrupts registered but none delivered", rows.Select(r => r.Line));
    }
}

/// <summary>Devices on legacy interrupts have their INTx routed to an IRQ that exists.</summary>
internal sealed class IrqIntxRouted : Check
{
    public override string Id => "irq.intx-routed";
    public override string Group => "interrupts";
    public override string Title => "INTx devices routed to a live IRQ";
    public override string Source => "pciutils lspci.c: \"Interrupt: pin %c routed to IRQ %d\"; linux kernel/irq/proc.c";
    public override IReadOnlyList<Need> Needs => [];

    public override Finding Evaluate(Target t)
    {
        if (t.Lspci.Count == 0 || t.Interrupts.Count == 0) return Finding.NotApplicable("the job did not collect lspci -vvv and /proc/interrupts");
        var intx = t.Lspci.Where(d => d.Driver is not null && d.InterruptMode == "INTx").ToList();
        if (intx.Count == 0) return Finding.NotApplicable("no bound device uses INTx (all on MSI/MSI-X)", t.Lspci.Where(d => d.MsiX is { Enabled: true }).Select(d => d.MsiX!.Line));
        var evidence = new List<string>();
        foreach (var d in intx)
        {
            if (d.Irq is not { } irq) return Finding.Fail($"{d.Bdf} uses INTx but lspci shows no routed IRQ", d.Header);
            var row = t.Interrupts.FirstOrDefault(r => r.Id == irq.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (row is null) return Finding.Fail($"{d.Bdf} routed to IRQ {irq}, which /proc/interrupts does not have", d.InterruptLine);
            evidence.Add(d.InterruptLine!.Trim());
            evidence.Add(row.Line);
        }
        return Finding.Pass($"{intx.Count} INTx devices routed", evidence);
    }
}

/// <summary>MSI set-up completed without kernel warnings.</summary>
internal sealed class IrqNoMsiWarnings : Check
{
    public override string Id => "irq.no-msi-setup-warnings";
    public override string Group => "interrupts";
    public override string Title => "MSI set-up without kernel warnings";
    public override string Source => "linux drivers/pci/msi/msi.h pci_msi_setup_msi_irqs: WARN_ON_ONCE(!IS_ENABLED(CONFIG_PCI_MSI_ARCH_FALLBACKS))";
    public override IReadOnlyList<Need> Needs => [Need.Msi];

    public override Finding Evaluate(Target t)
    {
        var warnings = t.Dmesg.Warnings.Where(w => w.Contains("msi", StringComparison.OrdinalIgnoreCase)).ToList();
        return warnings.Count == 0 ? Finding.Pass("no MSI-related WARNING lines", t[Need.Msi].Evidence) : Finding.Fail("MSI set-up warned", warnings);
    }
}
