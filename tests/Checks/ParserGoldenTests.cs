using Farm.Checks.Parsers;

namespace Farm.Tests.Checks;

/// <summary>Parsers on real captured logs: the values below were read off the logs by hand.</summary>
public class ParserGoldenTests
{
    [Test]
    public void NativeBookwormDmesg()
    {
        var d = LinuxDmesgParser.Parse(Logs.Shared("native-bookworm.serial.log"));
        Assert.That(d.Version, Does.StartWith("6.1."));
        var b = d.Bridges.Single();
        Assert.That((b.Device, b.Ecam.Start, b.Ecam.End, b.BusStart, b.BusEnd), Is.EqualTo(("4010000000.pcie", 0x4010000000UL, 0x401fffffffUL, 0, 0xff)));
        Assert.That(d.Devices.Select(x => x.Bdf), Is.EqualTo(new[] { "0000:00:00.0", "0000:00:01.0", "0000:00:02.0" }));
        Assert.That(d.ItsLines, Is.Not.Empty);
        Assert.That(d.MsiDomainLines.Single(), Does.Contain("PCI/MSI: /intc@8000000/its@8080000 domain created"));
        Assert.That(d.XenAddFailures, Is.Empty);
        var nvme = d.AssignedBars.Single(x => x.Bdf == "0000:00:01.0");
        Assert.That((nvme.Range.Start, nvme.Range.Size, nvme.Is64), Is.EqualTo((0x8000000000UL, 0x4000UL, true)));
    }

    [TestCase("xen-4.17-bookworm.serial.log", "4.17")]
    [TestCase("xen-4.20-trixie.serial.log", "4.20")]
    public void XenConsoleAndDom0(string log, string version)
    {
        var text = Logs.Shared(log);
        var x = XenLogParser.Parse(text);
        Assert.That(x.Version, Does.StartWith(version));
        Assert.That(x.IommuEnabled, Is.False);
        Assert.That(x.IommuLine, Is.EqualTo("(XEN) I/O virtualisation disabled"));
        var d = LinuxDmesgParser.Parse(text);
        Assert.That(d.XenAddFailures, Has.Count.EqualTo(3), "one refusal per device: host bridge, NVMe, NIC");
        Assert.That(d.Bridges, Has.Count.EqualTo(1));
    }

    [Test]
    public void LspciOnDebianXenShowsMsiCapabilitiesDisabled()
    {
        var devices = LspciParser.Parse(Golden("lspci-xen-4.17.txt"));
        Assert.That(devices.Select(d => d.Bdf), Is.EqualTo(new[] { "0000:00:00.0", "0000:00:01.0", "0000:00:02.0" }));
        var nvme = devices[1];
        Assert.That((nvme.Driver, nvme.MsiX!.Enabled, nvme.MsiX.Count, nvme.InterruptMode, nvme.Irq), Is.EqualTo(("nvme", false, 65, "INTx", 17)));
        Assert.That(nvme.Regions.Single().Range, Is.EqualTo(new AddressRange(0x8000000000, 0x8000003fff)));
        var nic = devices[2];
        Assert.That(nic.Regions.Select(r => (r.Index, r.Kind, r.Size, r.Disabled)),
            Is.EqualTo(new[] { (0, "mem", 0x20000UL, false), (1, "mem", 0x20000UL, false), (2, "io", 32UL, true), (3, "mem", 0x4000UL, false) }));
        Assert.That((nic.Msi!.Enabled, nic.Msi.Count, nic.MsiX!.Count), Is.EqualTo((false, 1, 5)));
    }

    [Test]
    public void ProcInterruptsAndIomem()
    {
        var irqs = ProcParsers.Interrupts(Golden("interrupts-native.txt"));
        var nvme = irqs.Where(r => r.Name.StartsWith("nvme0q")).ToList();
        Assert.That(nvme.Select(r => (r.Chip, r.HwIrq)), Is.EqualTo(new[] { ("ITS-MSI", "16384"), ("ITS-MSI", "16385"), ("ITS-MSI", "16386") }));
        Assert.That(nvme.Sum(r => r.Total), Is.EqualTo(14));
        Assert.That(irqs.Single(r => r.Id == "IPI0").Total, Is.EqualTo(268));
        var iomem = ProcParsers.Iomem(Golden("iomem-native.txt"));
        var ecam = iomem.Single(e => e.Name == "PCI ECAM");
        Assert.That((ecam.Range.Start, ecam.Depth), Is.EqualTo((0x4010000000UL, 0)));
        Assert.That(iomem.Single(e => e.Name == "nvme").Depth, Is.EqualTo(2));
    }

    [Test]
    public void SynthesizedPassthroughXen()
    {
        var x = XenLogParser.Parse(Golden("xen-pci-passthrough.synth.log"));
        Assert.That((x.Version, x.IommuEnabled), Is.EqualTo(("4.21-unstable", (bool?)true)));
        Assert.That(x.CommandLine, Does.Contain("pci-passthrough=on"));
        Assert.That(x.PciLines, Has.Count.EqualTo(2));
    }

    [Test]
    public void XlInfoAndAssignableList()
    {
        var info = XenLogParser.XlInfo("xen_major              : 4\nxen_version            : 4.17.7\nvirt_caps              : hvm hap vpmu gnttab-v1\ngarbage line\n");
        Assert.That(info["xen_version"], Is.EqualTo("4.17.7"));
        Assert.That(info["virt_caps"], Is.EqualTo("hvm hap vpmu gnttab-v1"));
        Assert.That(XenLogParser.PciAssignable("0000:00:02.0 \nlibxl: error: nonsense\n0000:01:00.1\n"), Is.EqualTo(new[] { "0000:00:02.0", "0000:01:00.1" }));
    }

    [Test]
    public void GuestDeviceTreeHostBridge()
    {
        var nodes = DeviceTreeParser.Parse(Golden("domu-vpci.synth.dts"));
        var bridge = DeviceTreeParser.HostBridges(nodes).Single();
        Assert.That(bridge.Path, Is.EqualTo("/pcie@10000000"));
        Assert.That(bridge.Get("compatible"), Is.EqualTo("\"pci-host-ecam-generic\""));
        Assert.That(bridge.Cells("reg"), Is.EqualTo(new ulong[] { 0, 0x10000000, 0, 0x10000000 }));
        Assert.That(bridge.Cells("bus-range"), Is.EqualTo(new ulong[] { 0, 0xff }));
    }

    [Test]
    public void OlderKernelBarFormatIsUnderstood()
    {
        var d = LinuxDmesgParser.Parse("""
            [    0.1] pci 0000:00:01.0: reg 0x10: [mem 0x00000000-0x00003fff 64bit]
            [    0.2] pci 0000:00:01.0: BAR 0: assigned [mem 0x8000000000-0x8000003fff 64bit]
            [    0.3] pci 0000:00:02.0: BAR 6: no space for [mem size 0x00040000 pref]
            [    0.4] pci 0000:00:02.0: BAR 6: failed to assign [mem size 0x00040000 pref]
            """);
        Assert.That(d.ProbedBars.Single().Index, Is.EqualTo(0));
        Assert.That(d.AssignedBars.Single().Range.Start, Is.EqualTo(0x8000000000UL));
        Assert.That(d.BarFailures, Has.Count.EqualTo(1));
    }

    static string Golden(string name) => Logs.Golden(name);
}
