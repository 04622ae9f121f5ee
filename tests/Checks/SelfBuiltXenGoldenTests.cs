using System.Text.Json;
using Farm.Checks;

namespace Farm.Tests.Checks;

/// <summary>
/// A recorded run of the self-built Xen (Debian's 4.17.5 source, ci/xen/xen-vpci.config and
/// ci/xen/patches, `farm build xen`) booted with pci-passthrough=on: Xen owns the host ECAM and
/// dom0 reaches its devices through vPCI (tests/Golden/runs/xen-4.17-selfbuilt-vpci, 2026-12-01).
/// </summary>
public class SelfBuiltXenGoldenTests
{
    internal static Target Load()
    {
        var dir = Path.Combine(Spec.Checkout.Root, "tests", "Golden", "runs", "xen-4.17-selfbuilt-vpci");
        var commands = new Dictionary<string, string>();
        using var index = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "evidence", "commands.json")));
        foreach (var c in index.RootElement.EnumerateArray())
        {
            var file = Path.Combine(dir, "evidence", c.GetProperty("file").GetString()!);
            var stderr = Path.ChangeExtension(file, ".stderr");
            commands[c.GetProperty("command").GetString()!] = File.ReadAllText(file) + (File.Exists(stderr) ? File.ReadAllText(stderr) : "");
        }
        return new Target(new EvidenceBundle("xen-selfbuilt", File.ReadAllText(Path.Combine(dir, "console.log")), commands), ["0000:00:01.0", "0000:00:02.0"]);
    }

    [Test]
    public void EcamBarMsiAndDmaPassFromXensSideOfTheLog()
    {
        var r = CheckRunner.Run(Load(), CheckSuite.All).ToDictionary(c => c.Id);
        foreach (var id in new[] { "ecam.host-bridge-registered", "ecam.xen-traps-dom0-config-space", "ecam.devices-enumerated", "bar.all-probed-bars-assigned",
                                   "bar.no-overlaps", "bar.inside-root-windows", "irq.msi-domain-on-its", "irq.devices-use-msix", "irq.nvme-interrupts-delivered",
                                   "irq.nic-interrupts-delivered", "dma.nvme-write-read-sha256", "dma.nvme-interrupts-rise-during-io", "lifecycle.xen-parameters-valid" })
            Assert.That(r[id].Verdict, Is.EqualTo(CheckVerdict.Pass), $"{id}: {r[id].Summary} / {string.Join(" | ", r[id].Evidence.Take(2))}");
        Assert.That(r["ecam.xen-traps-dom0-config-space"].Evidence, Has.Some.Contains("(XEN) PCI add device 0000:00:01.0"));
        Assert.That(r["irq.msi-domain-on-its"].Evidence, Has.Some.Contains("PCI/MSI: /interrupt-controller/its domain created"), "dom0's ITS node is the one Xen writes");
        // No IOMMU on this board: Xen cannot quarantine a device, so assignment is expected to fail, with the line that says why.
        Assert.That(r["lifecycle.assign-deassign-reusable"].Verdict, Is.EqualTo(CheckVerdict.XFail));
        Assert.That(r["lifecycle.assign-deassign-reusable"].Evidence, Has.Some.Contains("I/O virtualisation disabled"));
        Assert.That(r.Values.Where(c => c.Unexpected).Select(c => c.Id), Is.Empty);
    }

    [Test]
    public void ProbesGiveThroughputAndInterruptMetrics()
    {
        var m = PerfMetrics.From(Load());
        Assert.That(m["nvme.write.MBps"], Is.GreaterThan(0));
        Assert.That(m["nvme.read.MBps"], Is.GreaterThan(0));
        Assert.That(m["irq.nvme.count"], Is.GreaterThan(0));
    }

    [Test]
    public void AXenBuiltWithVpciThatBootsWithoutItFailsInsteadOfXfailing()
    {
        // Debian's Xen log, as if Farm had built that Xen with vPCI: a build/boot mismatch (pci-passthrough=on forgotten, a patch lost).
        var console = Logs.Shared("xen-4.17-bookworm.serial.log");
        var asPackaged = CheckRunner.Run(new Target(new EvidenceBundle("deb", console, new Dictionary<string, string>())), CheckSuite.All).ToDictionary(c => c.Id);
        var asBuilt = CheckRunner.Run(new Target(new EvidenceBundle("built", console, new Dictionary<string, string>()), null, ["CONFIG_HAS_PCI", "CONFIG_HAS_VPCI"]), CheckSuite.All).ToDictionary(c => c.Id);
        var id = "ecam.xen-traps-dom0-config-space";
        Assert.That(asPackaged[id].Verdict, Is.EqualTo(CheckVerdict.XFail));
        Assert.That((asBuilt[id].Verdict, asBuilt[id].Expected), Is.EqualTo((CheckVerdict.Fail, CheckVerdict.Pass)));
        Assert.That(asBuilt[id].Summary, Does.Contain("built with CONFIG_HAS_VPCI"));
        Assert.That(asBuilt[id].Evidence, Has.Some.Contains("xen_build_pci"));
    }
}
