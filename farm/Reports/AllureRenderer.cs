
namespace Farm.Reports;

/// <summary>
/// Renders allure-results/ directories to an HTML report with the npm <c>allure</c> CLI (v3),
/// installed by <c>ci/setup-allure.sh</c> into <c>.cache/node</c>, or taken from <c>FARM_ALLURE</c>
/// or PATH.
/// </summary>
internal static class AllureRenderer
{
    public const string SetupHint = "install it with: ci/setup-allure.sh (or set FARM_ALLURE to the allure CLI)";

    public static string? FindCli()
    {
        if (Environment.GetEnvironmentVariable("FARM_ALLURE") is { Length: > 0 } env) return env;
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            {
                var candidate = Path.Combine(d.FullName, ".cache", "node", "node_modules", ".bin", "allure");
                if (File.Exists(candidate)) return candidate;
            }
        return (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => Path.Combine(p, "allure")).FirstOrDefault(File.Exists);
    }

    /// <summary>Generates <paramref name="output"/>/index.html from the results directories; returns the index path.</summary>
    public static async Task<string> RenderAsync(IReadOnlyList<string> resultDirectories, string output, string reportName, CancellationToken ct)
    {
        var cli = FindCli() ?? throw new ConfigurationException($"the allure CLI was not found; {SetupHint}");
        var dirs = resultDirectories.Where(Directory.Exists).ToList();
        if (dirs.Count == 0) throw new ConfigurationException("no allure-results directories to render (did the runs finish?)", resultDirectories);
        Directory.CreateDirectory(output);
        var log = Path.Combine(output, "..", Path.GetFileName(Path.GetFullPath(output)) + ".allure.log");
        await using var p = SupervisedProcess.Start(cli, ["generate", .. dirs, "--output", Path.GetFullPath(output), "--name", reportName], log);
        try
        {
            await p.WaitForExitAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            if (!p.HasExited) await p.KillAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }
        var index = Path.Combine(output, "index.html");
        if (p.ExitCode != 0 || !File.Exists(index))
            throw new InfrastructureException($"allure generate exited with {p.ExitCode} and wrote no {index}", p.OutputTail(20));
        return index;
    }
}
