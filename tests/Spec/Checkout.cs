namespace Farm.Tests.Spec;

/// <summary>The repository the tests run from, so they can load the example jobs/ and boards/ files.</summary>
static class Checkout
{
    public static string Root { get; } = FindRoot();

    public static string File(string relative) => Path.Combine(Root, relative);

    static string FindRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
            if (System.IO.File.Exists(Path.Combine(dir.FullName, "Farm.sln"))) return dir.FullName;
        throw new InvalidOperationException("Farm.sln not found above the test directory");
    }
}
