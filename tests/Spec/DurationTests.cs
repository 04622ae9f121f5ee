using Farm.Spec;

namespace Farm.Tests.Spec;

public class DurationTests
{
    [TestCase("90s", 90_000)]
    [TestCase("5m", 300_000)]
    [TestCase("1h30m", 5_400_000)]
    [TestCase("1h", 3_600_000)]
    [TestCase("2m30s", 150_000)]
    [TestCase("1m500ms", 60_500)]
    [TestCase("500ms", 500)]
    [TestCase("90", 90_000)]
    [TestCase("1", 1_000)]
    public void ParsesTheSpellingsJobFilesUse(string text, long milliseconds)
    {
        Assert.That(Duration.TryParse(text, out var value), Is.True);
        Assert.That(value, Is.EqualTo(TimeSpan.FromMilliseconds(milliseconds)));
    }

    [TestCase("")]
    [TestCase("5 minutes")]
    [TestCase("5min")]
    [TestCase("PT5M")]
    [TestCase("00:05:00")]
    [TestCase("1.5s")]
    [TestCase("-5s")]
    [TestCase("30m1h")]
    [TestCase("5s5s")]
    [TestCase("0")]
    [TestCase("0s")]
    [TestCase("99999999999999999999s")]
    public void RefusesAnythingElse(string text) => Assert.That(Duration.TryParse(text, out _), Is.False);

    [TestCase(90_000, "1m30s")]
    [TestCase(5_400_000, "1h30m")]
    [TestCase(500, "500ms")]
    [TestCase(1_800_000, "30m")]
    public void FormatsTheShortestSpellingThatParsesBack(long milliseconds, string text)
    {
        var value = TimeSpan.FromMilliseconds(milliseconds);
        Assert.That(Duration.Format(value), Is.EqualTo(text));
        Assert.That(Duration.Parse(text), Is.EqualTo(value));
    }
}
