using System.Diagnostics;
using System.Text;
using Farm.Reports;

namespace Farm.Scenarios;

/// <summary>
/// The <c>farm</c> executable as users run it: the README's main job end to end, a bad job file,
/// and Farm itself being terminated or killed mid-boot.
/// </summary>
[Category("Qemu")]
public class CliScenarios
{
    static string Farm => Path.Combine(AppContext.BaseDirectory, "farm");

    static string Repo(string relative) => Path.Combine(ScenarioArtifacts.RepoRoot, relative);

    [Test]
    public async Task SmokeJobPassesWithEvidenceReportsAndStoreRow()
    {
        var out_ = ScenarioArtifacts.NewRunDirectory();
        var (code, stdout, stderr) = await RunFarmAsync(["run", Repo("jobs/xen-smoke.yaml"), "--lab", Repo("boards"), "--out", out_]);
        Assert.That(code, Is.EqualTo(0), stdout + stderr);

        var runDir = Directory.GetDirectories(out_).Single();
        var r = await RunJsonSink.ReadAsync(Path.Combine(runDir, "run.json"), CancellationToken.None);
        Assert.That(r.Verdict, Is.EqualTo(Verdict.Pass));
        Assert.That(r.Stages.Select(s => s.Name), Is.EqualTo(new[] { "deploy", "power-on", "xen-banner", "dom0-prompt", "ssh-ready", "commands", "power-off" }));
        var evidence = Path.Combine(runDir, "qemu-xen", "evidence");
        Assert.That(File.ReadAllText(Path.Combine(evidence, "xl-info.txt")), Does.Contain("xen_version"));
        Assert.That(File.ReadAllText(Path.Combine(evidence, "xl-dmesg.txt")), Does.Contain("Xen version 4.17"));
        var lspci = File.ReadAllText(Path.Combine(evidence, "lspci-vvv.txt"));
        Assert.That(lspci, Does.Contain("Non-Volatile memory controller").And.Contain("82574L"));
        Assert.That(File.ReadAllText(Path.Combine(evidence, "cat-proc-interrupts.txt")), Does.Contain("CPU0"));
        Assert.That(File.ReadAllText(Path.Combine(evidence, "cat-proc-iomem.txt")), Does.Contain("System RAM"));
        Assert.That(File.ReadAllText(Path.Combine(evidence, "dmesg.txt")), Does.Contain("Linux version"));
        await Recorded.AssertAsync(r, out_);

        var (rc, report, err) = await RunFarmAsync(["report", "--out", out_, "--latest", "1"]);
        Assert.That(rc, Is.EqualTo(0), report + err);
        Assert.That(File.Exists(Path.Combine(out_, "report", "index.html")), report + err);
    }

    [Test]
    public async Task BadJobFileIsExitTwoNamingFileLineAndFieldAndRunsNothing()
    {
        var out_ = ScenarioArtifacts.NewRunDirectory();
        var job = Path.Combine(out_, "bad.yaml");
        await File.WriteAllTextAsync(job, "name: bad\nboard: qemu-xen\nartifacts: bookworm\ntimeouts:\n  dom0-prompt: soon\nexpect:\n  dom0-prompt: 'root@farm:~# '\n");
        var (code, stdout, stderr) = await RunFarmAsync(["run", job, "--lab", Repo("boards"), "--out", out_]);
        Assert.That(code, Is.EqualTo(2), stdout + stderr);
        Assert.That(stderr, Does.Contain($"{job}:5:").And.Contain("timeouts.dom0-prompt"));
        Assert.That(Directory.GetDirectories(out_), Is.Empty, "nothing ran");
    }

    [Test]
    public async Task TerminatedFarmCancelsTheRunRecordsItAndStopsQemu()
    {
        var out_ = ScenarioArtifacts.NewRunDirectory();
        using var farm = StartFarm(["run", Repo("jobs/xen-smoke.yaml"), "--lab", Repo("boards"), "--out", out_], out var output);
        await WaitForAsync(output, "dom0-prompt (");
        Process.Start("kill", ["-TERM", farm.Id.ToString()])!.WaitForExit();
        await farm.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
        Assert.That(farm.ExitCode, Is.EqualTo(3), Text(output));

        var runDir = Directory.GetDirectories(out_).Single();
        var r = await RunJsonSink.ReadAsync(Path.Combine(runDir, "run.json"), CancellationToken.None);
        Assert.That(r.Verdict, Is.EqualTo(Verdict.Incomplete));
        Assert.That(r.Message, Does.StartWith("run cancelled during stage 'dom0-prompt'"));
        await Recorded.AssertAsync(r, out_);
        await AssertNoQemuForAsync(runDir);
    }

    [Test]
    public async Task KilledFarmLeavesAnIncompleteRowAndNoQemu()
    {
        var out_ = ScenarioArtifacts.NewRunDirectory();
        using var farm = StartFarm(["run", Repo("jobs/xen-smoke.yaml"), "--lab", Repo("boards"), "--out", out_], out var output);
        await WaitForAsync(output, "dom0-prompt (");
        farm.Kill();
        await farm.WaitForExitAsync();

        var runDir = Directory.GetDirectories(out_).Single();
        var r = await RunJsonSink.ReadAsync(Path.Combine(runDir, "run.json"), CancellationToken.None);
        Assert.That(r.Verdict, Is.EqualTo(Verdict.Incomplete));
        Assert.That(r.Message, Is.EqualTo("run did not finish"));
        var row = await (await RunSinks.OpenStoreAsync(out_, null, CancellationToken.None)).GetAsync(r.RunId, CancellationToken.None);
        Assert.That(row?.Verdict, Is.EqualTo(Verdict.Incomplete), "the row written at start survives a SIGKILL");
        await AssertNoQemuForAsync(runDir);
    }

    /// <summary>No QEMU is left running for this run (its command line names the run directory).</summary>
    static async Task AssertNoQemuForAsync(string runDir)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        string left;
        do
        {
            var (_, ps, _) = await RunAsync("pgrep", ["-af", "qemu-system-aarch64"]);
            left = string.Join('\n', ps.Split('\n').Where(l => l.Contains(runDir)));
            if (left.Length == 0) return;
            await Task.Delay(200);
        } while (DateTime.UtcNow < deadline);
        Assert.Fail("QEMU outlived Farm: " + left);
    }

    static async Task WaitForAsync(StringBuilder output, string text)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!Text(output).Contains(text))
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting for '{text}' from farm:\n{Text(output)}");
            await Task.Delay(50);
        }
    }

    static string Text(StringBuilder sb)
    {
        lock (sb) return sb.ToString();
    }

    static Task<(int Code, string StdOut, string StdErr)> RunFarmAsync(string[] args) => RunAsync(Farm, args);

    static async Task<(int Code, string StdOut, string StdErr)> RunAsync(string program, string[] args)
    {
        var psi = new ProcessStartInfo(program, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromMinutes(5)).Token);
        return (p.ExitCode, await o, await e);
    }

    static Process StartFarm(string[] args, out StringBuilder output)
    {
        var psi = new ProcessStartInfo(Farm, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        var p = Process.Start(psi)!;
        var sb = new StringBuilder();
        p.OutputDataReceived += (_, e) => { lock (sb) sb.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { lock (sb) sb.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        output = sb;
        return p;
    }
}
