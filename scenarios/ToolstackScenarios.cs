using System.Diagnostics;
using System.Text.Json;
using Farm.Jobs;
using Farm.Reports;

namespace Farm.Scenarios;

/// <summary>
/// The toolstack from the same tree: <c>farm build xen --tools</c> cross-builds xl, libxl, xenstored and
/// xenconsoled from Debian's Xen 4.17.5 source with Farm's PCI passthrough patch (the real container, the
/// toolstack image from ci/setup-docker.sh), puts them into dom0's initramfs in place of Debian's, and the
/// self-built Xen boots with them: dom0 runs that xl, a plain domU is created, driven and destroyed over it,
/// and the run's provenance names the toolstack's build.
/// Expected runtime: ~80 s with the toolstack cached (a cache hit in ~3 s, then one boot and one
/// guest under TCG); the first, uncached toolstack build adds ~7-10 min on 2 busy cores.
/// </summary>
[Category("Qemu")]
[Category("Container")]
public class ToolstackScenarios
{
    static string Repo(string relative) => Path.Combine(ScenarioArtifacts.RepoRoot, relative);

    static string[] Build() => ["build", "xen", "--source", "debian:bookworm", "--config", Repo("ci/xen/xen-vpci.config"),
        "--patch", Repo("ci/xen/patches/xen-4.17-arm-pci-passthrough.patch"), "--artifacts-from", ScenarioArtifacts.Directory,
        "--name", "xen-vpci-tools", "--tools", "--cache", Repo(".cache")];

    [Test]
    [Description("expected runtime: ~80 s with the toolstack cached (measured 78 s); ~10 min more uncached")]
    public async Task Dom0RunsTheToolstackBuiltFromTheSameTreeAndAPlainDomUBootsWithIt()
    {
        var (code, stdout, stderr) = await FarmCli.RunAsync(Build(), TimeSpan.FromMinutes(60));
        Assert.That(code, Is.EqualTo(0), stdout + stderr);
        Assert.That(stdout, Does.Contain("toolstack").And.Contain("xenstored"));

        var set = Repo(".cache/artifacts/xen-vpci-tools");
        var manifest = await File.ReadAllLinesAsync(Path.Combine(set, "MANIFEST"));
        Assert.That(manifest, Has.Some.StartsWith("xen_tools=self-built 4.17.5"));
        Assert.That(manifest, Has.Some.EqualTo("xen_utils_pkg=self-built"), "Debian's xen-utils is no longer claimed");
        var toolsBuild = manifest.Single(l => l.StartsWith("xen_tools_build=", StringComparison.Ordinal))["xen_tools_build=".Length..];
        var toolsJsonPath = Repo($".cache/xen-builds/tools-{toolsBuild}/tools.json");
        var built = File.GetLastWriteTimeUtc(toolsJsonPath);
        using var toolsJson = JsonDocument.Parse(await File.ReadAllTextAsync(toolsJsonPath));
        var xlSha12 = toolsJson.RootElement.GetProperty("files").EnumerateArray().Select(f => f.GetString()!).Single(f => f.StartsWith("xl ", StringComparison.Ordinal))[3..];

        var again = Stopwatch.StartNew();
        (code, stdout, stderr) = await FarmCli.RunAsync(Build(), TimeSpan.FromMinutes(5));
        Assert.That(code, Is.EqualTo(0), stdout + stderr);
        Assert.That(File.GetLastWriteTimeUtc(toolsJsonPath), Is.EqualTo(built), "unchanged inputs: the toolstack is a cache hit");
        TestContext.Out.WriteLine($"second build with --tools (unchanged inputs): {again.Elapsed.TotalSeconds:0.0} s");

        var out_ = ScenarioArtifacts.NewRunDirectory();
        var request = RunRequests.Resolve(Repo("jobs/xen-vpci-tools-guest.yaml"), null, Repo("boards"), out_);
        var runner = new JobRunner(TimeProvider.System, await RunSinks.OpenAsync(out_, null, CancellationToken.None));
        runner.StageFinished += (s, st) => TestContext.Out.WriteLine($"{st.Name}: {st.Status} {st.Duration.TotalSeconds:0.0}s {st.Message}");
        var r = await runner.RunAsync(request, CancellationToken.None);
        TestContext.Out.WriteLine($"{r.RunId}: {r.Verdict} in {r.Duration.TotalSeconds:0.0}s; {r.Message?.Split('\n')[0]}");
        Assert.That(r.Verdict, Is.EqualTo(Verdict.Pass), r.Message);
        foreach (var stage in new[] { "commands", "guest-create.g1", "guest-prompt.g1", "guest-commands.g1", "guest-destroy.g1" })
            Assert.That(r.Stages.Single(s => s.Name == stage).Status, Is.EqualTo(StageStatus.Passed), stage);

        Assert.That(r.Provenance.Packages["xen_tools"], Does.StartWith("self-built 4.17.5"), "run.json names the toolstack's origin");
        Assert.That(r.Provenance.Packages["xen_tools_build"], Is.EqualTo(toolsBuild));
        Assert.That(r.Provenance.Packages["xen_tools_patches"], Does.Contain("xen-4.17-arm-pci-passthrough.patch"));

        var board = Path.Combine(r.RunDirectory!, r.Board);
        var console = await File.ReadAllTextAsync(Path.Combine(board, "console.log"));
        Assert.That(console, Does.Contain("FARM-XL: xenstored rc=0").And.Contain("FARM-XL: xenconsoled rc=0"), "the dom0 /init started the self-built daemons");
        var evidence = Path.Combine(board, "evidence");
        Assert.That(await File.ReadAllTextAsync(Path.Combine(evidence, "xl-info.txt")), Does.Contain("xen_version").And.Contain("4.17"));
        Assert.That(await File.ReadAllTextAsync(Path.Combine(evidence, "xl-list.txt")), Does.Contain("Domain-0"));
        var sums = await File.ReadAllTextAsync(Directory.GetFiles(evidence, "sha256sum*.txt").Single());
        TestContext.Out.WriteLine(sums);
        Assert.That(sums.Split('\n').Single(l => l.EndsWith("/usr/lib/xen-4.17/bin/xl", StringComparison.Ordinal)), Does.StartWith(xlSha12),
            "dom0's xl is the file the build made");
        await Recorded.AssertAsync(r, out_);
    }
}
