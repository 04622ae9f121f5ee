using Farm.Boards.Spec;
using Farm.Checks;
using Farm.Jobs;
using Farm.Jobs.Spec;
using Farm.Reports;
using Farm.Scenarios.Sim;

namespace Farm.Scenarios;

/// <summary>
/// The simulated physical bench end to end: SNMP PDU power, ser2net console, U-Boot + TFTP
/// deployment, SSH, the vPCI checks. The job file is the one the QEMU board runs.
/// </summary>
[Category("Bench")]
public class BenchScenarios
{
    [Test]
    public async Task XenSmokeJobRunsOnTheSimulatedBench()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var out_ = ScenarioArtifacts.NewRunDirectory();
        await using var bench = await SimulatedBench.StartAsync(Path.Combine(out_, "bench"), cts.Token);
        Environment.SetEnvironmentVariable(SimulatedBench.CommunityVariable, SnmpPdu.Community);
        var lab = LabFile.Parse(bench.LabYaml(), Path.Combine(out_, "bench.yaml"));
        var job = JobFile.Load(Path.Combine(ScenarioArtifacts.RepoRoot, "jobs", "xen-smoke.yaml"));
        var request = RunRequests.Create(job with { BoardName = "bench-xen" }, lab.Find("bench-xen")!, ScenarioArtifacts.RepoRoot, out_)
            with { ArtifactDirectory = ScenarioArtifacts.Directory };

        var r = await new JobRunner(TimeProvider.System, await RunSinks.OpenAsync(out_, null, cts.Token)).RunAsync(request, cts.Token);
        TestContext.Out.WriteLine($"{r.Verdict}: {r.Message}");
        Assert.That(r.Verdict, Is.EqualTo(Verdict.Pass), r.Message);
        Assert.That(r.Stages.Select(s => s.Name).Take(4), Is.EqualTo(new[] { "deploy", "power-on", "bootloader", "xen-banner" }));
        var console = File.ReadAllText(Path.Combine(r.RunDirectory!, "bench-xen", "console.log"));
        Assert.That(console, Does.Contain("Hit any key to stop autoboot").And.Contain("TFTP from server 10.0.2.2").And.Contain("(XEN) Xen version 4.17"));
        var checks = r.Checks.ToDictionary(c => c.Id);
        Assert.That(checks["ecam.host-bridge-registered"].Verdict, Is.EqualTo(CheckVerdict.Pass));
        Assert.That(checks["dma.nvme-write-read-sha256"].Verdict, Is.EqualTo(CheckVerdict.Pass));
        Assert.That(checks["ecam.xen-traps-dom0-config-space"].Verdict, Is.EqualTo(CheckVerdict.XFail));
        Assert.That(File.ReadAllText(Path.Combine(bench.Directory, "pdu", "outlet1")).Trim(), Is.EqualTo("2"), "switched off through the PDU at the end");
        Assert.That(Directory.GetDirectories(Path.Combine(bench.TftpRoot, "farm")), Is.Empty, "the run's TFTP directory is cleaned up");
        await Recorded.AssertAsync(r, out_);
    }
}
