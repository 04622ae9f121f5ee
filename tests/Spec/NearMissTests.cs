using Farm.Spec;

namespace Farm.Tests.Spec;

public class NearMissTests
{
    static readonly string[] Keys = ["timeouts", "dom0-prompt", "memory-mb", "board"];

    [TestCase("timeout", "timeouts")]
    [TestCase("dom0_prompt", "dom0-prompt")]
    [TestCase("memory_mb", "memory-mb")]
    [TestCase("bord", "board")]
    [TestCase("commandz", null)]
    [TestCase("x", null)]
    public void SuggestsKeysWithinTwoEdits(string typed, string? expected) =>
        Assert.That(NearMiss.Suggest(typed, Keys), Is.EqualTo(expected));

    [TestCase("kitten", "sitting", 3)]
    [TestCase("", "abc", 3)]
    [TestCase("same", "same", 0)]
    public void Distance(string a, string b, int d) => Assert.That(NearMiss.Distance(a, b), Is.EqualTo(d));
}
