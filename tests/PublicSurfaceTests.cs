namespace Farm.Tests;

/// <summary>Issue 19: Farm is one executable, so nothing in it is public; the tests and scenarios
/// see its types through InternalsVisibleTo. A type made public again fails here by name.</summary>
public class PublicSurfaceTests
{
    [Test]
    public void TheFarmAssemblyExportsNoType()
    {
        var exported = typeof(Verdict).Assembly.GetExportedTypes().Select(t => t.FullName).Order().ToList();
        Assert.That(exported, Is.Empty, "public types in farm/ (make them internal): " + string.Join(", ", exported));
    }
}
