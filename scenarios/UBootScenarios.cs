using Farm.Boards.Qemu;
using Farm.Checks;
using Farm.Jobs;
using Farm.Reports;

namespace Farm.Scenarios;

/// <summary>
/// The simulated physical board: QEMU with Debian's u-boot-qemu firmware, Xen + dom0 + initramfs
/// over TFTP from the run's directory, booted by Farm's U-Boot driver on the serial console.
/// The same job file as the direct-boot board, the same checks.
/// </summary>
[Category("Qemu")]
public class UBootScenarios
{
    static RunRequest Job(string job, string out_) => RunRequests.Resolve(Path.Combine(ScenarioArtifacts.RepoRoot, "jobs", job), "qemu-xen-uboot",
        Path.Combine(ScenarioArtifacts.RepoRoot, "boards", "qemu.yaml"), out_) with { ArtifactDirectory = ScenarioArtifacts.Directory };

    [Test]
    public async Task XenSmokeJobBootsThroughUBootAndTftp()
    {
        var out_ = ScenarioArtifacts.NewRunDirectory();
        var r = await new JobRunner(TimeProvider.System, await RunSinks.OpenAsync(out_, null, CancellationToken.None)).RunAsync(Job("xen-smoke.yaml", out_), CancellationToken.None);
        Assert.That(r.Verdict, Is.EqualTo(Verdict.Pass), r.Message);
        Assert.That(r.Stages.Select(s => s.Name).Take(4), Is.EqualTo(new[] { "deploy", "power-on", "bootloader", "xen-banner" }));
        var console = File.ReadAllText(Path.Combine(r.RunDirectory!, "qemu-xen-uboot", "console.log"));
        Assert.That(console, Does.Contain("TFTP from server 10.0.2.2").And.Contain("Starting kernel ...").And.Contain("(XEN) Xen version 4.17"));
        var checks = r.Checks.ToDictionary(c => c.Id);
        Assert.That(checks["ecam.host-bridge-registered"].Verdict, Is.EqualTo(CheckVerdict.Pass));
        Assert.That(checks["bar.all-probed-bars-assigned"].Verdict, Is.EqualTo(CheckVerdict.Pass));
        Assert.That(checks["dma.nvme-write-read-sha256"].Verdict, Is.EqualTo(CheckVerdict.Pass));
        Assert.That(checks["ecam.xen-traps-dom0-config-space"].Verdict, Is.EqualTo(CheckVerdict.XFail), "Debian's Xen has no vPCI, whatever boots it");
        await Recorded.AssertAsync(r, out_);
    }

    [Test]
    public async Task ImageMissingFromTftpIsIncompleteWithUBootsWords()
    {
        var out_ = ScenarioArtifacts.NewRunDirectory();
        var runner = new JobRunner(TimeProvider.System, await RunSinks.OpenAsync(out_, null, CancellationToken.None));
        QemuBoard? board = null;
        runner.BoardCreated += b => board = (QemuBoard)b.Lifetime;
        runner.StageStarted += s =>
        {
            if (s.Name == "bootloader") File.Delete(Path.Combine(board!.TftpDirectory!, "initrd.cpio.gz"));   // the image vanished from the TFTP server
        };
        var r = await runner.RunAsync(Job("xen-boot.yaml", out_), CancellationToken.None);
        Assert.That(r.Verdict, Is.EqualTo(Verdict.Incomplete));
        Assert.That(r.Message, Does.StartWith("U-Boot: 'tftpboot 0x50000000 initrd.cpio.gz; setenv farm_isize ${filesize}' failed: TFTP error:"));
        Assert.That(r.Stages.Single(s => s.Name == "bootloader").Status, Is.EqualTo(StageStatus.Incomplete));
        Assert.That(r.Stages.Single(s => s.Name == "power-off").Status, Is.EqualTo(StageStatus.Passed));
        await Recorded.AssertAsync(r, out_);
    }
}
