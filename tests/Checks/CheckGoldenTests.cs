using Farm.Checks;

namespace Farm.Tests.Checks;

/// <summary>The check suite over whole targets: the captured native and Debian Xen boots, and a synthesized PCI-passthrough Xen.</summary>
public class CheckGoldenTests
{
    static readonly string[] ExpectedPci = ["0000:00:01.0", "0000:00:02.0"];

    static Dictionary<string, CheckResult> Run(string console, Dictionary<string, string>? commands = null) =>
        CheckRunner.Run(new Target(new EvidenceBundle("t", console, commands ?? []), ExpectedPci), CheckSuite.All).ToDictionary(r => r.Id);

    [Test]
    public void NativeBaselinePassesEcamBarAndInterruptChecks()
    {
        var r = Run(Logs.Shared("native-bookworm.serial.log"));
        foreach (var id in new[] { "ecam.host-bridge-registered", "ecam.window-covers-bus-range", "ecam.devices-enumerated", "bar.all-probed-bars-assigned",
                                   "bar.inside-root-windows", "bar.no-overlaps", "irq.msi-domain-on-its", "iommu.devices-grouped", "lifecycle.no-kernel-oops" })
            Assert.That(r[id].Verdict, Is.EqualTo(CheckVerdict.Pass), $"{id}: {r[id].Summary}");
        foreach (var id in new[] { "ecam.xen-traps-dom0-config-space", "negative.pci-refusal-is-visible", "lifecycle.xen-parameters-valid" })
            Assert.That(r[id].Verdict, Is.EqualTo(CheckVerdict.NotApplicable), id);
        Assert.That(r["dma.nvme-write-read-sha256"].Verdict, Is.EqualTo(CheckVerdict.NotApplicable), "no probe in a bare console log");
        Assert.That(r.Values.Where(c => c.Unexpected), Is.Empty);
    }

    [TestCase("xen-4.17-bookworm.serial.log")]
    [TestCase("xen-4.20-trixie.serial.log")]
    public void DebianXenXfailsPciFeaturesWithTheLineThatShowsWhy(string log)
    {
        var r = Run(Logs.Shared(log));
        var xfail = r["ecam.xen-traps-dom0-config-space"];
        Assert.That((xfail.Verdict, xfail.Expected), Is.EqualTo((CheckVerdict.XFail, CheckVerdict.XFail)));
        Assert.That(xfail.Evidence.Single(), Does.Contain("Failed to add - passthrough or MSI/MSI-X might fail!"));
        Assert.That(r["iommu.devices-grouped"].Evidence.Single(), Is.EqualTo("(XEN) I/O virtualisation disabled"));
        Assert.That(r["irq.msi-domain-on-its"].Verdict, Is.EqualTo(CheckVerdict.XFail));
        Assert.That(r["bar.domu-relocated-into-guest-window"].Verdict, Is.EqualTo(CheckVerdict.XFail));
        Assert.That(r["negative.pci-refusal-is-visible"].Verdict, Is.EqualTo(CheckVerdict.Pass));
        Assert.That(r["ecam.host-bridge-registered"].Verdict, Is.EqualTo(CheckVerdict.Pass));
        Assert.That(r.Values.Where(c => c.Unexpected), Is.Empty);
    }

    [Test]
    public void SynthesizedPassthroughXenMovesXenChecksFromXfail()
    {
        var r = Run(Logs.Golden("xen-pci-passthrough.synth.log"));
        Assert.That(r["ecam.xen-traps-dom0-config-space"].Verdict, Is.EqualTo(CheckVerdict.Pass), r["ecam.xen-traps-dom0-config-space"].Summary);
        Assert.That(r["negative.pci-refusal-is-visible"].Verdict, Is.EqualTo(CheckVerdict.NotApplicable));
        Assert.That(r["ecam.domu-bridge-at-guest-base"].Verdict, Is.EqualTo(CheckVerdict.XFail), "upstream: vPCI for dom0 only");
    }

    [Test]
    public void DomUBridgeAtTheGuestBaseWhenDomUEvidenceIsThere()
    {
        var r = CheckRunner.Run(new Target(new EvidenceBundle("t", Logs.Golden("xen-pci-passthrough.synth.log"), GuestEvidence.Good()), ExpectedPci), CheckSuite.All)
            .Where(c => c.Guest == "g1").ToDictionary(c => c.Id);
        Assert.That(r["ecam.domu-bridge-at-guest-base"].Verdict, Is.EqualTo(CheckVerdict.Pass), r["ecam.domu-bridge-at-guest-base"].Summary);
        // A key without a guest name ("domU: ...", the old convention) is nobody's evidence.
        var legacy = Run(Logs.Golden("xen-pci-passthrough.synth.log"), new() { ["domU: dtc -I fs -O dts /proc/device-tree"] = Logs.Golden("domu-vpci.synth.dts") });
        Assert.That(legacy["ecam.domu-bridge-at-guest-base"].Verdict, Is.EqualTo(CheckVerdict.XFail));
    }

    [Test]
    public void NvmeProbeMismatchFailsWithBothSums()
    {
        var probe = "FARM-PROBE nvme-dma\n 17: 18 0 GICv3 36 Level nvme0q0\n" +
                    $"{new string('a', 64)}  /tmp/farm-w\n{new string('b', 64)}  /tmp/farm-r\n 17: 18 0 GICv3 36 Level nvme0q0\n";
        var r = Run(Logs.Shared("native-bookworm.serial.log"), new() { ["lspci -vvv"] = Logs.Golden("lspci-xen-4.17.txt"), ["probe"] = probe });
        Assert.That(r["dma.nvme-write-read-sha256"].Verdict, Is.EqualTo(CheckVerdict.Fail));
        Assert.That(r["dma.nvme-write-read-sha256"].Evidence, Has.Count.EqualTo(2));
        Assert.That(r["dma.nvme-interrupts-rise-during-io"].Verdict, Is.EqualTo(CheckVerdict.Fail), "18 -> 18 is not a rise");
        Assert.That(r["dma.nvme-write-read-sha256"].Unexpected, Is.True);
    }

    [Test]
    public void NoCheckPassesOnATargetLackingWhatItNeeds()
    {
        var targets = Logs.All().Select(l => new Target(new EvidenceBundle("t", l, new Dictionary<string, string>()), ExpectedPci)).ToList();
        Assert.That(targets, Has.Count.GreaterThanOrEqualTo(1));
        int gated = 0;
        foreach (var t in targets)
            foreach (var c in CheckSuite.All)
            {
                var missing = c.Needs.Where(n => !t[n].Present).ToList();
                if (missing.Count == 0) continue;
                gated++;
                var r = CheckRunner.Run(t, c);
                Assert.That(r.Verdict, Is.AnyOf(CheckVerdict.XFail, CheckVerdict.NotApplicable), $"{c.Id} on a target without {missing[0]}");
                Assert.That(r.Evidence, Is.Not.Empty, $"{c.Id}: a gated verdict carries its evidence line");
            }
        Assert.That(gated, Is.GreaterThan(0));
    }

    [Test]
    public void SuiteResolvesNamesAndRejectsUnknownOnes()
    {
        Assert.That(CheckSuite.All, Has.Count.GreaterThanOrEqualTo(25));
        Assert.That(CheckSuite.All.Select(c => c.Id), Is.Unique);
        Assert.That(CheckSuite.All.Select(c => c.Source), Has.All.Not.Empty);
        Assert.That(CheckSuite.Resolve(["vpci"]), Has.Count.EqualTo(CheckSuite.All.Count));
        Assert.That(CheckSuite.Resolve(["bar", "irq.intx-routed"]).Select(c => c.Group).Distinct(), Is.EquivalentTo(new[] { "bar", "interrupts" }));
        var e = Assert.Throws<ConfigurationException>(() => CheckSuite.Resolve(["ecam", "vpcii"]));
        Assert.That(e!.Message, Does.Contain("'vpcii'").And.Contain("ecam.host-bridge-registered"));
    }
}
