using Farm.Boards.Spec;
using Farm.Jobs;
using Farm.Jobs.Spec;

namespace Farm.Tests.Spec;

/// <summary>Every job and lab file the project ships loads, and every job finds its board: a typo in one is caught here, not by the nightly.</summary>
public class ShippedFilesTests
{
    static IEnumerable<string> Jobs() => Directory.GetFiles(Checkout.File("jobs"), "*.yaml").Order(StringComparer.Ordinal).Select(Path.GetFileName)!;

    [TestCaseSource(nameof(Jobs))]
    public void TheJobLoadsAndResolvesAgainstTheLab(string name)
    {
        var job = JobFile.Load(Checkout.File(Path.Combine("jobs", name)));
        var lab = LabFile.Load(Checkout.File("boards"));
        var board = lab.Resolve(job);
        Assert.That(RunRequests.Create(job, board, Checkout.Root, Path.GetTempPath()).JobName, Is.EqualTo(job.Name));
    }

    [Test]
    public void TheExampleBenchLoads() => Assert.That(LabFile.Load(Checkout.File("lab/example-bench.yaml")).Boards, Is.Not.Empty);
}
