using Farm.Checks;

namespace Farm.Tests.Checks;

/// <summary>
/// Issue 17 steps 3-4 from a CAPTURED run (20261203-074855-xen-guest-pci-smmu-vpci-1d0154): Farm's domU vPCI
/// patch set with xen-4.17-arm-vpci-guestintx.patch on the stage-2 SMMU board. The guest's bridge has an
/// interrupt-map, Xen routes host SPIs 36/37 to guest SPIs 44/45, the guest's NVMe and e1000e run on INTx and
/// the NVMe's DMA goes through the SMMU's stage 2 of the guest (d1, VMID 2). The guest checks that were xfail
/// before (no interrupt routing) pass on it, and each fails on a deliberately broken copy of the same evidence.
/// Dom0's guest-stage steps (assign, hotplug, deassign) are not in the capture: their checks are n/a here.
/// </summary>
public class GuestIntxGoldenTests
{
    const string Interrupts = "domU:g1:cat /proc/interrupts";
    const string BridgeDump = "domU:g1:sh -c 'echo \"// dtc -I fs -O dts /proc/device-tree";

    static Dictionary<string, string> Captured() => GuestEvidence.Load("g1-vpci-intx.captured.txt");

    static string HostLog => Logs.Golden("xen-4.17.5-vpci-guest-intx.host.log");

    static Dictionary<string, CheckResult> Run(Dictionary<string, string> commands, string? host = null) =>
        CheckRunner.Run(new Target(new EvidenceBundle("intx", host ?? HostLog, commands), ["0000:00:01.0", "0000:00:02.0"]), CheckSuite.All)
            .Where(c => c.Guest == "g1").ToDictionary(c => c.Id);

    static Dictionary<string, string> Edit(string keyPrefix, string from, string to)
    {
        var c = Captured();
        var key = c.Keys.Single(k => k.StartsWith(keyPrefix, StringComparison.Ordinal));
        Assert.That(c[key], Does.Contain(from), $"capture {key} has '{from}'");
        c[key] = c[key].Replace(from, to);
        return c;
    }

    [Test]
    public void TheCaptureShowsXenRoutingEachDevicesIntxAndTheGuestsOwnSmmuContext()
    {
        Assert.That(HostLog, Does.Contain("(XEN) d1: vPCI: 0000:00:01.0 INTA (host IRQ 36) at virtual 0000:00:00.0 INTA, vIRQ 44")
            .And.Contain("(XEN) SMMUv3: d1: vmid 0x2"));
        Assert.That(Captured()[Interrupts], Does.Contain("GICv3  44 Level     nvme0q0"));
    }

    [Test]
    public void TheGuestIoChecksPassWithTheGuestsEvidence()
    {
        var r = Run(Captured());
        foreach (var id in new[] { "irq.domu-intx-delivered", "dma.domu-nvme-write-read-sha256", "dma.domu-no-smmu-faults-during-io",
                     "ecam.domu-bridge-at-guest-base", "ecam.domu-bridge-node-matches-guest-layout", "ecam.domu-devices-at-virtual-sbdf",
                     "bar.domu-relocated-into-guest-window", "bar.domu-bars-match-host-sizes", "lifecycle.guest-kernel-healthy" })
            Assert.That(r[id].Verdict, Is.EqualTo(CheckVerdict.Pass), $"{id}: {r[id].Summary} / {string.Join(" | ", r[id].Evidence.Take(4))}");
        Assert.That(r["irq.domu-intx-delivered"].Evidence, Has.Some.Contains("GICv3  44 Level     nvme0q0")
            .And.Some.Contains("(slot 0, GIC 44)").And.Some.Contains("(slot 1, GIC 45)"));
    }

    [Test]
    public void AnInterruptThatNeverFiredFailsTheIntxCheckNamingTheIrq()
    {
        var r = Run(Edit(Interrupts, " 15:         17     GICv3  44 Level", " 15:          0     GICv3  44 Level"));
        var c = r["irq.domu-intx-delivered"];
        Assert.That(c.Verdict, Is.EqualTo(CheckVerdict.Fail), c.Summary);
        Assert.That(c.Summary, Does.Contain("0000:00:00.0 (nvme): IRQ 15 never fired"));
    }

    [Test]
    public void ALineDeliveredOnAnotherSpiThanTheInterruptMapNamesFails()
    {
        // The bridge's first entry (slot 0, INTA) pointing at SPI 13 (GIC 45) while the NVMe's row is GIC 44: a host line routed to the wrong vIRQ.
        var r = Run(Edit(BridgeDump, "interrupt-map = <0x00000000 0x00000000 0x00000000 0x00000001 0x0000fde8 0x00000000 0x0000000c",
            "interrupt-map = <0x00000000 0x00000000 0x00000000 0x00000001 0x0000fde8 0x00000000 0x0000000d"));
        var c = r["irq.domu-intx-delivered"];
        Assert.That(c.Verdict, Is.EqualTo(CheckVerdict.Fail), c.Summary);
        Assert.That(c.Summary, Does.Contain("delivered on GIC 44, but the bridge's interrupt-map gives 45 for slot 0 INTA"));
    }

    [Test]
    public void AnSmmuEventDuringTheGuestsIoFailsTheFaultCheck()
    {
        var host = HostLog + "\n[2026-12-03T07:49:23.001Z] (XEN) SMMUv3: /smmuv3@9050000: event 0x10 received:\n";
        var c = Run(Captured(), host)["dma.domu-no-smmu-faults-during-io"];
        Assert.That(c.Verdict, Is.EqualTo(CheckVerdict.Fail), c.Summary);
        Assert.That(c.Evidence, Has.Some.Contains("event 0x10 received"));
    }

    [Test]
    public void WithoutTheGuestsInterruptsTheIntxCheckIsNotApplicable()
    {
        var c = Captured();
        c.Remove(Interrupts);
        var r = Run(c)["irq.domu-intx-delivered"];
        Assert.That(r.Verdict, Is.EqualTo(CheckVerdict.NotApplicable), r.Summary);
    }

    /// <summary>
    /// The negative control (run 20261203-075436, jobs/xen-guest-pci-smmu-vpci-dma-outside.yaml): on the same Xen the
    /// guest aims its NVMe's admin queue at guest-physical 0x80000000, which it does not own, and rings the doorbell.
    /// The SMMU refuses the controller's fetch and Xen prints the event; the fault check goes from pass to fail and
    /// names the event, the NVMe's StreamID and the address, while the guest's ordinary round trip still passes.
    /// </summary>
    [Test]
    public void TheGuestsDmaOutsideItsMemoryIsAnSmmuEventThatFailsTheFaultCheck()
    {
        var c = Captured();
        foreach (var (k, v) in GuestEvidence.Load("g1-vpci-dma-outside.captured.txt")) c[k] = v;
        var r = Run(c, Logs.Golden("xen-4.17.5-vpci-guest-dma-outside.host.log"));
        var faults = r["dma.domu-no-smmu-faults-during-io"];
        Assert.That(faults.Verdict, Is.EqualTo(CheckVerdict.Fail), faults.Summary);
        Assert.That(faults.Summary, Does.EndWith("event 0x10 (F_TRANSLATION) from StreamID 0x8, input address 0x80000000"));
        Assert.That(faults.Evidence, Has.Some.EndsWith("0x0000000800000010"));
        Assert.That(r["dma.domu-nvme-write-read-sha256"].Verdict, Is.EqualTo(CheckVerdict.Pass), "the guest's own round trip, before the stray DMA");
        Assert.That(r.Values.Where(x => x.Verdict == CheckVerdict.Fail).Select(x => x.Id), Is.EqualTo(new[] { "dma.domu-no-smmu-faults-during-io" }));
    }
}
