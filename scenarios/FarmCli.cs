using System.Diagnostics;

namespace Farm.Scenarios;

/// <summary>Runs the farm executable of this build (beside the scenarios) in the checkout, to completion or a limit.</summary>
static class FarmCli
{
    public static string Path => System.IO.Path.Combine(AppContext.BaseDirectory, "farm");

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
