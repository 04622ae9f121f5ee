using System.Diagnostics;

namespace Farm.Scenarios;

/// <summary>Runs the farm executable in the checkout, to completion or a limit.</summary>
static class FarmCli
{
    /// <summary>
    /// The farm executable under test: FARM_CLI when set (ci/test.sh sets the published, Native AOT
    /// one that the nightly and ci/bench run), else this build's, beside the scenarios.
    /// </summary>
    public static string Path { get; } = Environment.GetEnvironmentVariable("FARM_CLI") is { Length: > 0 } cli
        ? System.IO.Path.GetFullPath(cli, ScenarioArtifacts.RepoRoot)
        : System.IO.Path.Combine(AppContext.BaseDirectory, "farm");

    public static async Task<(int Code, string StdOut, string StdErr)> RunAsync(string[] args, TimeSpan limit)
    {
        var psi = new ProcessStartInfo(Path, args) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = ScenarioArtifacts.RepoRoot };
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(limit);
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { p.Kill(entireProcessTree: true); throw; }
        return (p.ExitCode, await o, await e);
    }
}
