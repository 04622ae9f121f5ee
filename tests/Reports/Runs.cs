using Farm.Checks;

namespace Farm.Tests.Reports;

/// <summary>Run records shaped like the ones the pipeline produces, for report and store tests.</summary>
static class Runs
{
    static readonly DateTimeOffset T0 = new(2026, 11, 25, 1, 2, 3, TimeSpan.Zero);

    public static RunRecord Sample(string dir, Verdict verdict = Verdict.Fail, string id = "20261125-010203-xen-smoke-abc123", DateTimeOffset? start = null) => new(
        id, "xen-smoke", "qemu-xen", verdict, start ?? T0, TimeSpan.FromSeconds(6.5),
        [
            new StageRecord("power-on", StageStatus.Passed, T0, TimeSpan.FromSeconds(0.2), TimeSpan.FromSeconds(30)),
            new StageRecord("dom0-prompt", StageStatus.Incomplete, T0.AddSeconds(1), TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(4),
                "infrastructure", "stage 'dom0-prompt' timed out after 4s"),
            new StageRecord("commands", StageStatus.Failed, T0.AddSeconds(5), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(300), "check", "xl info exited 1"),
            new StageRecord("ssh-ready", StageStatus.Skipped, T0.AddSeconds(6), TimeSpan.Zero, TimeSpan.FromSeconds(120)),
        ],
        [
            new CheckResult("ecam.host-bridge", "ecam", CheckVerdict.Pass, CheckVerdict.Pass, "host bridge ECAM registered",
                ["pci-host-generic 4010000000.pcie: ECAM at [mem 0x4010000000-0x401fffffff] for [bus 00-ff]"], "linux drivers/pci/ecam.c"),
            new CheckResult("bar.relocated", "bar", CheckVerdict.XFail, CheckVerdict.XFail, "no vPCI in this Xen",
                ["(XEN) <script>alert(1)</script> & \"quotes\""], "xen/drivers/vpci/header.c"),
            new CheckResult("dma.nvme", "dma-iommu", CheckVerdict.Fail, CheckVerdict.Pass, "sha256 mismatch", ["a != b"], "farm"),
            new CheckResult("irq.its", "interrupts", CheckVerdict.NotApplicable, CheckVerdict.NotApplicable, "no ITS", [], "xen/arch/arm/gic-v3-its.c"),
        ],
        new Provenance(new Dictionary<string, string> { ["xen"] = "aa" }, new Dictionary<string, string> { ["xen-hypervisor-4.17-arm64"] = "4.17.7" },
            "7.2.22", "4.17.7", "6.1.0-56-arm64"),
        new Dictionary<string, double> { ["boot.dom0-prompt.seconds"] = 4.2, ["run.seconds"] = 6.5 },
        "infrastructure", "stage 'dom0-prompt' timed out after 4s\n(XEN) last line", dir);
}
