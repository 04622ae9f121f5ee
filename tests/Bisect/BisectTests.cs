using Farm.Bisect;
using Farm.Checks;

namespace Farm.Tests.Bisect;

public class BisectPolicyTests
{
    [TestCase(1.0, 0.95, 1)]
    [TestCase(0.5, 0.95, 5)]     // 0.5^5 = 0.031 < 0.05
    [TestCase(0.5, 0.90, 4)]     // 0.5^4 = 0.0625 < 0.1
    [TestCase(0.3, 0.90, 7)]     // 0.7^7 = 0.082
    [TestCase(0.1, 0.99, 8)]     // needs 44, capped by max-runs 8
    public void Passes_needed_follow_the_flake_rate_and_the_confidence(double q, double c, int expected) =>
        Assert.That(new BisectPolicy { MinFailureRate = q, Confidence = c }.PassesNeeded, Is.EqualTo(expected));

    static readonly BisectPolicy Flaky = new() { MinFailureRate = 0.5, Confidence = 0.95 };

    [Test]
    public void One_failure_among_passes_proves_a_flaky_commit_bad()
    {
        var v = Flaky.Judge([Observation.Good, Observation.Good, Observation.Bad]);
        Assert.That(v.State, Is.EqualTo(CandidateState.Bad));
        Assert.That(v.Reason, Does.Contain("1 of 3").And.Contain("flaky"));
    }

    [Test]
    public void A_flaky_commit_is_pending_until_enough_passes_then_good_at_the_confidence_they_give()
    {
        var obs = new List<Observation>();
        for (int i = 1; i < 5; i++)
        {
            obs.Add(Observation.Good);
            Assert.That(Flaky.Judge(obs).State, Is.EqualTo(CandidateState.Pending), $"after {i} passes");
        }
        obs.Add(Observation.Good);
        var v = Flaky.Judge(obs);
        Assert.That(v.State, Is.EqualTo(CandidateState.Good));
        Assert.That(v.Confidence, Is.EqualTo(1 - Math.Pow(0.5, 5)).Within(1e-12));
    }

    [Test]
    public void Incomplete_runs_say_nothing_until_too_many_then_the_commit_is_skipped()
    {
        var p = new BisectPolicy { MaxIncomplete = 2 };
        Assert.That(p.Judge([Observation.Incomplete, Observation.Incomplete]).State, Is.EqualTo(CandidateState.Pending));
        Assert.That(p.Judge([Observation.Incomplete, Observation.Incomplete, Observation.Good]).State, Is.EqualTo(CandidateState.Good));
        Assert.That(p.Judge([Observation.Incomplete, Observation.Incomplete, Observation.Incomplete]).State, Is.EqualTo(CandidateState.Skip));
    }

    [Test]
    public void An_untestable_run_skips_the_commit_but_a_failure_still_wins() // a failure is proof whatever else happened
    {
        Assert.That(Flaky.Judge([Observation.Untestable]).State, Is.EqualTo(CandidateState.Skip));
        Assert.That(Flaky.Judge([Observation.Untestable, Observation.Bad]).State, Is.EqualTo(CandidateState.Bad));
    }

    [TestCase(0.0)]
    [TestCase(1.5)]
    public void A_flake_rate_outside_0_to_1_is_bad_input(double q) =>
        Assert.That(() => new BisectPolicy { MinFailureRate = q }.Validate(), Throws.TypeOf<ConfigurationException>().With.Message.Contains("--flake-rate"));
}

public class BisectSearchTests
{
    static List<string> History(int n) => Enumerable.Range(0, n + 1).Select(i => $"c{i:00}").ToList();

    [Test]
    public void Every_position_of_the_first_bad_commit_among_16_is_found_in_at_most_4_candidates()
    {
        for (int firstBad = 1; firstBad <= 16; firstBad++)
        {
            var s = new BisectSearch(History(16));
            int tested = 0;
            while (s.Next() is { } i)
            {
                tested++;
                s.Record(i, i >= firstBad ? CandidateState.Bad : CandidateState.Good);
            }
            Assert.That(s.FirstBad, Is.EqualTo($"c{firstBad:00}"), $"first bad at {firstBad}");
            Assert.That(tested, Is.LessThanOrEqualTo(4), $"first bad at {firstBad}");
        }
    }

    [Test]
    public void A_skipped_middle_is_replaced_by_the_nearest_untested_commit()
    {
        var s = new BisectSearch(History(16));
        Assert.That(s.Next(), Is.EqualTo(8));
        s.Record(8, CandidateState.Skip);
        Assert.That(s.Next(), Is.EqualTo(7));
        s.Record(7, CandidateState.Skip);
        Assert.That(s.Next(), Is.EqualTo(9));
    }

    [Test]
    public void When_only_skipped_commits_separate_good_and_bad_the_suspects_are_named_not_guessed()
    {
        var s = new BisectSearch(History(4));         // c00 good .. c04 bad
        s.Record(2, CandidateState.Good);
        s.Record(3, CandidateState.Skip);
        Assert.That(s.Done, Is.True);
        Assert.That(s.FirstBad, Is.Null);
        Assert.That(s.Suspects, Is.EqualTo(new[] { "c03", "c04" }));
    }
}

public class BisectorTests
{
    sealed class FakeBuilder(Func<string, string?> failure) : ICandidateBuilder
    {
        public List<string> Built { get; } = [];

        public Task<CandidateBuild> BuildAsync(string commit, CancellationToken ct)
        {
            Built.Add(commit);
            return Task.FromResult(new CandidateBuild(commit, failure(commit) is null ? "/sets/" + commit : null, false, 1, failure(commit)));
        }
    }

    /// <summary>Runs on made-up verdict sequences: each call takes the next verdict the script gives for that commit.</summary>
    sealed class ScriptedRunner(Func<string, int, CheckVerdict?> verdict, string[]? boards = null) : ICandidateRunner
    {
        readonly Dictionary<string, int> _calls = [];

        public List<(string Commit, string Board)> Runs { get; } = [];

        public Task<RunRecord> RunAsync(CandidateBuild build, int attempt, CancellationToken ct)
        {
            int n = _calls[build.Commit] = _calls.GetValueOrDefault(build.Commit) + 1;
            var board = boards is null ? "b0" : boards[attempt % boards.Length];
            Runs.Add((build.Commit, board));
            var v = verdict(build.Commit, n);
            var record = v is null
                ? Record(build.Commit, n, board, Verdict.Incomplete, [], "stage 'dom0-prompt' timed out after 300s")
                : Record(build.Commit, n, board, v == CheckVerdict.Fail ? Verdict.Fail : Verdict.Pass,
                    [new CheckResult("ecam.x", "ecam", v.Value, CheckVerdict.Pass, "x", [], "src")], null);
            return Task.FromResult(record);
        }
    }

    static RunRecord Record(string commit, int n, string board, Verdict v, IReadOnlyList<CheckResult> checks, string? message) =>
        new($"run-{commit}-{n}", "job", board, v, DateTimeOffset.UnixEpoch, TimeSpan.Zero, [], checks,
            new Provenance(new Dictionary<string, string>(), new Dictionary<string, string>()), new Dictionary<string, double>(), null, message);

    static List<string> History(int n) => Enumerable.Range(0, n + 1).Select(i => $"c{i:00}").ToList();

    static int Index(string c) => int.Parse(c[1..], System.Globalization.CultureInfo.InvariantCulture);

    [Test]
    public async Task A_deterministic_break_among_16_commits_is_found_in_at_most_5_build_steps()
    {
        var builder = new FakeBuilder(_ => null);
        var runner = new ScriptedRunner((c, _) => Index(c) >= 11 ? CheckVerdict.Fail : CheckVerdict.Pass);
        var outcome = await new Bisector(builder, runner, new BisectPolicy(), new BisectCriterion("ecam.x")).RunAsync(History(16), default);
        Assert.That(outcome.FirstBad, Is.EqualTo("c11"));
        Assert.That(outcome.BuildSteps, Is.LessThanOrEqualTo((int)Math.Ceiling(Math.Log2(16)) + 1));
        Assert.That(outcome.Steps[0].Role, Does.StartWith("bad"), "the failure is reproduced on the bad commit first");
        Assert.That(outcome.Confidence, Is.EqualTo(1));
        Assert.That(outcome.Steps.SelectMany(s => s.Runs).Select(r => r.RunId), Has.All.StartsWith("run-"), "each step names its runs");
    }

    [Test]
    public async Task A_commit_that_does_not_build_is_skipped_and_reported()
    {
        var builder = new FakeBuilder(c => c == "c08" ? "the Xen build failed (exit 2): error: expected ';'" : null);
        var runner = new ScriptedRunner((c, _) => Index(c) >= 11 ? CheckVerdict.Fail : CheckVerdict.Pass);
        var outcome = await new Bisector(builder, runner, new BisectPolicy(), new BisectCriterion("ecam.x")).RunAsync(History(16), default);
        Assert.That(outcome.FirstBad, Is.EqualTo("c11"));
        Assert.That(outcome.Unbuildable, Is.EqualTo(new[] { "c08" }));
    }

    [Test]
    public async Task A_failure_that_does_not_reproduce_on_the_bad_commit_names_no_commit()
    {
        var outcome = await new Bisector(new FakeBuilder(_ => null), new ScriptedRunner((_, _) => CheckVerdict.Pass), new BisectPolicy(), new BisectCriterion("ecam.x"))
            .RunAsync(History(16), default);
        Assert.That(outcome.FirstBad, Is.Null);
        Assert.That(outcome.Conclusion, Does.Contain("does not reproduce"));
        Assert.That(outcome.Steps, Has.Count.EqualTo(1));
    }

    [Test]
    public async Task A_flaky_break_is_found_on_a_made_up_sequence_with_its_confidence()
    {
        // From c05 on, the check fails on every other run (first run passes): a naive one-run bisect would blame a later commit.
        var runner = new ScriptedRunner((c, n) => Index(c) >= 5 && n % 2 == 0 ? CheckVerdict.Fail : CheckVerdict.Pass);
        var policy = new BisectPolicy { MinFailureRate = 0.5, Confidence = 0.9 };
        var outcome = await new Bisector(new FakeBuilder(_ => null), runner, policy, new BisectCriterion("ecam.x")).RunAsync(History(16), default);
        Assert.That(outcome.FirstBad, Is.EqualTo("c05"));
        int goodSteps = outcome.Steps.Count(s => s.Verdict.State == CandidateState.Good);
        Assert.That(outcome.Confidence, Is.EqualTo(Math.Pow(1 - Math.Pow(0.5, 4), goodSteps)).Within(1e-9));
        Assert.That(outcome.Steps.Where(s => s.Verdict.State == CandidateState.Good).Select(s => s.Runs.Count), Has.All.EqualTo(4));
        Assert.That(outcome.Steps.Where(s => s.Verdict.State == CandidateState.Bad).Select(s => s.Runs.Count), Has.All.EqualTo(2), "bad as soon as it fails");
    }

    [Test]
    public async Task A_flaky_break_is_found_in_most_random_histories_and_never_claimed_with_false_certainty()
    {
        int right = 0, trials = 300;
        for (int seed = 0; seed < trials; seed++)
        {
            var rng = new Random(seed);
            int breaking = 1 + rng.Next(16);
            var runner = new ScriptedRunner((c, _) => Index(c) >= breaking && rng.NextDouble() < 0.5 ? CheckVerdict.Fail : CheckVerdict.Pass);
            var policy = new BisectPolicy { MinFailureRate = 0.5, Confidence = 0.95 };
            var outcome = await new Bisector(new FakeBuilder(_ => null), runner, policy, new BisectCriterion("ecam.x")).RunAsync(History(16), default);
            if (outcome.FirstBad == $"c{breaking:00}") right++;
            else if (outcome.FirstBad is not null) Assert.That(outcome.Confidence, Is.LessThan(1), $"seed {seed}: a wrong answer must not claim certainty");
        }
        // Each good call is wrong with probability <= 0.5^5 and at most 4 calls are made: >= 88 % right in theory.
        Assert.That(right, Is.GreaterThanOrEqualTo(trials * 85 / 100));
    }

    [Test]
    public async Task An_incomplete_run_is_retried_on_the_next_board_and_counts_for_nothing()
    {
        var runner = new ScriptedRunner((c, n) => c == "c16" && n == 1 ? null : Index(c) >= 3 ? CheckVerdict.Fail : CheckVerdict.Pass, ["b0", "b1"]);
        var outcome = await new Bisector(new FakeBuilder(_ => null), runner, new BisectPolicy(), new BisectCriterion("ecam.x")).RunAsync(History(16), default);
        Assert.That(outcome.FirstBad, Is.EqualTo("c03"));
        Assert.That(runner.Runs.Take(2), Is.EqualTo(new[] { ("c16", "b0"), ("c16", "b1") }));
        Assert.That(outcome.Steps[0].Runs[0].Observation, Is.EqualTo(Observation.Incomplete));
    }
}

public class BisectCriterionTests
{
    static RunRecord Run(Verdict v, params CheckResult[] checks) =>
        new("r1", "job", "b", v, DateTimeOffset.UnixEpoch, TimeSpan.Zero, [], checks,
            new Provenance(new Dictionary<string, string>(), new Dictionary<string, string>()), new Dictionary<string, double>(), null, "stage 'x': boom\nmore");

    static CheckResult Check(CheckVerdict v) => new("ecam.x", "ecam", v, CheckVerdict.Pass, "summary", [], "src");

    [Test]
    public void A_check_is_good_when_it_passes_bad_when_it_fails_and_untestable_otherwise()
    {
        var c = new BisectCriterion("ecam.x");
        Assert.That(c.Judge(Run(Verdict.Pass, Check(CheckVerdict.Pass))).Observation, Is.EqualTo(Observation.Good));
        Assert.That(c.Judge(Run(Verdict.Fail, Check(CheckVerdict.Fail))).Observation, Is.EqualTo(Observation.Bad));
        Assert.That(c.Judge(Run(Verdict.Pass, Check(CheckVerdict.XFail))).Observation, Is.EqualTo(Observation.Untestable));
        // The boot broke before the check was judged: a different fault than the one bisected.
        Assert.That(c.Judge(Run(Verdict.Fail)).Observation, Is.EqualTo(Observation.Untestable));
        Assert.That(c.Judge(Run(Verdict.Incomplete)).Observation, Is.EqualTo(Observation.Incomplete));
    }

    [Test]
    public void A_run_that_ended_error_stops_the_bisect_and_a_passing_run_without_the_check_is_bad_input()
    {
        var c = new BisectCriterion("ecam.x");
        Assert.That(() => c.Judge(Run(Verdict.Error)), Throws.TypeOf<ConfigurationException>().With.Message.Contains("no commit can fix"));
        Assert.That(() => c.Judge(Run(Verdict.Pass)), Throws.TypeOf<ConfigurationException>().With.Message.Contains("does not run check ecam.x"));
    }

    [Test]
    public void The_run_verdict_criterion_reads_pass_and_fail()
    {
        var c = new BisectCriterion(null);
        Assert.That(c.Judge(Run(Verdict.Pass)).Observation, Is.EqualTo(Observation.Good));
        Assert.That(c.Judge(Run(Verdict.Fail)).Observation, Is.EqualTo(Observation.Bad));
    }
}

public class NightlyTriggerTests
{
    const string Checkout = "/src/xen";

    static RunRecord Run(string id, int day, string? commit, CheckVerdict verdict, string source = "git:/src/xen@") =>
        new(id, "xen-vpci-smoke", "b", verdict == CheckVerdict.Fail ? Verdict.Fail : Verdict.Pass, DateTimeOffset.UnixEpoch.AddDays(day), TimeSpan.Zero, [],
            [new CheckResult("ecam.x", "ecam", verdict, CheckVerdict.Pass, "s", [], "src")],
            new Provenance(new Dictionary<string, string>(), commit is null ? new Dictionary<string, string>()
                : new Dictionary<string, string> { ["xen_build_source"] = source + commit, ["xen_build_commit"] = commit }),
            new Dictionary<string, double>());

    [Test]
    public void A_check_that_passed_on_the_last_build_and_fails_now_starts_a_bisect_between_the_two_commits()
    {
        var t = NightlyTrigger.Find(Run("r3", 3, "ccc", CheckVerdict.Fail), [Run("r1", 1, "aaa", CheckVerdict.Pass), Run("r2", 2, "bbb", CheckVerdict.Pass)], Checkout);
        Assert.That(t, Is.EqualTo(new BisectTrigger("xen-vpci-smoke", "ecam.x", "bbb", "ccc", "r2", "r3")));
    }

    [Test]
    public void No_bisect_when_the_check_already_failed_last_night_or_the_build_did_not_change_or_came_from_elsewhere()
    {
        Assert.That(NightlyTrigger.Find(Run("r3", 3, "ccc", CheckVerdict.Fail), [Run("r2", 2, "bbb", CheckVerdict.Fail), Run("r1", 1, "aaa", CheckVerdict.Pass)], Checkout), Is.Null,
            "the basis is the newest earlier build, as osstest's is");
        Assert.That(NightlyTrigger.Find(Run("r3", 3, "ccc", CheckVerdict.Fail), [Run("r2", 2, "ccc", CheckVerdict.Pass)], Checkout), Is.Null, "same commit: not a regression of the tree");
        Assert.That(NightlyTrigger.Find(Run("r3", 3, "ccc", CheckVerdict.Fail, "git:/other@"), [Run("r2", 2, "bbb", CheckVerdict.Pass, "git:/other@")], Checkout), Is.Null);
        Assert.That(NightlyTrigger.Find(Run("r3", 3, null, CheckVerdict.Fail), [Run("r2", 2, "bbb", CheckVerdict.Pass)], Checkout), Is.Null, "a packaged Xen has no commit");
        Assert.That(NightlyTrigger.Find(Run("r3", 3, "ccc", CheckVerdict.Pass), [Run("r2", 2, "bbb", CheckVerdict.Pass)], Checkout), Is.Null);
    }
}
