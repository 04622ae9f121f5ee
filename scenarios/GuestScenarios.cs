using System.Text.RegularExpressions;
using Farm.Jobs;
using Farm.Reports;

namespace Farm.Scenarios;

/// <summary>
/// domUs on real QEMU, started by Farm from dom0 over xl: a plain guest boots, is driven over its
/// console and is destroyed; each way a guest can go wrong gives its own verdict and evidence.
/// </summary>
[Category("Qemu")]
public class GuestScenarios
{
    static string Repo(string relative) => Path.Combine(ScenarioArtifacts.RepoRoot, relative);

    const string Header = """
        board: qemu-xen
        artifacts: bookworm
        expect:
          xen-banner: '\(XEN\) Xen version'
          dom0-prompt: 'root@farm:~# '
        """;

    /// <summary>A job file in the run directory (artifacts resolve by set name, so its location does not matter).</summary>
    static string Job(string out_, string name, string guest)
    {
        var path = Path.Combine(out_, name + ".yaml");
        File.WriteAllText(path, $"name: {name}\n{Header}\nguests:\n{guest}");
        return path;
    }

    static async Task<RunRecord> RunAsync(string jobPath, string out_)
    {
        var request = RunRequests.Resolve(jobPath, null, Repo("boards"), out_);
        var runner = new JobRunner(TimeProvider.System, await RunSinks.OpenAsync(out_, null, CancellationToken.None));
        runner.StageFinished += (s, r) => TestContext.Out.WriteLine($"{r.Name}: {r.Status} {r.Duration.TotalSeconds:0.0}s {r.Message}");
        var r = await runner.RunAsync(request, CancellationToken.None);
        TestContext.Out.WriteLine(r.Message);
        return r;
    }

    static async Task WaitForAsync(System.Text.StringBuilder output, string text, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (!CliScenarios.Text(output).Contains(text))
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting for '{text}' from farm:\n{CliScenarios.Text(output)}");
            await Task.Delay(200);
        }
    }

    static StageStatus Status(RunRecord r, string stage) => r.Stages.Single(s => s.Name == stage).Status;

    static string GuestFile(RunRecord r, string relative) => File.ReadAllText(Path.Combine(r.RunDirectory!, "qemu-xen", "guests", "g1", relative));

    [Test]
    public async Task APlainDomUBootsItsConsoleAndCommandsAreKeptAndItIsDestroyed()
    {
        var out_ = ScenarioArtifacts.NewRunDirectory();
        var r = await RunAsync(Repo("jobs/xen-guest.yaml"), out_);
        foreach (var stage in new[] { "guest-create.g1", "guest-prompt.g1", "guest-commands.g1", "guest-destroy.g1" })
            Assert.That(Status(r, stage), Is.EqualTo(StageStatus.Passed), stage + ": " + r.Message);
        Assert.That(Status(r, "guest-assign.g1"), Is.EqualTo(StageStatus.Skipped), "no devices to assign");
        Assert.That(Status(r, "power-off"), Is.EqualTo(StageStatus.Passed));
        Assert.That(r.Verdict, Is.Not.EqualTo(Verdict.Incomplete).And.Not.EqualTo(Verdict.Error), r.Message);

        var console = GuestFile(r, "console.log");
        TestContext.Out.WriteLine(string.Join("\n", console.Split('\n').Take(12)));
        Assert.That(console, Does.Contain("Booting Linux on physical CPU"), "the transcript starts at the guest kernel's first line");
        Assert.That(console, Does.Contain("FARM: xen domain=domU").And.Contain("FARM: ready"));
        var evidence = Path.Combine(r.RunDirectory!, "qemu-xen", "guests", "g1", "evidence");
        Assert.That(File.ReadAllText(Path.Combine(evidence, "cat-sys-hypervisor-type.txt")).Trim(), Is.EqualTo("xen"));
        Assert.That(File.ReadAllText(Path.Combine(evidence, "dmesg.txt")), Does.Contain("Linux version"));
        Assert.That(File.ReadAllText(Path.Combine(evidence, "commands.json")), Does.Contain("\"exitCode\": 0"));
        Assert.That(GuestFile(r, "xl.cfg"), Does.Contain("name = \"g1\"").And.Contain("kernel = \"/mnt/artifacts/vmlinuz\""));
        Assert.That(r.Metrics.Keys, Does.Contain("guest.g1.create-to-prompt.seconds").And.Contain("guest.g1.destroy.seconds"));
        await Recorded.AssertAsync(r, out_);
    }

    [Test]
    public async Task AGuestKernelPanicFailsAtOnceWithTheGuestConsoleTail()
    {
        var out_ = ScenarioArtifacts.NewRunDirectory();
        // No init anywhere: the guest kernel panics ("VFS: Unable to mount root fs" / "No working init found").
        var job = Job(out_, "guest-panic", """
              - name: g1
                extra: console=hvc0 rdinit=/farm-no-such-init init=/farm-no-such-init
                ramdisk: none
                expect: {prompt: 'root@farm:~# '}
                timeouts: {guest-prompt: 600s}
            """);
        var r = await RunAsync(job, out_);
        Assert.That(r.Verdict, Is.EqualTo(Verdict.Fail), r.Message);
        Assert.That(Status(r, "guest-prompt.g1"), Is.EqualTo(StageStatus.Failed));
        Assert.That(r.Stages.Single(s => s.Name == "guest-prompt.g1").Duration, Is.LessThan(TimeSpan.FromSeconds(300)), "not a timeout");
        Assert.That(r.Message, Does.Contain("guest g1 console crashed (linux.panic").And.Contain("Kernel panic - not syncing"));
        Assert.That(Status(r, "guest-destroy.g1"), Is.EqualTo(StageStatus.Passed), "the crashed guest is still destroyed");
        Assert.That(GuestFile(r, "console.log"), Does.Contain("Kernel panic - not syncing"));
        await Recorded.AssertAsync(r, out_);
    }

    [Test]
    public async Task AnXlCreateRefusalFailsQuotingLibxl()
    {
        var out_ = ScenarioArtifacts.NewRunDirectory();
        var job = Job(out_, "guest-refused", """
              - name: g1
                kernel: /mnt/artifacts/no-such-kernel
                expect: {prompt: 'root@farm:~# '}
            """);
        var r = await RunAsync(job, out_);
        Assert.That(r.Verdict, Is.EqualTo(Verdict.Fail), r.Message);
        Assert.That(Status(r, "guest-create.g1"), Is.EqualTo(StageStatus.Failed));
        Assert.That(r.Message, Does.Contain("guest g1: xl create refused").And.Contain("exited 3: libxl: error: "));
        Assert.That(Status(r, "guest-prompt.g1"), Is.EqualTo(StageStatus.Skipped));
        await Recorded.AssertAsync(r, out_);
    }

    [Test]
    public async Task AGuestPromptThatNeverAppearsIsIncompleteNamingTheGuestStageAndItsTimeout()
    {
        var out_ = ScenarioArtifacts.NewRunDirectory();
        var job = Job(out_, "guest-silent", """
              - name: g1
                expect: {prompt: 'this prompt never appears'}
                timeouts: {guest-prompt: 45s}
            """);
        var r = await RunAsync(job, out_);
        Assert.That(r.Verdict, Is.EqualTo(Verdict.Incomplete), r.Message);
        Assert.That(r.Message, Does.StartWith("stage 'guest-prompt.g1' timed out after 45s"));
        Assert.That(Status(r, "guest-destroy.g1"), Is.EqualTo(StageStatus.Passed));
        Assert.That(GuestFile(r, "console.log"), Does.Contain("FARM: ready"), "the guest booted; only the pattern was wrong");
        await Recorded.AssertAsync(r, out_);
    }

    [Test]
    public async Task FarmKilledWhileAGuestRunsLeavesNoQemuAndTheRunRecorded()
    {
        var out_ = ScenarioArtifacts.NewRunDirectory();
        var job = Job(out_, "guest-killed", """
              - name: g1
                expect: {prompt: 'this prompt never appears'}
                timeouts: {guest-prompt: 600s}
            """);
        using var farm = CliScenarios.StartFarm(["run", job, "--lab", Repo("boards"), "--out", out_], out var output);
        // A loaded host boots slowly: each stage gets minutes, not the CLI scenarios' one.
        foreach (var stage in new[] { "dom0-prompt (", "ssh-ready (", "guest-create.g1 (", "guest-prompt.g1 (" })
            await WaitForAsync(output, stage, TimeSpan.FromMinutes(5));
        var guestLog = Path.Combine(Directory.GetDirectories(out_).Single(), "qemu-xen", "guests", "g1", "console.log");
        // Killed once the guest kernel is running, as its console shows on disk.
        for (var deadline = DateTime.UtcNow.AddMinutes(3); !(File.Exists(guestLog) && File.ReadAllText(guestLog).Contains("Booting Linux"));)
        {
            if (DateTime.UtcNow > deadline) Assert.Fail("the guest never started booting:\n" + CliScenarios.Text(output));
            await Task.Delay(200);
        }
        farm.Kill();
        await farm.WaitForExitAsync();

        var runDir = Directory.GetDirectories(out_).Single();
        var r = await RunJsonSink.ReadAsync(Path.Combine(runDir, "run.json"), CancellationToken.None);
        Assert.That(r.Verdict, Is.EqualTo(Verdict.Incomplete));
        Assert.That(r.Message, Is.EqualTo(JobRunner.PendingMessage));
        var row = await (await RunSinks.OpenStoreAsync(out_, null, CancellationToken.None)).GetAsync(r.RunId, CancellationToken.None);
        Assert.That(row?.Verdict, Is.EqualTo(Verdict.Incomplete), "the row written at start survives a SIGKILL");
        await CliScenarios.AssertNoQemuForAsync(runDir);
    }
}
