using Farm.Boards;
using Farm.Boards.Spec;
using Farm.Jobs.Spec;
using Farm.Serial;

namespace Farm.Jobs;

/// <summary>
/// Turns a job file and a lab into a <see cref="RunRequest"/>. Everything is validated here,
/// before any run directory exists: a bad file is a <see cref="ConfigurationException"/> (exit 2)
/// that names the file, line and field.
/// </summary>
internal static class RunRequests
{
    public static RunRequest Resolve(string jobPath, string? boardOverride, string labPath, string outDirectory)
    {
        var job = JobFile.Load(jobPath);
        var lab = LabFile.Load(labPath);
        var board = boardOverride is null ? lab.Resolve(job) : lab.Resolve(job with { BoardName = boardOverride, Tags = [] });
        return Create(job, board, RepoRoot(jobPath), outDirectory);
    }

    public static RunRequest Create(JobSpec job, BoardSpec board, string repoRoot, string outDirectory)
    {
        try
        {
            Farm.Checks.CheckSuite.Resolve(job.Checks);
        }
        catch (ConfigurationException e)
        {
            throw new ConfigurationException($"{job.PositionOf("checks")}: checks: {e.Message}", e.Evidence, e);
        }
        if (job.Guests.Count > 0 && board.Mode != BoardMode.Xen)
            throw new ConfigurationException($"{job.PositionOf("guests[0]")}: guests: board {board.Name} boots Linux natively; guests need a Xen board");
        return new RunRequest(job.Name, board.Config(), job.ArtifactDirectory(repoRoot), job.StageTimeouts,
            board.Mode == BoardMode.Xen ? job.Expect.XenBanner : null, job.Expect.Dom0Prompt, job.Commands, job.Checks,
            outDirectory, Path.GetFullPath(job.SourcePath), board.ExpectedPci, job.Boot,
            job.Boot == BootMode.Snapshot ? SnapshotDirectory(repoRoot) : null,
            CrashPatterns.Merge(board.CrashPatterns, job.CrashPatterns, $"job {job.Name}"), job.Guests);
    }

    /// <summary>Where a checkout keeps its saved QEMU boots (<c>boot: snapshot</c>).</summary>
    public static string SnapshotDirectory(string repoRoot) => Path.Combine(repoRoot, ".cache", "snapshots");

    /// <summary>The checkout a job file lives in (where <c>.cache/artifacts</c> is), else the working directory.</summary>
    public static string RepoRoot(string near)
    {
        for (var d = new DirectoryInfo(Path.GetDirectoryName(Path.GetFullPath(near))!); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Farm.sln"))) return d.FullName;
        return Directory.GetCurrentDirectory();
    }
}
