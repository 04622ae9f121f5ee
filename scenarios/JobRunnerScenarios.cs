using Farm.Boards;
using Farm.Boards.Spec;
using System.Text.RegularExpressions;
using Farm.Boards.Qemu;
using Farm.Jobs;
using Farm.Reports;

namespace Farm.Scenarios;

[Category("Qemu")]
public class JobRunnerScenarios
{
    internal static QemuBoardConfig XenBoard(string binary = "qemu-system-aarch64") => new(
        "qemu-xen", BoardMode.Xen, binary, "virt,virtualization=on,gic-version=3", "cortex-a57", 2, 2048, IommuModel.None, [QemuDevice.Nvme, QemuDevice.E1000e],
        "console=dtuart dtuart=/pl011@9000000 dom0_mem=1024M dom0_max_vcpus=2 bootscrub=0 loglvl=all guest_loglvl=all",
        "console=hvc0 earlycon=xen rdinit=/init");

    internal static RunRequest BootOnly(string outDir, QemuBoardConfig? board = null, Regex? prompt = null, StageTimeouts? timeouts = null) => new(
        "xen-boot", board ?? XenBoard(), ScenarioArtifacts.Directory, timeouts ?? StageTimeouts.Default,
        new Regex(@"\(XEN\) Xen version (\S+)"), prompt ?? new Regex(@"root@farm:~# |FARM: done"), [], [], outDir);

    [Test]
    public async Task XenBootsToTheDom0PromptAndTheRunIsRecorded()
    {
        var out_ = ScenarioArtifacts.NewRunDirectory();
        var r = await new JobRunner(TimeProvider.System, await RunSinks.OpenAsync(out_, null, CancellationToken.None)).RunAsync(BootOnly(out_), CancellationToken.None);
        TestContext.Out.WriteLine(r.Message);
        Assert.That(r.Verdict, Is.EqualTo(Verdict.Pass), r.Message);
        Assert.That(r.Stages.Select(s => s.Name), Is.EqualTo(new[] { "deploy", "power-on", "xen-banner", "dom0-prompt", "power-off" }));
        Assert.That(r.Provenance.XenVersion, Does.StartWith("4.17"));
        Assert.That(r.Provenance.LinuxVersion, Does.StartWith("6.1"));
        Assert.That(r.Provenance.QemuVersion, Does.StartWith("7.2"));
        Assert.That(r.Provenance.ArtifactSha256.Keys, Is.EquivalentTo(new[] { "xen", "vmlinuz", "initrd.cpio.gz" }));
        await Recorded.AssertAsync(r, out_);
        Assert.That(File.ReadAllText(Path.Combine(r.RunDirectory!, "qemu-xen", "console.log")), Does.Contain("(XEN) Xen version 4.17"));
    }
}
