using Farm.Checks;
using Farm.Checks.Parsers;

namespace Farm.Tests.Checks;

/// <summary>
/// The classes of output real boards print that Farm's QEMU evidence never showed, one golden log per
/// class under tests/Golden/logs/real: posted logs (source address in each file's header, text unchanged)
/// or SYNTHESIZED ones built from the source strings.
/// </summary>
internal class RealLogGoldenTests
{
    static Dictionary<string, CheckResult> Judge(string console, Dictionary<string, string>? commands = null) =>
        CheckRunner.Run(new Target(new EvidenceBundle("real", console, commands ?? [])), CheckSuite.All).ToDictionary(r => r.Id);

    [Test]
    public void XenConsoleWithRawAndBootTimestampsStillGivesVersionCommandLineAndIommu()
    {
        var x = XenLogParser.Parse(Logs.Real("xen-console-timestamps.SYNTHESIZED.log"));
        Assert.That(x.Version, Is.EqualTo("4.19.1"));
        Assert.That(x.CommandLine, Does.StartWith("console=dtuart"));
        Assert.That(x.IommuEnabled, Is.True);
        Assert.That(x.Panics, Has.Count.EqualTo(1));
        Assert.That(x.BarRefusals.Single().Range, Is.EqualTo(new AddressRange(0x600000000, 0x600003fff)), "boot-stamped vPCI line, frames to bytes");

        var posted = XenLogParser.Parse(Logs.RealUnquoted("xen-x86-raw-timestamps.log"));
        Assert.That(posted.Lines, Has.Count.EqualTo(3), "raw and boot stamped lines from a Sapphire AMD board");
        Assert.That(posted.BarRefusals.Single().Sbdf, Is.EqualTo("0000:02:00.0"));
    }

    [Test]
    public void BootTimestampedX86LogGivesRefusalsEvenWrappedAndTheCallTrace()
    {
        var x = XenLogParser.Parse(Logs.RealUnquoted("xen-x86-vpci-boot-timestamps.log"));
        Assert.That(x.BarRefusals.Select(r => r.Sbdf), Is.EqualTo(new[] { "0000:02:00.0", "0000:03:00.0", "0000:03:00.0", "0000:04:00.0" }));
        Assert.That(x.BarRefusals[0].Range, Is.EqualTo(new AddressRange(0xfea00000, 0xfea03fff)));
        Assert.That(x.CallTraces, Has.Count.EqualTo(1));
        var r = Judge(Logs.RealUnquoted("xen-x86-vpci-boot-timestamps.log"));
        Assert.That(r["bar.xen-maps-every-bar"].Verdict, Is.EqualTo(CheckVerdict.Fail), "an excerpt without the banner is still a Xen target with vPCI");
        Assert.That(r["bar.xen-maps-every-bar"].Evidence, Has.Some.Contains("not mapping BAR [fea00, fea03]"));
    }

    [Test]
    public void ArmVpciRefusalAndTheDataAbortItCausesFailWithTheirLines()
    {
        var log = Logs.RealUnquoted("xen-arm-vpci-bar-not-mapped.log");
        var x = XenLogParser.Parse(log);
        Assert.That(x.BarRefusals, Has.Count.EqualTo(3));
        Assert.That(x.BarRefusals[0].Range, Is.EqualTo(new AddressRange(0x50008000, 0x50008fff)));
        var abort = x.DataAborts.Single();
        Assert.That((abort.Vcpu, abort.Gpa), Is.EqualTo(("d0v0", 0x50008012UL)), "the gpa is inside the refused BAR");
        Assert.That(x.BarRefusals[0].Range.Contains(new AddressRange(abort.Gpa, abort.Gpa)));

        var r = Judge(log);
        Assert.That(r["bar.xen-maps-every-bar"].Verdict, Is.EqualTo(CheckVerdict.Fail));
        Assert.That(r["lifecycle.no-xen-crash"].Verdict, Is.EqualTo(CheckVerdict.Fail));
        Assert.That(r["lifecycle.no-xen-crash"].Evidence, Has.Some.Contains("gpa 0x50008012"));
        // No 'Linux version' line in the excerpt, yet its oops is judged (gated on the kernel lines it has).
        Assert.That(r["lifecycle.no-kernel-oops"].Verdict, Is.EqualTo(CheckVerdict.Fail), r["lifecycle.no-kernel-oops"].Summary);
        Assert.That(r["lifecycle.no-kernel-oops"].Evidence.Single(), Does.Contain("Unable to handle kernel ttbr address size fault"));
        Assert.That(r["bar.no-overlaps"].Verdict, Is.EqualTo(CheckVerdict.Pass), "three disjoint BARs are evidence enough for this check");
        // The host-bridge checks cannot judge an excerpt that starts after the host bridge: n/a, not a false failure.
        Assert.That(r["ecam.host-bridge-registered"].Verdict, Is.EqualTo(CheckVerdict.NotApplicable));
        Assert.That(r["bar.all-probed-bars-assigned"].Verdict, Is.EqualTo(CheckVerdict.NotApplicable));
    }

    [Test]
    public void AssertionPanicAndDomainCrashAreXenCrashes()
    {
        var x = XenLogParser.Parse(Logs.Real("xen-crash.SYNTHESIZED.log"));
        Assert.That(x.Assertions, Has.Count.EqualTo(2));
        Assert.That(x.Panics.Single(), Does.Contain("Panic on CPU 1:"));
        Assert.That(x.DomainCrashes, Has.Count.EqualTo(2));
        Assert.That(x.CallTraces, Has.Count.EqualTo(1));
        var r = Judge(Logs.Real("xen-crash.SYNTHESIZED.log"));
        Assert.That(r["lifecycle.no-xen-crash"].Verdict, Is.EqualTo(CheckVerdict.Fail));
        Assert.That(r["lifecycle.no-xen-crash"].Summary, Does.Contain("Xen panicked"));
        Assert.That(r["lifecycle.no-xen-crash"].Evidence, Has.Some.Contains("Assertion 'rangeset_is_empty(bar->mem)' failed at drivers/vpci/header.c:360"));
        Assert.That(r["lifecycle.xen-parameters-valid"].Verdict, Is.EqualTo(CheckVerdict.Fail), "the panic fails the existing check too");
    }

    [Test]
    public void XenSmmuGlobalFaultOnJunoIsAStreamMatchConflict()
    {
        var x = XenLogParser.Parse(Logs.RealUnquoted("xen-juno-smmu-global-fault.log"));
        var g = x.SmmuGlobalFaults.Single();
        Assert.That((g.Device, g.Status), Is.EqualTo(("/iommu@7fb30000", 4u)));
        Assert.That(g.Causes, Is.EqualTo(new[] { "stream match conflict" }));
        var r = Judge(Logs.RealUnquoted("xen-juno-smmu-global-fault.log"));
        Assert.That(r["dma.no-iommu-faults"].Verdict, Is.EqualTo(CheckVerdict.Fail), r["dma.no-iommu-faults"].Summary);
        Assert.That(r["dma.no-iommu-faults"].Evidence, Has.Some.Contains("GFSR 0x00000004"));
    }

    [Test]
    public void LinuxSmmuGlobalFaultBesideContextFaults()
    {
        var d = LinuxDmesgParser.Parse(Logs.Real("dmesg-bridge-hierarchy.SYNTHESIZED.log"));
        var g = d.SmmuGlobalFaults.Single();
        Assert.That((g.Device, g.Status, g.Causes.Single()), Is.EqualTo(("5000000.iommu", 2u, "unidentified stream")));
        Assert.That(d.SmmuFaults, Has.Count.EqualTo(2), "the header line and the GFSR line");
    }

    [Test]
    public void ToolstackErrorsWithoutTheErrorPrefixAndQemuMsixMapping()
    {
        var e = ToolstackParser.Parse(Logs.RealUnquoted("xl-pci-add-failed-x86.log"));
        var assign = e.Single(x => x.Kind == ToolstackErrorKind.AssignFailed);
        Assert.That((assign.Domain, assign.Reason), Is.EqualTo(((int?)1, "No space left on device")));
        var add = e.Single(x => x.Kind == ToolstackErrorKind.PciAddFailed);
        Assert.That((add.Device, add.Reason), Is.EqualTo(("0:aa:0.0", "rc -3")));
        Assert.That(e.Count(x => x.Kind == ToolstackErrorKind.AddPciDevicesFailed), Is.EqualTo(1));
        Assert.That(e.Count(x => x.Kind == ToolstackErrorKind.QemuMsiMapping), Is.EqualTo(4), "MSI (spliced stamp), 'Can not map MSI', two MSI-X entries");
        var r = Judge(Logs.RealUnquoted("xl-pci-add-failed-x86.log"));
        Assert.That(r["lifecycle.no-toolstack-pci-errors"].Verdict, Is.EqualTo(CheckVerdict.Fail));
        Assert.That(r["lifecycle.no-toolstack-pci-errors"].Unexpected, Is.True);
    }

    [TestCase("xl-pci-add-failed-pvh-dom0.log", new[] { ToolstackErrorKind.PciAddFailed, ToolstackErrorKind.AddPciDevicesFailed })]
    [TestCase("xl-passthrough-not-supported-rpi4.log", new[] { ToolstackErrorKind.PassthroughUnsupported })]
    public void ToolstackErrorsWithTheLibxlErrorPrefix(string log, ToolstackErrorKind[] kinds)
    {
        Assert.That(ToolstackParser.Parse(Logs.Real(log)).Select(e => e.Kind), Is.EqualTo(kinds));
        Assert.That(Judge(Logs.Real(log))["lifecycle.no-toolstack-pci-errors"].Verdict, Is.EqualTo(CheckVerdict.Fail));
    }

    [Test]
    public void QuarantineRefusalOnAXenWithoutPciIsExpectedNotAFailure()
    {
        var console = Logs.Shared("xen-4.17-bookworm-xl.serial.log");
        var t = new Target(new EvidenceBundle("deb", console, new Dictionary<string, string>()));
        Assert.That(t.Toolstack.Select(e => e.Kind), Has.Member(ToolstackErrorKind.QuarantineFailed));
        var r = CheckRunner.Run(t, [new Farm.Checks.Catalog.LifecycleNoToolstackPciErrors()]).Single();
        Assert.That((r.Verdict, r.Unexpected), Is.EqualTo((CheckVerdict.NotApplicable, false)), r.Summary);
    }

    [Test]
    public void ProcInterruptsWithoutTheCpuHeaderAndSplitChipNames()
    {
        var rows = ProcParsers.Interrupts(Logs.Real("interrupts-headerless.SYNTHESIZED.txt"));
        Assert.That(rows, Has.Count.EqualTo(7));
        Assert.That(rows[0], Has.Property("Chip").EqualTo("xen-dyn-event").And.Property("Name").EqualTo("xenbus").And.Property("Total").EqualTo(97));
        Assert.That(rows[1].Chip, Is.EqualTo("xen-dyn-virq"));
        var nvme = rows.Where(r => r.Name.StartsWith("nvme0q", StringComparison.Ordinal)).ToList();
        Assert.That(nvme.Select(r => r.HwIrq), Is.EqualTo(new[] { "524288", "524289", "524290", "327680" }), "x86 glues the trigger to the hwirq");
        Assert.That(nvme.Sum(r => r.Total), Is.EqualTo(4021 + 17 + 13250 + 9812 + 118));
        // The recorded Farm run prints the trigger between chip and handler name.
        var farm = ProcParsers.Interrupts(File.ReadAllText(Path.Combine(Spec.Checkout.Root, "tests", "Golden", "runs", "xen-4.17-selfbuilt-vpci", "evidence", "cat-proc-interrupts.txt")));
        Assert.That(farm.First(r => r.Id == "0"), Has.Property("Chip").EqualTo("xen-dyn-event").And.Property("Name").EqualTo("xenbus"));
    }

    [Test]
    public void LspciPathAddressesIommuGroupsAndACutMsiLine()
    {
        var devices = LspciParser.Parse(Logs.Real("lspci-pp-iommu-group.SYNTHESIZED.txt"));
        var nvme = devices.Single(d => d.ClassName == "Non-Volatile memory controller");
        Assert.That((nvme.Bdf, nvme.Path, nvme.IommuGroup), Is.EqualTo(("0000:01:00.0", "0000:00:00.0/01:00.0", (int?)4)));
        Assert.That(nvme.Msi, Is.Not.Null.And.Property("Enabled").True, "'MSI: Enable+' with the rest cut");
        Assert.That(nvme.InterruptMode, Is.EqualTo("MSI"));
        Assert.That(devices[0].BridgeWindows.Single().Range, Is.EqualTo(new AddressRange(0x40000000, 0x401fffff)));
    }

    [Test]
    public void LspciNewerInterruptsLineGivesTheMsiIrqRange()
    {
        var devices = LspciParser.Parse(Logs.RealUnquoted("lspci-sc8280xp-msix-routed.txt"));
        Assert.That(devices.Select(d => d.Bdf), Is.EqualTo(new[] { "0002:00:00.0", "0002:01:00.0" }));
        var nvme = devices[1];
        Assert.That(nvme.MsiIrqs, Is.EqualTo((183, 191)));
        Assert.That((nvme.InterruptMode, nvme.Driver, nvme.MsiX!.Count), Is.EqualTo(("MSI-X", "nvme", 17)));
        Assert.That(devices[0].MsiIrqs, Is.EqualTo((182, 182)));
        Assert.That(devices[0].BridgeWindows.Select(w => w.Kind), Is.EqualTo(new[] { "io", "mem", "pref" }));
    }

    [Test]
    public void AcpiRootBridgesAndX86MmconfigAreHostBridges()
    {
        var d = LinuxDmesgParser.Parse(Logs.Real("acpi-host-bridges.SYNTHESIZED.log"));
        var acpi = d.AcpiBridges.Single();
        Assert.That((acpi.Name, acpi.Segment, acpi.BusStart, acpi.BusEnd), Is.EqualTo(("PCI0", 0xc, 0, 0xff)));
        Assert.That(d.Bridges.Select(b => b.Device), Is.EquivalentTo(new[] { "PNP0A08:00", "MMCONFIG domain 0000" }));
        var r = Judge(Logs.Real("acpi-host-bridges.SYNTHESIZED.log"));
        Assert.That(r["ecam.host-bridge-registered"].Verdict, Is.EqualTo(CheckVerdict.Pass));
        Assert.That(r["ecam.window-covers-bus-range"].Verdict, Is.EqualTo(CheckVerdict.Pass), r["ecam.window-covers-bus-range"].Summary);
    }

    [Test]
    public void XenAndDom0OnOneSerialLineAreSplit()
    {
        var log = Logs.Real("interleaved-serial-line.SYNTHESIZED.log");
        var x = XenLogParser.Parse(log);
        Assert.That(x.BarRefusals.Single().Line, Does.StartWith("(XEN) 0000:00:00.0: not mapping BAR"));
        Assert.That(x.DataAborts.Single().Line, Does.EndWith("gpa=0x00000050008012"), "the kernel line after it is its own line");
        var d = LinuxDmesgParser.Parse(log);
        Assert.That(d.Oopses.Single(), Does.StartWith("[    2.818397] Unable to handle kernel"));
        Assert.That(d.Lines, Has.Some.EqualTo("[    2.810502] virtio-pci 0000:00:00.0: enabling device (0000 -> 0002)"));
    }

    [Test]
    public void BarInsideItsUpstreamBridgesWindowIsNotAnOverlap()
    {
        var rpi = Judge(Logs.Real("rpi4-dmesg-bridge-window.log"));
        Assert.That(rpi["bar.no-overlaps"].Verdict, Is.EqualTo(CheckVerdict.Pass), "a Raspberry Pi 4's bridge 'BAR 8' is its window: " + rpi["bar.no-overlaps"].Summary);
        var d = LinuxDmesgParser.Parse(Logs.Real("rpi4-dmesg-bridge-window.log"));
        Assert.That(d.AssignedBars.Single().Bdf, Is.EqualTo("0000:01:00.0"));
        Assert.That(d.BridgeWindows.Single().Range, Is.EqualTo(new AddressRange(0x600000000, 0x6000fffff)));

        var iov = Judge(Logs.Real("dmesg-bridge-hierarchy.SYNTHESIZED.log"));
        Assert.That(iov["bar.no-overlaps"].Verdict, Is.EqualTo(CheckVerdict.Pass), "resource 14 of a bridge with CONFIG_PCI_IOV");
    }

    [Test]
    public void BarOverlapsStillFail()
    {
        const string Bridge = "[    1.1] pci 0000:00:00.0: [1957:82c0] type 01 class 0x060400\n[    1.2] pci 0000:00:00.0: PCI bridge to [bus 01]\n" +
                              "[    1.3] pci 0000:00:00.0:   bridge window [mem 0x40000000-0x401fffff]\n";
        var twoDevices = Judge(Bridge + "[    1.4] pci 0000:01:00.0: BAR 0: assigned [mem 0x40000000-0x40003fff 64bit]\n[    1.5] pci 0000:01:00.1: BAR 0: assigned [mem 0x40002000-0x40005fff 64bit]\n");
        Assert.That(twoDevices["bar.no-overlaps"].Verdict, Is.EqualTo(CheckVerdict.Fail));
        Assert.That(twoDevices["bar.no-overlaps"].Summary, Does.Contain("two BARs decode the same addresses"));
        var notBehind = Judge(Bridge + "[    1.4] pci 0000:02:00.0: BAR 0: assigned [mem 0x40000000-0x40003fff 64bit]\n");
        Assert.That(notBehind["bar.no-overlaps"].Verdict, Is.EqualTo(CheckVerdict.Fail), "bus 02 is not behind a bridge to bus 01");
        Assert.That(notBehind["bar.no-overlaps"].Summary, Does.Contain("which it is not behind"));
        var straddles = Judge(Bridge + "[    1.4] pci 0000:01:00.0: BAR 0: assigned [mem 0x401ff000-0x40200fff 64bit]\n");
        Assert.That(straddles["bar.no-overlaps"].Summary, Does.Contain("straddles"));
    }

    [Test]
    public void NewChecksPassOnAHealthyBootWithTheirEvidence()
    {
        var r = CheckRunner.Run(SelfBuilt(), CheckSuite.All).ToDictionary(c => c.Id);
        Assert.That(r["bar.xen-maps-every-bar"].Verdict, Is.EqualTo(CheckVerdict.Pass), r["bar.xen-maps-every-bar"].Summary);
        Assert.That(r["lifecycle.no-xen-crash"].Verdict, Is.EqualTo(CheckVerdict.Pass));
        Assert.That(r["lifecycle.no-xen-crash"].Evidence.Single(), Does.Contain("Xen version 4.17"));
    }

    static Target SelfBuilt()
    {
        var dir = Path.Combine(Spec.Checkout.Root, "tests", "Golden", "runs", "xen-4.17-selfbuilt-vpci");
        return new Target(new EvidenceBundle("xen", File.ReadAllText(Path.Combine(dir, "console.log")), new Dictionary<string, string>
        {
            ["dmesg"] = File.ReadAllText(Path.Combine(dir, "evidence", "dmesg.txt")),
            ["xl dmesg"] = File.ReadAllText(Path.Combine(dir, "evidence", "xl-dmesg.txt")),
        }));
    }
}
