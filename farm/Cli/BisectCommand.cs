using System.ComponentModel;
using System.Globalization;
using Farm.Bisect;
using Farm.Boards.Spec;
using Farm.Build;
using Farm.Deploy;
using Farm.Jobs;
using Farm.Jobs.Spec;
using Farm.Reports;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Farm.Cli;

/// <summary>
/// <c>farm bisect --source DIR --good REF --bad REF --job JOB [--check ID | --verdict]</c>: finds the
/// first commit of a Xen checkout that breaks a check (osstest's bisector, with flaky checks in
/// mind): reproduces the failure on the bad commit, then builds and runs candidates by binary search,
/// each until <see cref="BisectPolicy"/> can call it. Exit 0 with the first bad commit; 1 when no single
/// commit can be named (the failure does not reproduce, or only unbuildable commits are left); 2 bad
/// input; 3 the lab failed.
/// </summary>
internal sealed class BisectCommand : AsyncCommand<BisectCommand.Settings>
{
    public sealed class Settings : LabSettings
    {
        [CommandOption("--source <DIR>")]
        [Description("A git checkout of Xen (the commits between --good and --bad are built with farm build xen --ref).")]
        public string Source { get; init; } = "";

        [CommandOption("--good <REF>")]
        [Description("A commit where the check passes.")]
        public string Good { get; init; } = "";

        [CommandOption("--bad <REF>")]
        [Description("A later commit where it fails.")]
        public string Bad { get; init; } = "";

        [CommandOption("--job <JOB>")]
        [Description("The job to run on each candidate (its artifacts are replaced by the candidate's build).")]
        public string Job { get; init; } = "";

        [CommandOption("--check <ID>")]
        [Description("Bisect this check's verdict (pass = good, fail = bad, xfail/n/a = untestable).")]
        public string? Check { get; init; }

        [CommandOption("--verdict")]
        [Description("Bisect the run's verdict instead of one check (pass = good, fail = bad).")]
        public bool Verdict { get; init; }

        [CommandOption("--board <NAME>")]
        [Description("Run on this board only (default: every board that can run the job, the next one after an incomplete run).")]
        public string? Board { get; init; }

        [CommandOption("--flake-rate <Q>")]
        [Description("The least often a bad commit shows the failure, 0 < Q <= 1 (default 1: deterministic).")]
        public double FlakeRate { get; init; } = 1.0;

        [CommandOption("--confidence <C>")]
        [Description("How sure a good call must be, 0 < C < 1 (default 0.95).")]
        public double Confidence { get; init; } = 0.95;

        [CommandOption("--max-runs <N>")]
        [Description("Runs of one candidate at most (default 8).")]
        public int MaxRuns { get; init; } = 8;

        [CommandOption("--config <FRAGMENT>")]
        [Description("Kconfig fragment (default ci/xen/xen-vpci.config).")]
        public string Config { get; init; } = "ci/xen/xen-vpci.config";

        [CommandOption("--patch <FILE>")]
        [Description("Patches applied to every candidate (repeatable).")]
        public string[] Patches { get; init; } = [];

        [CommandOption("--artifacts-from <SET>")]
        [Description("Base artifact set whose kernel and initramfs boot each candidate (default bookworm).")]
        public string ArtifactsFrom { get; init; } = "bookworm";

        [CommandOption("--out <DIR>")]
        [Description("Where runs and the bisect record go (default artifacts/).")]
        public string Out { get; init; } = "artifacts";

        [CommandOption("--image <IMAGE>")]
        [Description($"Toolchain image (default {XenBuild.DefaultImage}).")]
        public string Image { get; init; } = XenBuild.DefaultImage;

        [CommandOption("--tools")]
        [Description("Build each candidate's toolstack from the same commit too (xl, libxl, xenstored, xenconsoled into dom0): for regressions on the tools side.")]
        public bool Tools { get; init; }

        [CommandOption("--engine <DOCKER_HOST>")]
        public string? Engine { get; init; }

        [CommandOption("--cache <DIR>")]
        [Description("Where sources and builds are kept (default .cache).")]
        public string Cache { get; init; } = ".cache";

        public override ValidationResult Validate() =>
            Source.Length == 0 || Good.Length == 0 || Bad.Length == 0 || Job.Length == 0 ? ValidationResult.Error("--source, --good, --bad and --job are all needed")
            : (Check is null) == !Verdict ? ValidationResult.Error("say what to bisect: --check ID or --verdict (one of them)")
            : ValidationResult.Success();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken ct)
    {
        var policy = new BisectPolicy { Confidence = s.Confidence, MinFailureRate = s.FlakeRate, MaxRuns = s.MaxRuns }.Validate();
        var criterion = new BisectCriterion(s.Check);
        // Everything that can be validated is, before the first build.
        var job = JobFile.Load(s.Job);
        if (s.Check is not null && !Farm.Checks.CheckSuite.Resolve(job.Checks).Any(c => c.Id == s.Check))
            throw new ConfigurationException($"--check {s.Check}: {s.Job} does not run it (its checks: {string.Join(", ", job.Checks)})");
        var lab = LabFile.Load(s.Lab);
        var boards = s.Board is not null ? [lab.Resolve(job with { BoardName = s.Board, Tags = [] })] : lab.Matching(job);
        if (boards.Count == 0) throw new ConfigurationException($"no board in {s.Lab} can run {s.Job}");
        var repo = RunRequests.RepoRoot(s.Job);
        var requests = boards.Select(b => RunRequests.Create(job, b, repo, s.Out)).ToList();
        var checkout = Path.GetFullPath(s.Source);
        var commits = await XenCandidateBuilder.HistoryAsync(checkout, s.Good, s.Bad, ct);
        var baseSet = ArtifactStore.Locate(s.ArtifactsFrom, Directory.GetCurrentDirectory());
        var template = new XenBuildRequest("", "", Path.GetFullPath(s.Config), s.Patches.Select(Path.GetFullPath).ToList(), s.Image,
            Path.GetFullPath(Path.Combine(s.Cache, "xen-builds")), baseSet) with { ToolsImage = s.Tools ? Farm.Build.XenTools.DefaultImage : null };

        var store = await RunSinks.OpenStoreAsync(s.Out, s.Store, ct);
        var bisects = await BisectStore.OpenAsync(RunSinks.BisectStorePath(s.Out, s.Store), ct);
        var time = FarmContext.Of(context).Time;
        var started = time.GetUtcNow();
        var id = $"{started.UtcDateTime:yyyyMMdd-HHmmss}-bisect-{Guid.NewGuid().ToString("N")[..6]}";
        var record = new BisectRecord(id, started, null, checkout, job.Name, criterion.ToString(), commits[0], commits[^1], "running", null, 0,
            $"{commits.Count - 1} commits to search", null);
        await bisects.SaveAsync(record, ct);

        var console = AnsiConsole.Console;
        var mode = policy.MinFailureRate >= 1 ? "deterministic"
            : $"flaky (a bad commit fails at least {policy.MinFailureRate:0.##} of runs): {policy.PassesNeeded} passes call a commit good";
        console.MarkupLineInterpolated($"bisect [bold]{id}[/]: {commits.Count - 1} commits after {Short(commits[0])} up to {Short(commits[^1])}, {criterion}, {mode}");
        using var docker = await DockerEngine.ConnectAsync(DockerEngine.Locate(s.Engine), ct);
        var builder = new XenCandidateBuilder(docker, checkout, template, Path.GetFullPath(s.Cache), _ => { }, time);
        var runner = new JobCandidateRunner(requests, RunSinks.Create(store), time);
        var bisector = new Bisector(builder, runner, policy, criterion);
        bisector.Progress += line => console.MarkupLineInterpolated($"[grey]{DateTime.Now:HH:mm:ss}[/] {line}");

        BisectOutcome outcome;
        try
        {
            outcome = await bisector.RunAsync(commits, ct);
        }
        catch (Exception e) when (e is FarmException or OperationCanceledException)
        {
            await bisects.SaveAsync(record with { Finished = time.GetUtcNow(), Status = "stopped", Conclusion = e.Message.Split('\n')[0] }, CancellationToken.None);
            throw;
        }
        var status = outcome.FirstBad is null ? "inconclusive" : "found";
        await bisects.SaveAsync(record with
        {
            Finished = time.GetUtcNow(), Status = status, FirstBad = outcome.FirstBad, Confidence = outcome.Confidence,
            Conclusion = outcome.Conclusion, Outcome = outcome,
        }, CancellationToken.None);
        var json = Path.Combine(s.Out, id + ".json");
        await File.WriteAllTextAsync(json, BisectStore.ToJson(outcome), CancellationToken.None);

        var table = new Table().AddColumns("#", "commit", "role", "build", "runs", "verdict");
        foreach (var st in outcome.Steps)
        {
            var build = st.Build.Failure is not null ? $"[red]does not build[/]" : st.Build.CacheHit ? "cache hit" : $"built in {st.Build.Seconds:0} s";
            var runs = string.Join("\n", st.Runs.Select(r => $"{r.RunId} {r.Observation.ToString().ToLowerInvariant()}"));
            var v = st.Verdict.State switch
            {
                CandidateState.Good => $"[green]good[/] ({st.Verdict.Confidence.ToString("0.###", CultureInfo.InvariantCulture)})",
                CandidateState.Bad => "[red]bad[/]",
                _ => "[yellow]skip[/]",
            };
            table.AddRow(st.Index.ToString(CultureInfo.InvariantCulture), Short(st.Commit), Markup.Escape(st.Role), build, Markup.Escape(runs), v + " " + Markup.Escape(st.Verdict.Reason));
        }
        console.Write(table);
        if (outcome.Unbuildable.Count > 0) console.MarkupLineInterpolated($"could not build (skipped): {string.Join(", ", outcome.Unbuildable.Select(Short))}");
        console.MarkupLineInterpolated($"[bold]{outcome.Conclusion}[/] after {outcome.BuildSteps} build steps -> {json}");
        return outcome.FirstBad is null ? 1 : 0;
    }

    static string Short(string c) => Bisector.Short(c);
}
