using System.Diagnostics;

namespace Farm.PowerControl;

/// <summary>What a power tool printed: exit code, stdout, stderr (line lists for evidence).</summary>
internal sealed record ToolOutput(int ExitCode, string StdOut, string StdErr)
{
    public IReadOnlyList<string> OutLines => StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public IReadOnlyList<string> ErrLines => StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The exchange as evidence: the command as shown (secrets masked), what it printed, its exit code.</summary>
    public IReadOnlyList<string> Evidence(string shown) => [shown, .. OutLines, .. ErrLines, $"exit {ExitCode}"];
}

/// <summary>
/// Runs a power tool (ipmitool, snmpset, a relay script) to completion without blocking a thread:
/// arguments as a list (no shell quoting), secrets through the environment, killed (with its
/// children) if it outlives <paramref name="timeout"/> or the caller cancels.
/// </summary>
internal static class PowerTool
{
    public static async Task<ToolOutput?> RunAsync(string exe, IEnumerable<string> args, IReadOnlyDictionary<string, string>? env, TimeSpan timeout, CancellationToken ct, string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = workingDirectory ?? "" };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        using var p = Process.Start(psi) ?? throw new InfrastructureException($"cannot start {exe}");
        var stdout = p.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = p.StandardError.ReadToEndAsync(CancellationToken.None);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(timeout);
        try
        {
            await p.WaitForExitAsync(limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            ct.ThrowIfCancellationRequested();
            return null;   // timed out
        }
        return new ToolOutput(p.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }
}
