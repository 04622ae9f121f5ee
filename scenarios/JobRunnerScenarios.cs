using System.Text.RegularExpressions;
using Farm.Boards.Qemu;
using Farm.Jobs;

namespace Farm.Scenarios;

[Category("Qemu")]
public class JobRunnerScenarios
{
    internal static QemuBoardConfig XenBoard(string binary = "qemu-system-aarch64") => new(
        "qemu-xen", BootMode.Xen, binary, "virt,virtualization=on,gic-version=3", "cortex-a57", 2, 2048, "none", ["nvme", "e1000e"],
        "console=dtuart dtuart=/pl011@9000000 dom0_mem=1024M dom0_max_vcpus=2 bootscrub=0 loglvl=all guest_loglvl=all",
        "console=hvc0 earlycon=xen rdinit=/init");

    internal static RunRequest BootOnly(string outDir, QemuBoardConfig? board = null, Regex? prompt = null, StageTimeouts? timeouts = null) => new(
        "xen-boot", board ?? XenBoard(), ScenarioArtifacts.Directory, timeouts ?? StageTimeouts.Default,
        new Regex(@"\(XEN\) Xen version (\S+)"), prompt ?? new Regex(@"root@farm:~# |FARM: done"), [], [], outDir);

    [Test]
    public async Task XenBootsToTheDom0PromptAndTheRunIsRecorded()
    {
        var sink = new MemorySink();
        var out_ = ScenarioArtifacts.NewRunDirectory();
        var r = await new JobRunner(TimeProvider.System, [sink]).RunAsync(BootOnly(out_), CancellationToken.None);
        TestContext.Out.WriteLine(r.Message);
        Assert.That(r.Verdict, Is.EqualTo(Verdict.Pass), r.Message);
        Assert.That(r.Stages.Select(s => s.Name), Is.EqualTo(new[] { "deploy", "power-on", "xen-banner", "dom0-prompt", "power-off" }));
        Assert.That(r.Provenance.XenVersion, Does.StartWith("4.17"));
        Assert.That(r.Provenance.LinuxVersion, Does.StartWith("6.1"));
        Assert.That(r.Provenance.QemuVersion, Does.StartWith("7.2"));
        Assert.That(r.Provenance.ArtifactSha256.Keys, Is.EquivalentTo(new[] { "xen", "vmlinuz", "initrd.cpio.gz" }));
        Assert.That(sink.Started, Has.Count.EqualTo(1));
        Assert.That(File.ReadAllText(Path.Combine(r.RunDirectory!, "qemu-xen", "console.log")), Does.Contain("(XEN) Xen version 4.17"));
    }
}

sealed class MemorySink : IRunSink
{
    public List<RunRecord> Started { get; } = [];
    public List<RunRecord> Finished { get; } = [];
    public Task StartedAsync(RunRecord pending, CancellationToken ct) { Started.Add(pending); return Task.CompletedTask; }
    public Task FinishedAsync(RunRecord final, CancellationToken ct) { Finished.Add(final); return Task.CompletedTask; }
}
