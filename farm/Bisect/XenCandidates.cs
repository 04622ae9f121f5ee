using Docker.DotNet;
using Farm.Build;
using Farm.Jobs;
using Farm.PowerControl;

namespace Farm.Bisect;

/// <summary>
/// Builds a commit of a Xen checkout as <c>farm build xen --source DIR --ref COMMIT</c> does, with
/// the bisect's fragment, patches and base artifact set: the tree of exactly that commit (git
/// archive), cached by content, so a commit built before (by a nightly or an earlier bisect) is a
/// cache hit. A compiler failure makes the commit untestable (skipped); anything else propagates.
/// </summary>
internal sealed class XenCandidateBuilder(DockerClient docker, string checkout, XenBuildRequest template, string cacheRoot, Action<string> log, TimeProvider time)
    : ICandidateBuilder
{
    public async Task<CandidateBuild> BuildAsync(string commit, CancellationToken ct)
    {
        var (tree, sha) = await GitSource.ExportAsync(checkout, commit, cacheRoot, ct).ConfigureAwait(false);
        var request = template with { Source = tree, SourceDescription = $"git:{checkout}@{sha}", Commit = sha };
        long t0 = time.GetTimestamp();
        try
        {
            var result = await XenBuild.RunAsync(docker, request, log, time, ct).ConfigureAwait(false);
            if (result.ArtifactSet is null) throw new ConfigurationException("bisect needs --artifacts-from: a base set whose kernel and initramfs boot each candidate");
            return new CandidateBuild(sha, result.ArtifactSet, result.CacheHit, time.GetElapsedTime(t0).TotalSeconds, null);
        }
        catch (CheckFailedException e)
        {
            // The tree's own fault (it does not compile): git bisect skip.
            var last = e.Evidence.LastOrDefault(l => l.Contains("error", StringComparison.OrdinalIgnoreCase)) ?? e.Evidence.LastOrDefault();
            return new CandidateBuild(sha, null, false, time.GetElapsedTime(t0).TotalSeconds, last is null ? e.Message : $"{e.Message}: {last.Trim()}");
        }
    }

    /// <summary>The commits from <paramref name="good"/> to <paramref name="bad"/>, oldest first, along the first-parent line.</summary>
    public static async Task<IReadOnlyList<string>> HistoryAsync(string checkout, string good, string bad, CancellationToken ct)
    {
        async Task<string> Rev(string r)
        {
            var o = await GitAsync(checkout, ["rev-parse", "--verify", r + "^{commit}"], ct).ConfigureAwait(false);
            if (o.ExitCode != 0) throw new ConfigurationException($"{r}: not a commit of {checkout} ({o.StdErr.Trim()})");
            return o.StdOut.Trim();
        }
        var g = await Rev(good);
        var b = await Rev(bad);
        var ancestor = await GitAsync(checkout, ["merge-base", "--is-ancestor", g, b], ct).ConfigureAwait(false);
        if (ancestor.ExitCode != 0) throw new ConfigurationException($"--good {good} is not an ancestor of --bad {bad}");
        var list = await GitAsync(checkout, ["rev-list", "--first-parent", "--reverse", $"{g}..{b}"], ct).ConfigureAwait(false);
        if (list.ExitCode != 0) throw new InfrastructureException($"git rev-list in {checkout} failed: {list.StdErr.Trim()}");
        var commits = list.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        if (commits.Count == 0) throw new ConfigurationException($"--good {good} and --bad {bad} are the same commit");
        if (commits.Count > 10_000) throw new ConfigurationException($"{commits.Count} commits between --good and --bad: narrow the range (at most 10000)");
        return [g, .. commits];
    }

    static async Task<ToolOutput> GitAsync(string checkout, string[] args, CancellationToken ct) =>
        await PowerTool.RunAsync("git", ["-C", checkout, .. args], null, TimeSpan.FromMinutes(2), ct).ConfigureAwait(false)
        ?? throw new InfrastructureException($"git {args[0]} in {checkout} timed out");
}

/// <summary>
/// Runs the bisect's job on a candidate's artifact set like <c>farm run</c> (recorded in the run
/// store with every other run), on the job's boards in turn: a run that ended incomplete is retried
/// on the next board that can run the job, as the nightly does.
/// </summary>
internal sealed class JobCandidateRunner(IReadOnlyList<RunRequest> boards, IReadOnlyList<IRunSink> sinks, TimeProvider time, Action<Stage, StageRecord>? stageFinished = null)
    : ICandidateRunner
{
    public async Task<RunRecord> RunAsync(CandidateBuild build, int attempt, CancellationToken ct)
    {
        if (build.ArtifactSet is null) throw new ArgumentException("an unbuilt candidate cannot run", nameof(build));
        var request = boards[attempt % boards.Count] with { ArtifactDirectory = build.ArtifactSet };
        var runner = new JobRunner(time, sinks);
        if (stageFinished is not null) runner.StageFinished += stageFinished;
        return await runner.RunAsync(request, ct).ConfigureAwait(false);
    }
}
