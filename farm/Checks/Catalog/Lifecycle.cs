using System.Text.RegularExpressions;
using Farm.Checks.Parsers;

namespace Farm.Checks.Catalog;

/// <summary>The devices the board file promises are there, as lspci sees them.</summary>
internal sealed class LifecycleExpectedDevicesPresent : Check
{
    public override string Id => "lifecycle.expected-devices-present";
    public override string Group => "lifecycle";
    public override string Title => "board's expected PCI devices present";
    public override string Source => "pciutils lspci.c show_device header (\"%04x:%02x:%02x.%d %s: %s\")";
    public override IReadOnlyList<Need> Needs => [];

    public override Finding Evaluate(Target t)
    {
        if (t.ExpectedPci.Count == 0) return Finding.NotApplicable("the board lists no expected-pci devices");
        if (t.Lspci.Count == 0) return Finding.NotApplicable("the job did not collect lspci -vvv");
        var seen = t.Lspci.GroupBy(d => d.Bdf).ToDictionary(g => g.Key, g => g.First().Header);
        var missing = t.ExpectedPci.Where(b => !seen.ContainsKey(b)).ToList();
        return missing.Count == 0 ? Finding.Pass("all expected devices present", t.ExpectedPci.Select(b => seen[b]))
            : Finding.Fail($"missing: {string.Join(", ", missing)}", seen.Values);
    }
}

/// <summary>The NVMe and the NIC have their drivers bound (dom0 or native owns them and they work).</summary>
internal sealed class LifecycleDriversBound : Check
{
    public override string Id => "lifecycle.drivers-bound";
    public override string Group => "lifecycle";
    public override string Title => "nvme and e1000e drivers bound";
    public override string Source => "pciutils lspci.c: \"Kernel driver in use: %s\"; linux drivers/nvme/host/pci.c (\"pci function %s\")";
    public override IReadOnlyList<Need> Needs => [];

    public override Finding Evaluate(Target t)
    {
        if (t.Lspci.Count == 0) return Finding.NotApplicable("the job did not collect lspci -vvv");
        var devices = new[] { (t.Nvme, "nvme"), (t.E1000e, "e1000e") }.Where(d => d.Item1 is not null).ToList();
        if (devices.Count == 0) return Finding.NotApplicable("neither an NVMe nor an e1000e on this target");
        var unbound = devices.Where(d => d.Item1!.Driver != d.Item2).ToList();
        return unbound.Count == 0 ? Finding.Pass("drivers bound: " + string.Join(", ", devices.Select(d => $"{d.Item1!.Bdf}={d.Item2}")), devices.Select(d => d.Item1!.Header))
            : Finding.Fail("devices without their driver", unbound.Select(d => $"{d.Item1!.Header}: driver {d.Item1.Driver ?? "(none)"}"));
    }
}

/// <summary>The kernel did not oops or panic.</summary>
internal sealed class LifecycleNoKernelOops : Check
{
    public override string Id => "lifecycle.no-kernel-oops";
    public override string Group => "lifecycle";
    public override string Title => "no kernel oops or panic";
    public override string Source => "linux arch/arm64/mm/fault.c (\"Unable to handle kernel %s at virtual address\"), arch/arm64/kernel/traps.c (\"Internal error: \"), kernel/panic.c (\"Kernel panic - not syncing\")";
    public override IReadOnlyList<Need> Needs => [Need.KernelLog];

    public override Finding Evaluate(Target t) => t.Dmesg.Oopses.Count == 0
        ? Finding.Pass("no oops/panic lines", t[Need.KernelLog].Evidence) : Finding.Fail("the kernel oopsed", t.Dmesg.Oopses);
}

/// <summary>Xen accepted its whole command line and did not panic.</summary>
internal sealed class LifecycleXenHealthy : Check
{
    public override string Id => "lifecycle.xen-parameters-valid";
    public override string Group => "lifecycle";
    public override string Title => "Xen accepted every command-line parameter";
    public override string Source => "xen/common/kernel.c parse_params: \"parameter \\\"%s\\\" has invalid value \\\"%s\\\", rc=%d!\"; xen/drivers/char/console.c (\"Panic on CPU %d\")";
    public override IReadOnlyList<Need> Needs => [Need.Xen];

    public override Finding Evaluate(Target t)
    {
        var bad = t.Xen.InvalidParameters.Concat(t.Xen.Panics).ToList();
        return bad.Count == 0 ? Finding.Pass("no invalid parameters, no panic", t.Xen.VersionLine, t.Xen.CommandLine is null ? null : "(XEN) Command line: " + t.Xen.CommandLine)
            : Finding.Fail("Xen rejected parameters or panicked", bad);
    }
}

/// <summary>assign → deassign leaves the device reusable: both succeed and it is not left assignable.</summary>
internal sealed partial class LifecycleAssignDeassign : Check
{
    public override string Id => "lifecycle.assign-deassign-reusable";
    public override string Group => "lifecycle";
    public override string Title => "pci-assignable-add / -remove round trip";
    public override string Source => "tools/libs/light/libxl_pci.c libxl__device_pci_assignable_add/_remove; probe 'FARM-PROBE pci-assign' prints rc= and remove-rc=";
    // Xen quarantines an assignable device in the IOMMU: without one (I/O virtualisation disabled) assignment fails by design.
    public override IReadOnlyList<Need> Needs => [Need.Xen, Need.XenPci, Need.Iommu, Need.PciAssignProbe];

    public override Finding Evaluate(Target t)
    {
        var p = t.PciAssign!;
        var rc = p.FirstOrDefault(l => l.StartsWith("rc=", StringComparison.Ordinal));
        var rrc = p.FirstOrDefault(l => l.StartsWith("remove-rc=", StringComparison.Ordinal));
        if (rc is null || rrc is null) return Finding.Fail("the probe did not finish", p);
        return rc == "rc=0" && rrc == "remove-rc=0" ? Finding.Pass("assignable-add and -remove both succeeded", p)
            : Finding.Fail("assign/deassign failed", p);
    }
}

/// <summary>Neither Xen nor a domain crashed: no panic, no failed assertion, no domain_crash, no data abort Xen had to inject.</summary>
internal sealed class LifecycleNoXenCrash : Check
{
    public override string Id => "lifecycle.no-xen-crash";
    public override string Group => "lifecycle";
    public override string Title => "no Xen panic, assertion, domain crash or unhandled guest data abort";
    public override string Source => "xen/drivers/char/console.c (\"Panic on CPU %d:\"), xen/common/bug.c (\"Assertion '%s' failed at %s%s:%d\"), xen/include/xen/sched.h (\"domain_crash called from %s:%d\"), xen/common/domain.c (\"Domain %d (vcpu#%d) crashed on cpu#%d:\"), xen/arch/arm/traps.c (\"HSR=%#\"PRIregister\" pc=... gva=... gpa=%#\"PRIpaddr), xen/arch/{arm,x86}/traps.c (\"Xen call trace:\")";
    public override IReadOnlyList<Need> Needs => [Need.Xen];

    public override Finding Evaluate(Target t)
    {
        var x = t.Xen;
        var bad = x.Crashes.Concat(x.DataAborts.Select(a => $"{a.Line}  (gpa 0x{a.Gpa:x}{(a.Vcpu is null ? "" : $", {a.Vcpu}")})")).ToList();
        if (bad.Count == 0) return Finding.Pass("no panic, assertion, domain crash or injected data abort", t[Need.Xen].Evidence);
        var what = x.Panics.Count > 0 ? "Xen panicked" : x.Assertions.Count > 0 ? "a Xen assertion failed" : x.DomainCrashes.Count > 0 ? "a domain crashed" : "Xen injected data aborts into a domain";
        return Finding.Fail(what, [.. bad, .. x.CallTraces.Take(3)]);
    }
}

/// <summary>The toolstack added the PCI devices it was asked to: no libxl/xl or QEMU passthrough errors.</summary>
internal sealed class LifecycleNoToolstackPciErrors : Check
{
    public override string Id => "lifecycle.no-toolstack-pci-errors";
    public override string Group => "lifecycle";
    public override string Title => "no toolstack PCI passthrough errors";
    public override string Source => "tools/libs/light/libxl_create.c (\"passthrough not supported on this platform\", \"unable to add pci devices\"), tools/libs/light/libxl_pci.c (\"libxl__device_pci_add failed for PCI device ...\", \"xc_assign_device failed\", \"failed to quarantine\", \"failed to de-quarantine\"), qemu hw/xen/xen_pt_msi.c (\"Mapping of MSI-X (err: %i, ...)\")";
    public override IReadOnlyList<Need> Needs => [Need.Toolstack];

    public override Finding Evaluate(Target t)
    {
        if (t.Toolstack.Count == 0) return Finding.Pass("toolstack output without PCI errors", t[Need.Toolstack].Evidence);
        // A Xen without PCI support is expected to refuse; negative.unassignable-refused-clearly judges how it refuses.
        // Only Xen's own log (its banner, xl info) can say it lacks PCI or an IOMMU (quarantine needs one): a bare toolstack excerpt cannot.
        bool refusalExpected = (t.Xen.VersionLine is not null || t.XlInfo.ContainsKey("xen_version")) && (!t[Need.XenPci].Present || !t[Need.Iommu].Present)
            && t.Toolstack.All(e => e.Kind is Parsers.ToolstackErrorKind.QuarantineFailed or Parsers.ToolstackErrorKind.PassthroughUnsupported);
        if (refusalExpected)
            return Finding.NotApplicable("this Xen has no PCI passthrough or no IOMMU: its refusals are expected",
                [t[Need.XenPci].Present ? t[Need.Iommu].Evidence : t[Need.XenPci].Evidence, .. t.Toolstack.Select(e => e.Line)]);
        // Xen answered ENOSYS to the toolstack (Arm's Xen 4.17 has no XEN_DOMCTL_ioport_permission, which libxl asks
        // for an I/O-port BAR): the platform does not implement passthrough of that device. A gap, judged per guest
        // by the guest checks (farm/Checks/Guests.cs NotImplemented), not a regression.
        var libxl = t.Bundle.Commands.Values.SelectMany(LogText.Lines).Where(l => l.Contains("libxl: error", StringComparison.Ordinal));
        if (Guest.FirstKnown(Guest.NotImplemented, libxl) is { } enosys)
            return Finding.NotApplicable("Xen does not implement what the toolstack asked for (ENOSYS): a gap of this platform", [enosys.Line, .. t.Toolstack.Select(e => e.Line)]);
        return Finding.Fail($"the toolstack failed to pass devices through ({string.Join(", ", t.Toolstack.Select(e => e.Kind).Distinct())})",
            t.Toolstack.Select(e => e.Line));
    }
}
