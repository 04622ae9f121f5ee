using Farm.Boards.Spec;
using System.Diagnostics;
using System.Text.RegularExpressions;
using Farm.Boards.Qemu;
using Farm.Jobs;
using Farm.Reports;

namespace Farm.Scenarios;

/// <summary>
/// The lab misbehaves on purpose, on real QEMU: each fault must give the right verdict, a message
/// that explains itself, and a run directory and record that survive.
/// </summary>
[Category("Qemu")]
public class FaultScenarios
{
    [Test]
    public async Task MissingQemuBinaryIsAnErrorNamingTheBinary()
    {
        var out_ = ScenarioArtifacts.NewRunDirectory();
        var sinks = await RunSinks.OpenAsync(out_, null, CancellationToken.None);
        var board = JobRunnerScenarios.XenBoard("/nonexistent/qemu-system-aarch64");
        var r = await new JobRunner(TimeProvider.System, sinks).RunAsync(JobRunnerScenarios.BootOnly(out_, board), CancellationToken.None);
        Assert.That(r.Verdict, Is.EqualTo(Verdict.Error));
        Assert.That(r.Message, Does.Contain("'/nonexistent/qemu-system-aarch64' does not exist"));
        Assert.That(r.Stages.Single(s => s.Name == "power-on").Status, Is.EqualTo(StageStatus.Error));
        await Recorded.AssertAsync(r, out_);
    }

    [Test]
    public async Task QemuKilledMidBootIsIncompleteWithTheConsoleTail()
    {
        var out_ = ScenarioArtifacts.NewRunDirectory();
        var sinks = await RunSinks.OpenAsync(out_, null, CancellationToken.None);
        var runner = new JobRunner(TimeProvider.System, sinks);
        QemuBoard? board = null;
        runner.BoardCreated += b => board = (QemuBoard)b.Lifetime;
        // Once Xen has spoken, kill QEMU (and only it: the guard's child) as a crashing lab would.
        runner.StageStarted += s =>
        {
            if (s.Name != "dom0-prompt") return;
            var guard = board!.Machine!.Process!.Id;
            Process.Start("pkill", ["-KILL", "-P", guard.ToString(), "-x", "qemu-system-aar"])!.WaitForExit();
        };
        var r = await runner.RunAsync(JobRunnerScenarios.BootOnly(out_, prompt: new Regex("root@farm:~# ")), CancellationToken.None);
        Assert.That(r.Verdict, Is.EqualTo(Verdict.Incomplete));
        var stage = r.Stages.Single(s => s.Name == "dom0-prompt");
        Assert.That(stage.Status, Is.EqualTo(StageStatus.Incomplete));
        Assert.That(r.Message, Does.Contain("console qemu-xen closed"));
        Assert.That(r.Message, Does.Contain("(XEN)"), "the console tail is in the message");
        await Recorded.AssertAsync(r, out_);
    }

    [Test]
    public async Task PromptThatNeverAppearsIsIncompleteNamingStageAndTimeout()
    {
        var out_ = ScenarioArtifacts.NewRunDirectory();
        var sinks = await RunSinks.OpenAsync(out_, null, CancellationToken.None);
        var timeouts = StageTimeouts.Default.With("dom0-prompt", TimeSpan.FromSeconds(4));
        // A prompt nobody prints; the guest idles at its shell, Farm must give up at 4 s.
        var r = await new JobRunner(TimeProvider.System, sinks).RunAsync(
            JobRunnerScenarios.BootOnly(out_, prompt: new Regex("this prompt never appears"), timeouts: timeouts), CancellationToken.None);
        Assert.That(r.Verdict, Is.EqualTo(Verdict.Incomplete));
        Assert.That(r.Message, Does.StartWith("stage 'dom0-prompt' timed out after 4s"));
        Assert.That(r.Stages.Single(s => s.Name == "power-off").Status, Is.EqualTo(StageStatus.Passed));
        await Recorded.AssertAsync(r, out_);
    }
}
