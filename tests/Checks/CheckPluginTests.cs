using Farm.Checks;
using Farm.Jobs.Spec;
using Farm.Reports;
using Farm.Tests.Reports;

namespace Farm.Tests.Checks;

/// <summary>
/// The check extension point is real (issue 19): a check written here, in the test project, joins
/// the suite through <see cref="CheckSuite.Register"/> alone. A job file names it, the runner gates
/// it on its needs, it passes and fails on evidence, and the matrix shows it; disposed, it is gone.
/// </summary>
public class CheckPluginTests
{
    /// <summary>What a new check's one file holds: its identity, the source it cites, its needs and its judgement.</summary>
    sealed class Dom0Listed : Check
    {
        public override string Id => "plugin.dom0-listed";
        public override string Group => "plugin";
        public override string Title => "xl list shows Domain-0";
        public override string Source => "tools/xl/xl_list.c (\"Name                                        ID   Mem VCPUs\\tState\\tTime(s)\"), tools/helpers/init-xenstore-domain.c (\"Domain-0\")";
        public override IReadOnlyList<Need> Needs => [Need.Xen];

        public override Finding Evaluate(Target t)
        {
            if (t.Bundle.Output("xl list") is not { } list) return Finding.NotApplicable("the job did not run xl list");
            var dom0 = list.Split('\n').FirstOrDefault(l => l.StartsWith("Domain-0 ", StringComparison.Ordinal));
            return dom0 is null ? Finding.Fail("xl list does not show Domain-0", list.Split('\n').Take(3)) : Finding.Pass("dom0 is listed", dom0);
        }
    }

    const string XlList = "Name                                        ID   Mem VCPUs\tState\tTime(s)\nDomain-0                                     0   512     2     r-----      12.3\n";

    static CheckResult Judge(string console, string? xlList) =>
        CheckRunner.Run(new Target(new EvidenceBundle("t", console, xlList is null ? [] : new Dictionary<string, string> { ["xl list"] = xlList })),
            CheckSuite.Resolve(["plugin.dom0-listed"])).Single();

    [Test]
    public void ARegisteredCheckIsNamedByAJobFileAndJudgedOnEvidence()
    {
        using var _ = CheckSuite.Register(new Dom0Listed());
        var job = JobFile.Parse("name: plugin\nboard: qemu-xen\nartifacts: bookworm\nexpect: {dom0-prompt: 'root@farm:~# '}\nchecks: [plugin.dom0-listed, lifecycle]\n", "jobs/plugin.yaml");
        Assert.That(CheckSuite.Resolve(job.Checks).Select(c => c.Id), Does.Contain("plugin.dom0-listed").And.Contain("lifecycle.no-xen-crash"));
        Assert.That(CheckSuite.Resolve(["vpci"]).Select(c => c.Id), Does.Contain("plugin.dom0-listed"), "vpci means every check");
        Assert.That(CheckSuite.Groups, Does.Contain("plugin"));

        var xen = Logs.Shared("xen-4.17-bookworm.serial.log");
        var pass = Judge(xen, XlList);
        Assert.That((pass.Verdict, pass.Group), Is.EqualTo((CheckVerdict.Pass, "plugin")));
        Assert.That(pass.Evidence, Has.Some.StartsWith("Domain-0 "));
        Assert.That(pass.Source, Does.Contain("xl_list.c"));

        // Deliberately broken input: the same check fails, with the lines it read.
        var fail = Judge(xen, "Name                                        ID   Mem VCPUs\tState\tTime(s)\n");
        Assert.That(fail.Verdict, Is.EqualTo(CheckVerdict.Fail));
        Assert.That(fail.Summary, Does.Contain("xl list does not show Domain-0"));
        Assert.That(fail.Evidence, Has.Some.StartsWith("Name "));

        // Gated like Farm's own: on native Linux it needs Xen, so it is never evaluated.
        var native = Judge(Logs.Shared("native-bookworm.serial.log"), XlList);
        Assert.That(native.Verdict, Is.EqualTo(CheckVerdict.NotApplicable));
    }

    [Test]
    public void TheMatrixShowsARegisteredChecksRow()
    {
        using var _ = CheckSuite.Register(new Dom0Listed());
        var result = Judge(Logs.Shared("xen-4.17-bookworm.serial.log"), XlList);
        var md = CheckMatrix.Markdown([Runs.Sample("/nonexistent") with { Checks = [result] }]);
        Assert.That(md, Does.Contain("plugin.dom0-listed"));
    }

    [Test]
    public void ADisposedRegistrationLeavesTheSuiteAsItWas()
    {
        var before = CheckSuite.All.Select(c => c.Id).ToList();
        using (CheckSuite.Register(new Dom0Listed()))
            Assert.That(CheckSuite.All, Has.Count.EqualTo(before.Count + 1));
        Assert.That(CheckSuite.All.Select(c => c.Id), Is.EqualTo(before));
        var e = Assert.Throws<ConfigurationException>(() => CheckSuite.Resolve(["plugin.dom0-listed"]))!;
        Assert.That(e.Message, Does.StartWith("unknown check or group 'plugin.dom0-listed'"));
    }

    sealed class Named(string id, string group, string source) : Check
    {
        public override string Id => id;
        public override string Group => group;
        public override string Title => "a check";
        public override string Source => source;
        public override Finding Evaluate(Target t) => Finding.Pass("always");
    }

    [TestCase("lifecycle.no-xen-crash", "plugin", "x.c", "is taken already")]
    [TestCase("ecam", "plugin", "x.c", "is taken already")]
    [TestCase("vpci", "plugin", "x.c", "is taken already")]
    [TestCase("plugin.uncited", "plugin", "", "has no source")]
    [TestCase("", "plugin", "x.c", "has no id")]
    public void ACheckThatCollidesOrCitesNothingIsRefusedAtRegistration(string id, string group, string source, string why)
    {
        var e = Assert.Throws<ArgumentException>(() => CheckSuite.Register(new Named(id, group, source)))!;
        Assert.That(e.Message, Does.Contain(why));
        Assert.That(CheckSuite.All.Select(c => c.Id), Does.Not.Contain("plugin.uncited"));
    }
}
