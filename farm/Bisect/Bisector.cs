using Farm.Checks;

namespace Farm.Bisect;

/// <summary>What decides good and bad: one check's verdict, or the run's verdict.</summary>
internal sealed record BisectCriterion(string? CheckId)
{
    public override string ToString() => CheckId is null ? "the run's verdict" : $"check {CheckId}";

    /// <summary>
    /// Reads one run. Incomplete runs say nothing about the commit. A run that ended <c>error</c> means
    /// the job or the lab is misconfigured, which no other commit will fix: the bisect stops.
    /// With a check, a failure elsewhere (the boot broke before the check ran) or an xfail/n/a of the
    /// check makes the commit untestable, like a commit that does not build: it is a different fault.
    /// </summary>
    public (Observation Observation, string Why) Judge(RunRecord run)
    {
        if (run.Verdict == Verdict.Incomplete) return (Observation.Incomplete, $"incomplete: {FirstLine(run.Message)}");
        if (run.Verdict == Verdict.Error) throw new ConfigurationException($"run {run.RunId} ended error, which no commit can fix: {FirstLine(run.Message)}");
        if (CheckId is null) return run.Verdict == Verdict.Pass ? (Observation.Good, "run passed") : (Observation.Bad, $"run failed: {FirstLine(run.Message)}");
        var check = run.Checks.FirstOrDefault(c => c.Id == CheckId);
        if (check is null)
        {
            if (run.Verdict == Verdict.Pass) throw new ConfigurationException($"the job does not run check {CheckId} (run {run.RunId} has no result for it)");
            return (Observation.Untestable, $"the run failed before {CheckId} was judged: {FirstLine(run.Message)}");
        }
        return check.Verdict switch
        {
            CheckVerdict.Pass => (Observation.Good, $"{CheckId} pass"),
            CheckVerdict.Fail => (Observation.Bad, $"{CheckId} fail: {check.Summary}"),
            _ => (Observation.Untestable, $"{CheckId} {check.Verdict.ToString().ToLowerInvariant()}: {check.Summary}"),
        };
    }

    static string FirstLine(string? s) => s is null ? "" : s.Split('\n')[0].Trim();
}

/// <summary>A built candidate (an artifact set that boots it), or why it could not be built.</summary>
internal sealed record CandidateBuild(string Commit, string? ArtifactSet, bool CacheHit, double Seconds, string? Failure);

/// <summary>Builds one commit; a compiler failure is returned as <see cref="CandidateBuild.Failure"/>, a lab failure thrown.</summary>
internal interface ICandidateBuilder
{
    Task<CandidateBuild> BuildAsync(string commit, CancellationToken ct);
}

/// <summary>Runs the bisect's job on a built candidate; <paramref name="attempt"/> lets a lab retry elsewhere.</summary>
internal interface ICandidateRunner
{
    Task<RunRecord> RunAsync(CandidateBuild build, int attempt, CancellationToken ct);
}

internal sealed record BisectRun(string RunId, string Board, Observation Observation, string Why);

/// <summary>One commit the bisect looked at: its build, its runs and what they made of it.</summary>
internal sealed record BisectStep(int Index, string Commit, string Role, CandidateBuild Build, IReadOnlyList<BisectRun> Runs, CandidateVerdict Verdict);

/// <summary>The answer, with everything behind it.</summary>
internal sealed record BisectOutcome(
    string Criterion, string Good, string Bad, IReadOnlyList<string> Commits, IReadOnlyList<BisectStep> Steps,
    string? FirstBad, IReadOnlyList<string> Suspects, double Confidence, string Conclusion)
{
    public int BuildSteps => Steps.Count;

    public IReadOnlyList<string> Unbuildable => Steps.Where(s => s.Build.Failure is not null).Select(s => s.Commit).ToList();
}

/// <summary>
/// The bisect loop: first reproduces the failure on the bad commit (a bisect of a failure that does
/// not reproduce would name a random commit), then narrows down with <see cref="BisectSearch"/>,
/// running each candidate until <see cref="BisectPolicy"/> can call it. Commits that do not build or
/// cannot be judged are skipped; lab failures are retried (the runner may pick another board).
/// </summary>
internal sealed class Bisector(ICandidateBuilder builder, ICandidateRunner runner, BisectPolicy policy, BisectCriterion criterion)
{
    public event Action<string>? Progress;

    public async Task<BisectOutcome> RunAsync(IReadOnlyList<string> commits, CancellationToken ct)
    {
        policy.Validate();
        var search = new BisectSearch(commits);
        var steps = new List<BisectStep>();
        double confidence = 1;

        var bad = await TestAsync(commits.Count - 1, commits[^1], "bad (reproduce)", ct).ConfigureAwait(false);
        steps.Add(bad);
        if (bad.Verdict.State != CandidateState.Bad)
        {
            var why = bad.Verdict.State == CandidateState.Good
                ? $"the bad commit does not reproduce the failure: {bad.Verdict.Reason}"
                : $"the bad commit cannot be tested: {bad.Verdict.Reason}{(bad.Build.Failure is null ? "" : $" ({bad.Build.Failure})")}";
            return new BisectOutcome(criterion.ToString(), commits[0], commits[^1], commits, steps, null, [], 0, why);
        }

        while (search.Next() is { } i)
        {
            var step = await TestAsync(i, commits[i], "candidate", ct).ConfigureAwait(false);
            steps.Add(step);
            search.Record(i, step.Verdict.State);
            if (step.Verdict.State == CandidateState.Good) confidence *= step.Verdict.Confidence;
        }
        var conclusion = search.FirstBad is { } first
            ? $"first bad commit: {first} (confidence {confidence:0.###})"
            : $"only skipped commits are left: the first bad commit is one of {string.Join(", ", search.Suspects.Select(Short))}";
        return new BisectOutcome(criterion.ToString(), commits[0], commits[^1], commits, steps, search.FirstBad,
            search.FirstBad is null ? search.Suspects : [], search.FirstBad is null ? 0 : confidence, conclusion);
    }

    async Task<BisectStep> TestAsync(int index, string commit, string role, CancellationToken ct)
    {
        Progress?.Invoke($"{role} {Short(commit)} [{index}]: building");
        var build = await builder.BuildAsync(commit, ct).ConfigureAwait(false);
        var runs = new List<BisectRun>();
        if (build.Failure is not null)
        {
            Progress?.Invoke($"{role} {Short(commit)}: does not build, skipped ({build.Failure})");
            return new BisectStep(index, commit, role, build, runs, new CandidateVerdict(CandidateState.Skip, 0, "does not build"));
        }
        var observations = new List<Observation>();
        int attempt = 0;
        while (true)
        {
            var verdict = policy.Judge(observations);
            if (verdict.State != CandidateState.Pending || observations.Count(o => o != Observation.Incomplete) >= policy.MaxRuns)
            {
                // Reached the run cap while still pending: good at the confidence its passes give.
                if (verdict.State == CandidateState.Pending)
                    verdict = new CandidateVerdict(CandidateState.Good, verdict.Confidence, $"passed {observations.Count(o => o == Observation.Good)} runs (max runs)");
                Progress?.Invoke($"{role} {Short(commit)}: {verdict.State.ToString().ToLowerInvariant()} ({verdict.Reason}{(verdict.State == CandidateState.Good ? $", confidence {verdict.Confidence:0.###}" : "")})");
                return new BisectStep(index, commit, role, build, runs, verdict);
            }
            var run = await runner.RunAsync(build, attempt++, ct).ConfigureAwait(false);
            var (observation, why) = criterion.Judge(run);
            observations.Add(observation);
            runs.Add(new BisectRun(run.RunId, run.Board, observation, why));
            Progress?.Invoke($"{role} {Short(commit)}: run {run.RunId} on {run.Board}: {observation.ToString().ToLowerInvariant()} ({why})");
        }
    }

    internal static string Short(string commit) => commit.Length > 12 ? commit[..12] : commit;
}
