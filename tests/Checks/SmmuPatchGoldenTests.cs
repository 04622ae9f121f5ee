using System.Text.Json;
using Farm.Checks;
using Farm.Checks.Parsers;

namespace Farm.Tests.Checks;

/// <summary>
/// Issue 17, step 0: the self-built Xen 4.17.5 with ci/xen/patches/xen-4.17-arm-smmuv3-pci-iommu-map.patch
/// on QEMU 10's stage-2 SMMUv3. The console is tests/Golden/logs/xen-4.17.5-selfbuilt-qemu10-smmuv3-iommu-map.serial.log
/// (its header says how it was made), the SSH evidence of the same run tests/Golden/runs/xen-4.17-selfbuilt-smmuv3/evidence.
/// Before the patch the same board oopses dom0 (../shared/xen-on-qemu/logs/xen-4.17.5-selfbuilt-qemu10-smmuv3-dom0-oops.serial.log).
/// </summary>
public class SmmuPatchGoldenTests
{
    const string LogName = "xen-4.17.5-selfbuilt-qemu10-smmuv3-iommu-map.serial.log";
    static readonly string[] Expected = ["0000:00:01.0", "0000:00:02.0"];
    static readonly string[] BuiltWith = ["CONFIG_HAS_PCI", "CONFIG_HAS_VPCI", "CONFIG_ARM_SMMU_V3", "CONFIG_HAS_ITS"];

    static Dictionary<string, string> Commands()
    {
        var dir = Path.Combine(Spec.Checkout.Root, "tests", "Golden", "runs", "xen-4.17-selfbuilt-smmuv3", "evidence");
        var commands = new Dictionary<string, string>();
        using var index = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "commands.json")));
        foreach (var c in index.RootElement.EnumerateArray())
        {
            var file = Path.Combine(dir, c.GetProperty("file").GetString()!);
            var stderr = Path.ChangeExtension(file, ".stderr");
            commands[c.GetProperty("command").GetString()!] = File.ReadAllText(file) + (File.Exists(stderr) ? File.ReadAllText(stderr) : "");
        }
        return commands;
    }

    static Target Load(string? console = null, Dictionary<string, string>? commands = null) =>
        new(new EvidenceBundle("xen-selfbuilt-smmuv3", console ?? Logs.Golden(LogName), commands ?? Commands()), Expected, BuiltWith);

    static Dictionary<string, CheckResult> Run(Target t) => CheckRunner.Run(t, CheckSuite.All).ToDictionary(c => c.Id);

    [Test]
    public void XenEnablesTheSmmuAndRegistersEveryDeviceWithAStreamIdFromIommuMap()
    {
        var console = Logs.Golden(LogName);
        var xen = XenLogParser.Parse(console);
        Assert.That(xen.IommuEnabled, Is.True, xen.IommuLine);
        Assert.That(LinuxDmesgParser.Parse(console).XenAddFailures, Is.Empty, "no 'Failed to add - passthrough or MSI/MSI-X might fail!'");
        // The patch's own line (arm_smmu_add_device) and the generic one (pci_add_device), per function; QEMU's
        // virt iommu-map is <0x0 &smmu 0x0 0x10000>, so the stream ID is the RID (bus << 8 | devfn).
        foreach (var (bdf, sid) in new[] { ("0000:00:01.0", "0x8"), ("0000:00:02.0", "0x10") })
        {
            Assert.That(console, Does.Contain($"(XEN) SMMUv3: /smmuv3@9050000: added PCI master {bdf} (StreamID {sid}, 1 in all)"));
            Assert.That(console, Does.Contain($"(XEN) PCI add device {bdf}"));
        }
        Assert.That(console, Does.Contain("(XEN) d0: ITS doorbell page 0x00000008090000 mapped 1:1"));
    }

    [Test]
    public void Dom0DmaGoesThroughTheSmmuWithoutAFault()
    {
        var r = Run(Load());
        foreach (var id in new[] { "ecam.xen-traps-dom0-config-space", "ecam.devices-enumerated", "bar.all-probed-bars-assigned", "irq.msi-domain-on-its",
                                   "irq.devices-use-msix", "irq.nvme-interrupts-delivered", "irq.nic-interrupts-delivered", "dma.no-iommu-faults",
                                   "dma.nvme-write-read-sha256", "dma.nvme-interrupts-rise-during-io", "lifecycle.no-kernel-oops", "lifecycle.xen-parameters-valid",
                                   "lifecycle.drivers-bound", "iommu.devices-grouped" })
            Assert.That(r[id].Verdict, Is.EqualTo(CheckVerdict.Pass), $"{id}: {r[id].Summary} / {string.Join(" | ", r[id].Evidence.Take(2))}");
        Assert.That(r["ecam.xen-traps-dom0-config-space"].Evidence, Has.Some.Contains("(XEN) SMMUv3: /smmuv3@9050000: added PCI master 0000:00:01.0"));
        // Judged with the IOMMU on: the evidence is Xen's own line, so this is not a pass for want of an SMMU.
        Assert.That(r["dma.no-iommu-faults"].Evidence, Has.Some.Contains("I/O virtualisation enabled"));
        Assert.That(r["dma.nvme-write-read-sha256"].Summary, Does.Contain("read back identical"));
        // Quarantine through the SMMU (dom_io = detached master) and back: the NIC rebinds in dom0.
        Assert.That(r["lifecycle.assign-deassign-reusable"].Verdict, Is.EqualTo(CheckVerdict.Pass), r["lifecycle.assign-deassign-reusable"].Summary);
        Assert.That(r["lifecycle.assign-deassign-reusable"].Evidence, Has.Some.Contains("Rebinding to driver at /sys/bus/pci/drivers/e1000e"));
    }

    [Test]
    public void AnSmmuEventOnTheSameBootFailsTheFaultCheck()
    {
        // What the unpatched doorbell gave: every MSI write to GITS_TRANSLATER was a translation fault (event 0x10).
        var fault = "[2026-12-02T03:13:45.000Z] (XEN) SMMUv3: /smmuv3@9050000: event 0x10 received:\n"
                  + "[2026-12-02T03:13:45.000Z] (XEN) SMMUv3: /smmuv3@9050000: \t0x0000000800000010\n";
        var commands = Commands();
        commands["xl dmesg"] = commands["xl dmesg"] + fault.Replace("[2026-12-02T03:13:45.000Z] ", "");
        var r = Run(Load(Logs.Golden(LogName) + fault, commands));
        Assert.That(r["dma.no-iommu-faults"].Verdict, Is.EqualTo(CheckVerdict.Fail));
        Assert.That(r["dma.no-iommu-faults"].Evidence, Has.Some.Contains("event 0x10 received"));
    }

    [Test]
    public void WithoutThePatchTheSameBoardRefusesEveryDeviceAndDom0Oopses()
    {
        var console = Logs.Shared("xen-4.17.5-selfbuilt-qemu10-smmuv3-dom0-oops.serial.log");
        Assert.That(XenLogParser.Parse(console).IommuEnabled, Is.True);
        Assert.That(console, Does.Not.Contain("(XEN) PCI add device"));
        var r = Run(new Target(new EvidenceBundle("xen-selfbuilt-smmuv3-unpatched", console, new Dictionary<string, string>()), Expected, BuiltWith));
        Assert.That(r["ecam.xen-traps-dom0-config-space"].Verdict, Is.EqualTo(CheckVerdict.Fail));
        Assert.That(r["ecam.xen-traps-dom0-config-space"].Evidence, Has.Some.Contains("Failed to add - passthrough or MSI/MSI-X might fail!"));
        Assert.That(r["lifecycle.no-kernel-oops"].Verdict, Is.EqualTo(CheckVerdict.Fail));
        Assert.That(r["lifecycle.no-kernel-oops"].Evidence, Has.Some.Contains("Unable to handle kernel ttbr address size fault"));
    }

    [Test]
    public void UnderXenAnEndpointXenNeverRegisteredIsOutsideTheIommu()
    {
        // Under Xen dom0 never sees the SMMU, so "behind the IOMMU" is Xen's registration of each endpoint.
        Assert.That(Run(Load())["iommu.devices-grouped"].Evidence, Has.Some.Contains("(XEN) PCI add device 0000:00:02.0"));
        var commands = Commands();
        commands["xl dmesg"] = string.Join('\n', commands["xl dmesg"].Split('\n').Where(l => !l.Contains("PCI add device 0000:00:02.0")));
        var console = string.Join('\n', Logs.Golden(LogName).Split('\n').Where(l => !l.Contains("PCI add device 0000:00:02.0")));
        var r = Run(Load(console, commands));
        Assert.That(r["iommu.devices-grouped"].Verdict, Is.EqualTo(CheckVerdict.Fail), r["iommu.devices-grouped"].Summary);
        Assert.That(r["iommu.devices-grouped"].Evidence, Has.Some.Contains("0000:00:02.0"));
    }

    [Test]
    public void AnNvmeRoundTripWithoutTheNvmeDriverIsAFileNotDmaAndFails()
    {
        var commands = Commands();
        commands["lspci -vvv"] = commands["lspci -vvv"].Replace("Kernel driver in use: nvme", "");
        var r = Run(Load(null, commands));
        Assert.That(r["dma.nvme-write-read-sha256"].Verdict, Is.EqualTo(CheckVerdict.Fail), r["dma.nvme-write-read-sha256"].Summary);
        Assert.That(r["dma.nvme-write-read-sha256"].Summary, Does.Contain("no nvme driver"));
    }
}
