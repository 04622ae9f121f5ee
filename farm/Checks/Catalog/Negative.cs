namespace Farm.Checks.Catalog;

/// <summary>A Xen without PCI support refuses dom0's devices visibly, for every device, rather than silently.</summary>
internal sealed class NegativeDom0RegistrationRefusedLoudly : Check
{
    public override string Id => "negative.pci-refusal-is-visible";
    public override string Group => "negative";
    public override string Title => "Xen without PCI support refuses each device with a message";
    public override string Source => "linux drivers/xen/pci.c xen_add_device: dev_err(dev, \"Failed to add - passthrough or MSI/MSI-X might fail!\\n\")";
    public override IReadOnlyList<Need> Needs => [Need.PciLog, Need.Xen];

    public override Finding Evaluate(Target t)
    {
        if (t[Need.XenPci].Present) return Finding.NotApplicable("this Xen supports PCI: nothing to refuse", t[Need.XenPci].Evidence);
        var refused = t.Dmesg.XenAddFailures.Select(l => l.Split(' ').FirstOrDefault(w => w.Length == 13 && w.EndsWith(':'))?.TrimEnd(':')).ToHashSet();
        var silent = t.Dmesg.Devices.Where(d => !refused.Contains(d.Bdf)).ToList();
        if (t.Dmesg.Devices.Count == 0) return Finding.NotApplicable("no PCI devices enumerated");
        return silent.Count == 0 ? Finding.Pass($"all {t.Dmesg.Devices.Count} devices refused with a message", t.Dmesg.XenAddFailures)
            : Finding.Fail("devices neither registered nor refused", silent.Select(d => d.Line));
    }
}

/// <summary>Asking a Xen without PCI passthrough to make a device assignable fails with a clear toolstack error.</summary>
internal sealed class NegativeUnassignableRefused : Check
{
    public override string Id => "negative.unassignable-refused-clearly";
    public override string Group => "negative";
    public override string Title => "xl pci-assignable-add refused with a clear error";
    public override string Source => "tools/libs/light/libxl_pci.c libxl__device_pci_assignable_add: LOGE(ERROR, \"failed to quarantine %s\", ...); probe 'FARM-PROBE pci-assign'";
    public override IReadOnlyList<Need> Needs => [Need.Xen, Need.PciAssignProbe];

    public override Finding Evaluate(Target t)
    {
        if (t[Need.XenPci].Present) return Finding.NotApplicable("this Xen supports PCI passthrough: the refusal path is not exercised", t[Need.XenPci].Evidence);
        var p = t.PciAssign!;
        var rc = p.FirstOrDefault(l => l.StartsWith("rc=", StringComparison.Ordinal));
        var error = p.FirstOrDefault(l => l.StartsWith("libxl: error:", StringComparison.Ordinal) || l.Contains("not supported", StringComparison.Ordinal));
        if (rc is null) return Finding.Fail("the probe did not finish", p);
        if (rc == "rc=0") return Finding.Fail("the toolstack claimed success on a Xen without PCI support", p);
        return error is not null ? Finding.Pass($"refused ({rc}) with: {error}", rc, error)
            : Finding.Fail($"refused ({rc}) but without an error message", p);
    }
}
