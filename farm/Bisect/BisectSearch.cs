namespace Farm.Bisect;

/// <summary>What one run of a candidate said about the property being bisected.</summary>
internal enum Observation
{
    /// <summary>The property held (the check passed, or the run passed).</summary>
    Good,
    /// <summary>The property broke (the check failed, or the run failed).</summary>
    Bad,
    /// <summary>The candidate cannot be judged: it does not build, or it fails before the property is evaluated.</summary>
    Untestable,
    /// <summary>The lab failed (incomplete): says nothing about the candidate; try again, elsewhere if possible.</summary>
    Incomplete,
}

/// <summary>Where the observations of one candidate leave it.</summary>
internal enum CandidateState { Pending, Good, Bad, Skip }

/// <summary>The state of one candidate and how sure Farm is of it.</summary>
/// <param name="Confidence">For Good: the probability that a commit failing at the policy's minimum rate would have shown a failure by now. 1 for Bad (one failure proves it).</param>
internal sealed record CandidateVerdict(CandidateState State, double Confidence, string Reason);

/// <summary>
/// How a flaky property is judged. A bad commit is assumed to show the failure with probability at
/// least <see cref="MinFailureRate"/> per run (1: deterministic), and a good commit never to show it
/// (osstest's assumption: the basis pass reproduces). One failure therefore proves a commit bad;
/// a commit is called good after k passes, when (1 - q)^k, the chance that a bad commit would have
/// passed k times in a row, is below 1 - <see cref="Confidence"/>. <see cref="MaxRuns"/> caps k: a
/// commit that reaches it without a failure is good at the confidence it reached, which is reported.
/// </summary>
internal sealed record BisectPolicy
{
    public double Confidence { get; init; } = 0.95;
    public double MinFailureRate { get; init; } = 1.0;
    public int MaxRuns { get; init; } = 8;
    /// <summary>Incomplete (lab) runs tolerated per candidate before it is skipped as untestable here.</summary>
    public int MaxIncomplete { get; init; } = 2;

    public BisectPolicy Validate()
    {
        if (Confidence is <= 0 or >= 1) throw new ConfigurationException($"--confidence {Confidence}: must be between 0 and 1 (e.g. 0.95)");
        if (MinFailureRate is <= 0 or > 1) throw new ConfigurationException($"--flake-rate {MinFailureRate}: must be in (0, 1] (the least often a bad commit fails; 1 = always)");
        if (MaxRuns is < 1 or > 100) throw new ConfigurationException($"--max-runs {MaxRuns}: must be 1 to 100");
        if (MaxIncomplete is < 0 or > 10) throw new ConfigurationException($"max incomplete runs {MaxIncomplete}: must be 0 to 10");
        return this;
    }

    /// <summary>Passes in a row needed before a commit is called good: ⌈log(1-c) / log(1-q)⌉, at most <see cref="MaxRuns"/>.</summary>
    public int PassesNeeded => MinFailureRate >= 1 ? 1 : Math.Min(MaxRuns, Math.Max(1, (int)Math.Ceiling(Math.Log(1 - Confidence) / Math.Log(1 - MinFailureRate))));

    /// <summary>The confidence that k passes in a row give: 1 - (1-q)^k.</summary>
    public double ConfidenceAfter(int passes) => MinFailureRate >= 1 ? (passes > 0 ? 1 : 0) : 1 - Math.Pow(1 - MinFailureRate, passes);

    /// <summary>Judges one candidate from its observations so far (pure; the order of runs does not matter).</summary>
    public CandidateVerdict Judge(IReadOnlyList<Observation> runs)
    {
        int good = runs.Count(o => o == Observation.Good), bad = runs.Count(o => o == Observation.Bad);
        int untestable = runs.Count(o => o == Observation.Untestable), incomplete = runs.Count(o => o == Observation.Incomplete);
        if (bad > 0) return new(CandidateState.Bad, 1, good == 0 ? $"failed ({bad} of {bad + good} runs)" : $"failed in {bad} of {bad + good} runs: flaky, bad");
        if (untestable > 0) return new(CandidateState.Skip, 0, "untestable");
        if (good >= PassesNeeded) return new(CandidateState.Good, ConfidenceAfter(good), $"passed {good} of {good} runs");
        if (incomplete > MaxIncomplete) return new(CandidateState.Skip, 0, $"{incomplete} runs incomplete: the lab could not test it");
        return new(CandidateState.Pending, ConfidenceAfter(good), $"passed {good}, needs {PassesNeeded}");
    }
}

/// <summary>
/// Binary search for the first bad commit over a linear history, <c>git bisect</c>'s way, with
/// skips: <c>Commits[0]</c> is the known good commit and <c>Commits[^1]</c> the known bad one. The
/// search keeps the last index known good and the first known bad; the next candidate is the middle
/// of that interval, or the untested commit nearest to it when the middle was skipped. Pure: the
/// caller runs candidates and reports what they showed.
/// </summary>
internal sealed class BisectSearch
{
    readonly HashSet<int> _skipped = [];

    public BisectSearch(IReadOnlyList<string> commits)
    {
        if (commits.Count < 2) throw new ConfigurationException("bisect needs a good and a later bad commit");
        Commits = commits;
        Good = 0;
        Bad = commits.Count - 1;
    }

    /// <summary>Oldest first: the good commit, then every commit up to and including the bad one.</summary>
    public IReadOnlyList<string> Commits { get; }

    /// <summary>Index of the newest commit known good.</summary>
    public int Good { get; private set; }

    /// <summary>Index of the oldest commit known bad.</summary>
    public int Bad { get; private set; }

    public IReadOnlyCollection<int> Skipped => _skipped;

    /// <summary>Done when no untested commit is left between the newest good and the oldest bad.</summary>
    public bool Done => Next() is null;

    /// <summary>The first bad commit, when the search isolated one (no skipped commit before it in the interval).</summary>
    public string? FirstBad => Bad - Good == 1 ? Commits[Bad] : null;

    /// <summary>When skips leave it ambiguous: the commits that may be the first bad one (git bisect's "only skipped commits left").</summary>
    public IReadOnlyList<string> Suspects => Enumerable.Range(Good + 1, Bad - Good).Select(i => Commits[i]).ToList();

    /// <summary>The index of the commit to test next, or null when done.</summary>
    public int? Next()
    {
        if (Bad - Good <= 1) return null;
        int mid = Good + (Bad - Good) / 2;
        // The untested commit nearest the middle, trying the older side first at each distance.
        for (int d = 0; d < Bad - Good; d++)
        {
            foreach (var i in d == 0 ? [mid] : new[] { mid - d, mid + d })
                if (i > Good && i < Bad && !_skipped.Contains(i)) return i;
        }
        return null;
    }

    public void Record(int index, CandidateState state)
    {
        if (index <= Good || index >= Bad) throw new ArgumentOutOfRangeException(nameof(index), $"commit {index} is outside the open interval ({Good}, {Bad})");
        switch (state)
        {
            case CandidateState.Good: Good = index; break;
            case CandidateState.Bad: Bad = index; break;
            case CandidateState.Skip: _skipped.Add(index); break;
            default: throw new ArgumentException("a pending candidate has no result yet", nameof(state));
        }
    }
}
