using System.Diagnostics;
using System.Text;
using Farm.Checks;
using Farm.Reports;

namespace Farm.Scenarios;

/// <summary>
/// The <c>farm</c> executable as users run it: the README's main job end to end, a bad job file,
/// and Farm itself being terminated or killed mid-boot.
/// </summary>
[Category("Qemu")]
public class CliScenarios
{
    static string Farm => FarmCli.Path;

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
        Assert.That(r.Stages.Select(s => s.Name), Is.EqualTo(new[] { "deploy", "power-on", "xen-banner", "dom0-prompt", "ssh-ready", "commands", "checks", "power-off" }));
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
    public async Task AQemuThatRejectsItsMachineIsAnErrorQuotingQemu()
    {
        var out_ = ScenarioArtifacts.NewRunDirectory();
        var lab = Path.Combine(out_, "lab.yaml");
        File.WriteAllText(lab, File.ReadAllText(Repo("boards/qemu.yaml")).Split("\nboards:")[0] + """

            boards:
              - name: qemu-bad-machine
                type: qemu-virt-native
                tags: [qemu, native]
                qemu: {machine: "virt,gic-version=3,no-such-property=on"}
            """);
        var (code, stdout, stderr) = await RunFarmAsync(["run", Repo("jobs/health-native.yaml"), "--board", "qemu-bad-machine", "--lab", lab, "--out", out_]);
        Assert.That(code, Is.EqualTo(Verdict.Error.ExitCode()), stdout + stderr);
        Assert.That(stdout + stderr, Does.Contain("QEMU exited with code 1 while starting").And.Contain("no-such-property"));
    }

    [Test]
    public async Task HealthRunsTheBoardsHealthJobAndRecordsIt()
    {
        var out_ = ScenarioArtifacts.NewRunDirectory();
        var (code, stdout, stderr) = await RunFarmAsync(["health", "--board", "qemu-native", "--lab", Repo("boards"), "--jobs", Repo("jobs"), "--out", out_]);
        Assert.That(code, Is.EqualTo(0), stdout + stderr);
        Assert.That(stdout, Does.Contain("health-native.yaml").And.Contain("healthy"));
        var r = await RunJsonSink.ReadAsync(Path.Combine(Directory.GetDirectories(out_).Single(), "run.json"), CancellationToken.None);
        Assert.That((r.Job, r.Board, r.Verdict), Is.EqualTo(("health-native", "qemu-native", Verdict.Pass)));
        Assert.That(r.Stages.Select(st => st.Name), Is.SupersetOf(new[] { "power-on", "dom0-prompt", "ssh-ready", "commands", "power-off" }), "power, console, prompt and SSH");
    }

    [Test]
    public async Task NightlyRunsEachTargetOnAHealthyBoardAndRecordsTheNight()
    {
        var out_ = ScenarioArtifacts.NewRunDirectory();
        var (code, stdout, stderr) = await RunFarmAsync(["nightly", Repo("jobs/xen-boot.yaml"), "--lab", Repo("boards"), "--out", out_]);
        Assert.That(code, Is.EqualTo(0), stdout + stderr);
        var night = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Directory.GetFiles(out_, "nightly-*.json").Single()));
        var target = night.RootElement.GetProperty("targets").EnumerateArray().Single();
        Assert.That(target.GetProperty("job").GetString(), Is.EqualTo("xen-boot"));
        Assert.That(target.GetProperty("board").GetString(), Is.EqualTo("qemu-xen"));
        Assert.That(target.GetProperty("verdict").GetString(), Is.EqualTo("pass"));
    }

    /// <summary>
    /// The vPCI matrix on two real targets: (a) the native-Linux baseline with ITS and SMMUv3,
    /// (b) Debian's Xen 4.17 + dom0. Debian's Xen has no PCI support, so its PCI features must
    /// xfail with the line that proves it, and nothing may pass where its capability is missing.
    /// </summary>
    [Test]
    public async Task VpciMatrixOnNativeBaselineAndDebianXen()
    {
        var out_ = ScenarioArtifacts.NewRunDirectory();
        // Both targets at once: each gets its own QEMU, ports and run directory, and judges alike.
        var (code, stdout, stderr) = await RunFarmAsync(["run", Repo("jobs/native-smoke.yaml"), Repo("jobs/xen-smoke.yaml"),
            "--parallel", "2", "--lab", Repo("boards"), "--out", out_]);
        Assert.That(code, Is.EqualTo(0), stdout + stderr);
        var runs = new List<RunRecord>();
        foreach (var dir in Directory.GetDirectories(out_).Where(d => File.Exists(Path.Combine(d, "run.json"))))
            runs.Add(await RunJsonSink.ReadAsync(Path.Combine(dir, "run.json"), CancellationToken.None));
        Assert.That(runs.Select(r => r.Job), Is.EquivalentTo(new[] { "native-smoke", "xen-smoke" }));
        var spans = runs.Select(r => (r.Start, End: r.Start + r.Duration)).OrderBy(x => x.Start).ToList();
        Assert.That(spans[1].Start, Is.LessThan(spans[0].End), "the two boards ran at the same time");
        Assert.That(runs.Select(r => File.ReadAllText(Path.Combine(r.RunDirectory!, r.Board, "qemu.cmdline"))).Distinct().Count(), Is.EqualTo(2));
        var native = runs.Single(r => r.Job == "native-smoke").Checks.ToDictionary(c => c.Id);
        var xen = runs.Single(r => r.Job == "xen-smoke").Checks.ToDictionary(c => c.Id);
        Assert.That(native.Count, Is.GreaterThanOrEqualTo(25));

        // (a) the baseline proves the positive paths: ECAM, BARs, MSI-X on the ITS, SMMU groups, NVMe DMA.
        foreach (var id in new[] { "ecam.host-bridge-registered", "ecam.window-reserved-in-iomem", "bar.claimed-in-iomem", "bar.lspci-matches-kernel",
                                   "irq.msi-domain-on-its", "irq.devices-use-msix", "iommu.devices-grouped", "dma.nvme-write-read-sha256", "dma.nvme-interrupts-rise-during-io" })
            Assert.That(native[id].Verdict, Is.EqualTo(CheckVerdict.Pass), $"native {id}: {native[id].Summary}");

        // (b) Debian Xen: PCI features xfail with evidence; dom0 still works on INTx; the refusal is clean.
        Assert.That(xen["ecam.xen-traps-dom0-config-space"].Verdict, Is.EqualTo(CheckVerdict.XFail));
        Assert.That(xen["ecam.xen-traps-dom0-config-space"].Evidence.Single(), Does.Contain("Failed to add - passthrough or MSI/MSI-X might fail!"));
        Assert.That(xen["iommu.devices-grouped"].Evidence.Single(), Is.EqualTo("(XEN) I/O virtualisation disabled"));
        Assert.That(xen["irq.devices-use-msix"].Verdict, Is.EqualTo(CheckVerdict.XFail));
        Assert.That(xen["irq.intx-routed"].Verdict, Is.EqualTo(CheckVerdict.Pass));
        Assert.That(xen["dma.nvme-write-read-sha256"].Verdict, Is.EqualTo(CheckVerdict.Pass));
        Assert.That(xen["negative.unassignable-refused-clearly"].Evidence, Has.Some.Contain("failed to quarantine"));
        Assert.That(runs.SelectMany(r => r.Checks).Where(c => c.Verdict is CheckVerdict.XFail or CheckVerdict.NotApplicable),
            Has.All.Property("Evidence").Not.Empty, "every xfail/n-a cell shows its evidence");
        Assert.That(runs.SelectMany(r => r.Checks).Where(c => c.Unexpected), Is.Empty);

        var (rc, report, err) = await RunFarmAsync(["report", "--out", out_, "--no-html"]);
        Assert.That(rc, Is.EqualTo(0), report + err);
        var matrix = await File.ReadAllTextAsync(Path.Combine(out_, "matrix.md"));
        TestContext.Out.WriteLine(matrix);
        Assert.That(matrix, Does.Contain("native-smoke@qemu-native (native, QEMU 7.2").And.Contain("xen-smoke@qemu-xen (Xen 4.17"));
        Assert.That(matrix, Does.Contain("| `irq.devices-use-msix` | pass | xfail [").And.Contain("pci_msi_setup_msi_irqs"));
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
    internal static async Task AssertNoQemuForAsync(string runDir)
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

    internal static async Task WaitForAsync(StringBuilder output, string text)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!Text(output).Contains(text))
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting for '{text}' from farm:\n{Text(output)}");
            await Task.Delay(50);
        }
    }

    internal static string Text(StringBuilder sb)
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

    internal static Process StartFarm(string[] args, out StringBuilder output)
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
