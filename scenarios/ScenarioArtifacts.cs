namespace Farm.Scenarios;

/// <summary>Where scenarios find the artifact set built by ci/artifacts.sh, and where they write.</summary>
static class ScenarioArtifacts
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Directory =>
        Environment.GetEnvironmentVariable("FARM_ARTIFACTS") is { Length: > 0 } d ? d
        : Path.Combine(RepoRoot, ".cache", "artifacts", "bookworm");

    public static string NewRunDirectory()
    {
        var d = Path.Combine(RepoRoot, "artifacts", "scenarios", TestContext.CurrentContext.Test.Name + "-" + Guid.NewGuid().ToString("N")[..8]);
        System.IO.Directory.CreateDirectory(d);
        return d;
    }

    static string FindRepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Farm.sln"))) return d.FullName;
        throw new InvalidOperationException("Farm.sln not found above " + AppContext.BaseDirectory);
    }
}
