using Farm.Checks;

namespace Farm.Tests.Checks;

/// <summary>
/// Issue 17's negative control, from a CAPTURED run (20261202-184956-xen-guest-pci-smmu-vpci-broken-identity-f86f52):
/// the step-2 patch set plus ci/xen/patches/broken/xen-4.17-arm-vpci-guestbars.zz-broken-identity.patch, which
/// maps each host BAR at its host address instead of the guest's. The guest places its BARs in GUEST_VPCI_MEM,
/// Xen maps them elsewhere, and the guest's first register access is a stage-2 abort: the check that goes from
/// pass (good patch set, run 20261202-181915) to fail is lifecycle.guest-kernel-healthy, quoting the oops; the
/// guest's bar/ecam checks are n/a, naming the crash. The excerpts are the host console's vPCI lines and the
/// guest console's BAR assignment and first oops (tests/Golden/logs/xen-4.17.5-vpci-broken-identity.*).
/// </summary>
public class BrokenIdentityGoldenTests
{
    const string XlCfg = """
        name = "g1"
        type = "pvh"
        kernel = "/mnt/artifacts/vmlinuz"
        ramdisk = "/mnt/artifacts/initrd.cpio.gz"
        memory = 256
        vcpus = 1
        extra = "console=hvc0 rdinit=/init"
        passthrough = "enabled"
        pci = [ '0000:00:01.0', '0000:00:02.0' ]
        """;

    static Dictionary<string, CheckResult> Run()
    {
        var host = Logs.Golden("xen-4.17.5-vpci-broken-identity.host.log");
        var commands = new Dictionary<string, string>
        {
            ["domU:g1:xl.cfg"] = XlCfg,
            ["domU:g1:console"] = Logs.Golden("xen-4.17.5-vpci-broken-identity.g1-console.log"),
        };
        return CheckRunner.Run(new Target(new EvidenceBundle("broken-identity", host, commands), ["0000:00:01.0", "0000:00:02.0"]), CheckSuite.All)
            .Where(c => c.Guest == "g1").ToDictionary(c => c.Id);
    }

    [Test]
    public void TheExcerptsShowTheIdentityMappingAndTheGuestsAbortAtItsOwnBar()
    {
        Assert.That(Logs.Golden("xen-4.17.5-vpci-broken-identity.host.log"),
            Does.Contain("(XEN) d1: vPCI: 0000:00:02.0 BAR0 host 0x10000000 mapped at guest 0x10000000 (size 0x20000)"));
        Assert.That(Logs.Golden("xen-4.17.5-vpci-broken-identity.g1-console.log"),
            Does.Contain("pci 0000:00:01.0: BAR 0 [mem 0x23000000-0x2301ffff]: assigned").And.Contain("pte=0068000023000713"));
    }

    [Test]
    public void TheGuestKernelCheckFailsQuotingTheOopsAndTheBarChecksNameTheCrash()
    {
        var r = Run();
        var kernel = r["lifecycle.guest-kernel-healthy"];
        Assert.That((kernel.Verdict, kernel.Expected), Is.EqualTo((CheckVerdict.Fail, CheckVerdict.Pass)), kernel.Summary);
        Assert.That(kernel.Evidence, Has.Some.Contains("Unable to handle kernel ttbr address size fault at virtual address ffff80000a2a00d8"));
        foreach (var id in new[] { "bar.domu-relocated-into-guest-window", "bar.domu-bars-match-host-sizes", "ecam.domu-devices-at-virtual-sbdf" })
        {
            Assert.That(r[id].Verdict, Is.EqualTo(CheckVerdict.NotApplicable), $"{id}: {r[id].Summary}");
            Assert.That(r[id].Evidence, Has.Some.Contains("Unable to handle kernel ttbr address size fault"), id);
        }
        Assert.That(r.Values.Where(c => c.Verdict == CheckVerdict.Pass).Select(c => c.Id), Is.Empty, "nothing passes on a guest that died at its first BAR access");
    }
}
