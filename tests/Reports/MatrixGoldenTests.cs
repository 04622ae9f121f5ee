using System.Text.Json;
using Farm.Checks;
using Farm.Reports;

namespace Farm.Tests.Reports;

/// <summary>
/// matrix.md of runs without guests is what it was before guests existed: the recorded self-built
/// Xen run (tests/Golden/runs/xen-4.17-selfbuilt-vpci) with the check results recorded for it, beside the sample
/// run, renders byte for byte as the committed matrix.md. Set FARM_UPDATE_GOLDEN=1 to rewrite it.
/// </summary>
public class MatrixGoldenTests
{
    static string GoldenPath => Path.Combine(Dir, "matrix.md");

    static string Dir => Path.Combine(Spec.Checkout.Root, "tests", "Golden", "runs", "xen-4.17-selfbuilt-vpci");

    /// <summary>The recorded run with the check results it was given before guests existed (checks.golden.json), as an old run.json holds them.</summary>
    internal static RunRecord SelfBuiltRun()
    {
        var sample = Runs.Sample("/nonexistent");
        var checks = JsonSerializer.Deserialize<IReadOnlyList<CheckResult>>(File.ReadAllText(Path.Combine(Dir, "checks.golden.json")), RunJsonSink.Options)!;
        return sample with
        {
            RunId = "20261201-000000-xen-vpci-smoke-golden", Job = "xen-vpci-smoke", Board = "qemu-xen-selfbuilt", Verdict = Verdict.Pass,
            Checks = checks,
            Provenance = new Provenance(new Dictionary<string, string>(), new Dictionary<string, string> { ["xen_build"] = "4.17.5" }, null, "4.17.5", "6.1.0-56-arm64"),
        };
    }

    [Test]
    public void RunsWithoutGuestsRenderTheCommittedMatrix()
    {
        var md = CheckMatrix.Markdown([SelfBuiltRun(), Runs.Sample("/nonexistent")]);
        if (Environment.GetEnvironmentVariable("FARM_UPDATE_GOLDEN") == "1") File.WriteAllText(GoldenPath, md);
        Assert.That(md, Is.EqualTo(File.ReadAllText(GoldenPath)));
        Assert.That(md, Does.Not.Contain("| **guest "), "no guest row group without guests");
    }
}
