using Farm.Web;

namespace Farm.Tests.Web;

/// <summary>A minted token must survive being passed as `--token VALUE` on Farm's own command line.</summary>
public class ApiTokenFormatTests
{
    [Test]
    public void NoTokenLooksLikeAnOption()
    {
        // The old base64url tokens began with '-' one time in 64; 4,000 of them all but surely held one.
        var tokens = Enumerable.Range(0, 4000).Select(_ => ApiTokens.NewToken()).ToList();
        Assert.That(tokens.Where(t => t.StartsWith('-')), Is.Empty);
        Assert.That(tokens, Is.All.Match(@"^farm_[A-Za-z0-9_-]{43}$"));
        Assert.That(tokens.Distinct().Count(), Is.EqualTo(tokens.Count));
    }
}
