using System.Diagnostics;
using System.Text.RegularExpressions;
using Farm.Boards.Qemu;
using Farm.Jobs;

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
        var sink = new MemorySink();
        var out_ = ScenarioArtifacts.NewRunDirectory();
        var board = JobRunnerScenarios.XenBoard("/nonexistent/qemu-system-aarch64");
        var r = await new JobRunner(TimeProvider.System, [sink]).RunAsync(JobRunnerScenarios.BootOnly(out_, board), CancellationToken.None);
        Assert.That(r.Verdict, Is.EqualTo(Verdict.Error));
        Assert.That(r.Message, Does.Contain("'/nonexistent/qemu-system-aarch64' does not exist"));
        Assert.That(r.Stages.Single(s => s.Name == "power-on").Status, Is.EqualTo(StageStatus.Error));
        AssertRecorded(r, sink);
    }

    [Test]
    public async Task QemuKilledMidBootIsIncompleteWithTheConsoleTail()
    {
        var sink = new MemorySink();
        var out_ = ScenarioArtifacts.NewRunDirectory();
        var runner = new JobRunner(TimeProvider.System, [sink]);
        QemuBoard? board = null;
        runner.BoardCreated += b => board = b;
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
        AssertRecorded(r, sink);
    }

    [Test]
    public async Task PromptThatNeverAppearsIsIncompleteNamingStageAndTimeout()
    {
        var sink = new MemorySink();
        var out_ = ScenarioArtifacts.NewRunDirectory();
        var timeouts = StageTimeouts.Default with { Dom0Prompt = TimeSpan.FromSeconds(4) };
        // A prompt nobody prints; the guest powers off or idles, Farm must give up at 4 s.
        var r = await new JobRunner(TimeProvider.System, [sink]).RunAsync(
            JobRunnerScenarios.BootOnly(out_, prompt: new Regex("this prompt never appears"), timeouts: timeouts), CancellationToken.None);
        Assert.That(r.Verdict, Is.EqualTo(Verdict.Incomplete));
        Assert.That(r.Message, Does.StartWith("stage 'dom0-prompt' timed out after 4s").Or.Contain("console qemu-xen closed"));
        Assert.That(r.Stages.Single(s => s.Name == "power-off").Status, Is.EqualTo(StageStatus.Passed));
        AssertRecorded(r, sink);
    }

    static void AssertRecorded(RunRecord r, MemorySink sink)
    {
        Assert.That(Directory.Exists(r.RunDirectory), "run directory kept");
        Assert.That(sink.Started.Single().RunId, Is.EqualTo(r.RunId));
        Assert.That(sink.Finished.Single().Verdict, Is.EqualTo(r.Verdict));
    }
}
