using System.Diagnostics;
using Farm.Checks;
using Farm.Reports;

namespace Farm.Scenarios;

/// <summary>
/// The self-built target end to end, as the nightly does it: <c>farm build xen</c> from Debian's
/// Xen source with PCI passthrough (in the real container), then Debian's Xen and the self-built
/// one booted on QEMU, and the matrix showing what moved from xfail to pass.
/// </summary>
[Category("Qemu")]
[Category("Container")]
public class SelfBuiltXenScenarios
{
    static string Repo(string relative) => Path.Combine(ScenarioArtifacts.RepoRoot, relative);

    /// <summary>The nightly's self-built Xen (.cache/artifacts/xen-vpci): the build is cached, so a second caller pays nothing.</summary>
    internal static string[] XenVpciBuild => ["build", "xen", "--source", "debian:bookworm", "--config", Repo("ci/xen/xen-vpci.config"),
        "--patch", Repo("ci/xen/patches/xen-4.17-arm-pci-passthrough.patch"), "--artifacts-from", ScenarioArtifacts.Directory, "--name", "xen-vpci",
        "--cache", Repo(".cache")];

    [Test]
    public async Task BuiltXenOwnsTheEcamAndTheMatrixShowsXfailsTurnedPass()
    {
        var out_ = ScenarioArtifacts.NewRunDirectory();
        var (code, stdout, stderr) = await RunAsync(XenVpciBuild, TimeSpan.FromMinutes(20));
        Assert.That(code, Is.EqualTo(0), stdout + stderr);
        Assert.That(stdout, Does.Contain("CONFIG_HAS_VPCI").And.Contain("CONFIG_PCI_PASSTHROUGH"));

        var again = Stopwatch.StartNew();
        (code, stdout, stderr) = await RunAsync(XenVpciBuild, TimeSpan.FromMinutes(5));
        Assert.That(code, Is.EqualTo(0), stdout + stderr);
        Assert.That(stdout, Does.Contain("cache hit"));
        TestContext.Out.WriteLine($"second build (unchanged inputs): {again.Elapsed.TotalSeconds:0.0} s");

        foreach (var job in new[] { "jobs/xen-smoke.yaml", "jobs/xen-vpci-smoke.yaml" })
        {
            (code, stdout, stderr) = await RunAsync(["run", Repo(job), "--lab", Repo("boards"), "--out", out_], TimeSpan.FromMinutes(10));
            Assert.That(code, Is.EqualTo(0), $"{job}: {stdout}{stderr}");
        }
        var runs = new List<RunRecord>();
        foreach (var dir in Directory.GetDirectories(out_).Where(d => File.Exists(Path.Combine(d, "run.json"))))
            runs.Add(await RunJsonSink.ReadAsync(Path.Combine(dir, "run.json"), CancellationToken.None));
        var debian = runs.Single(r => r.Job == "xen-smoke");
        var built = runs.Single(r => r.Job == "xen-vpci-smoke");
        Assert.That(built.Provenance.Packages["xen_build_pci"], Does.Contain("CONFIG_HAS_VPCI"), "run.json says what was built");
        Assert.That(built.Provenance.Packages["xen_build_source"], Does.StartWith("debian:bookworm xen-4.17"));

        CheckResult Check(RunRecord r, string id) => r.Checks.Single(c => c.Id == id);
        var ecam = Check(built, "ecam.xen-traps-dom0-config-space");
        Assert.That(ecam.Verdict, Is.EqualTo(CheckVerdict.Pass), ecam.Summary);
        Assert.That(ecam.Evidence, Has.Some.StartsWith("(XEN) PCI add device 0000:00:0"), "judged from Xen's side of the log");
        Assert.That(Check(debian, "ecam.xen-traps-dom0-config-space").Verdict, Is.EqualTo(CheckVerdict.XFail));
        foreach (var id in new[] { "irq.msi-domain-on-its", "irq.devices-use-msix", "dma.nvme-write-read-sha256", "bar.no-overlaps" })
            Assert.That(Check(built, id).Verdict, Is.EqualTo(CheckVerdict.Pass), $"{id}: {Check(built, id).Summary}");

        (code, stdout, stderr) = await RunAsync(["report", "--out", out_, "--run", debian.RunId, "--run", built.RunId, "--no-html"], TimeSpan.FromMinutes(2));
        var matrix = await File.ReadAllTextAsync(Path.Combine(out_, CheckMatrix.FileName));
        var row = matrix.Split('\n').Single(l => l.StartsWith("| `ecam.xen-traps-dom0-config-space`", StringComparison.Ordinal));
        Assert.That(matrix, Does.Contain("self-built, PCI passthrough on"));
        Assert.That(row, Does.Match(@"xfail.*\| pass"), "Debian's xfail, the self-built pass: " + row);
    }

    static Task<(int Code, string StdOut, string StdErr)> RunAsync(string[] args, TimeSpan limit) => FarmCli.RunAsync(args, limit);
}
