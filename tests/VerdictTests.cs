namespace Farm.Tests;

internal class VerdictTests
{
    [TestCase(Verdict.Pass, 0)]
    [TestCase(Verdict.Fail, 1)]
    [TestCase(Verdict.Error, 2)]
    [TestCase(Verdict.Incomplete, 3)]
    public void ExitCodesFollowTheCliContract(Verdict v, int code) => Assert.That(v.ExitCode(), Is.EqualTo(code));

    [Test]
    public void WorstPrefersErrorOverIncompleteOverFail()
    {
        Assert.That(Verdict.Pass.Worst(Verdict.Fail), Is.EqualTo(Verdict.Fail));
        Assert.That(Verdict.Incomplete.Worst(Verdict.Fail), Is.EqualTo(Verdict.Incomplete));
        Assert.That(Verdict.Incomplete.Worst(Verdict.Error), Is.EqualTo(Verdict.Error));
    }
}
