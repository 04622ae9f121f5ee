using Farm.PowerControl;

namespace Farm.Build;

/// <summary>
/// <c>--source DIR --ref REF</c>: the tree of one commit of a git checkout (a branch, tag or sha),
/// exported with <c>git archive</c> into <c>.cache/xen-src/git-&lt;sha&gt;/</c>, so uncommitted
/// changes never leak into a build that says it is that commit.
/// </summary>
internal static class GitSource
{
    public static async Task<(string Tree, string Commit)> ExportAsync(string checkout, string reference, string cacheRoot, CancellationToken ct)
    {
        var rev = await GitAsync(checkout, ["rev-parse", "--verify", reference + "^{commit}"], ct).ConfigureAwait(false);
        if (rev.ExitCode != 0) throw new ConfigurationException($"--ref {reference}: not a commit of {checkout} ({rev.StdErr.Trim()})");
        var commit = rev.StdOut.Trim();
        var tree = Path.GetFullPath(Path.Combine(cacheRoot, "xen-src", "git-" + commit[..12]));
        if (Directory.Exists(tree)) return (tree, commit);
        var tar = Path.GetTempFileName();
        var staging = tree + ".partial";
        try
        {
            var archive = await GitAsync(checkout, ["archive", "--format=tar", "-o", tar, commit], ct).ConfigureAwait(false);
            if (archive.ExitCode != 0) throw new InfrastructureException($"git archive {commit} in {checkout} failed: {archive.StdErr.Trim()}");
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
            Directory.CreateDirectory(staging);
            await System.Formats.Tar.TarFile.ExtractToDirectoryAsync(tar, staging, overwriteFiles: true, ct).ConfigureAwait(false);
            Directory.Move(staging, tree);
            return (tree, commit);
        }
        finally
        {
            File.Delete(tar);
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    static async Task<ToolOutput> GitAsync(string checkout, string[] args, CancellationToken ct) =>
        await PowerTool.RunAsync("git", ["-C", checkout, .. args], null, TimeSpan.FromMinutes(5), ct).ConfigureAwait(false)
        ?? throw new InfrastructureException($"git {args[0]} in {checkout} timed out");
}
