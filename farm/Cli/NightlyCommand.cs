using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Serialization;
using Farm.Boards.Spec;
using Farm.Jobs;
using Farm.Jobs.Spec;
using Farm.Lab;
using Farm.Reports;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Farm.Cli;

/// <summary>
/// <c>farm nightly [job.yaml...] [--parallel N]</c>: the vPCI matrix on healthy boards, physical
/// boards held with job leases, incomplete runs retried once on another healthy board; writes
/// <c>&lt;out&gt;/nightly-&lt;time&gt;.json</c> (one result per target) and exits with the worst verdict.
/// </summary>
internal sealed class NightlyCommand : AsyncCommand<NightlyCommand.Settings>
{
    public sealed class Settings : LeaseSettings
    {
        [CommandArgument(0, "[job]")]
        [Description("Job files (default: jobs/native-smoke.yaml jobs/xen-smoke.yaml).")]
        public string[] Jobs { get; init; } = [];

        [CommandOption("--out <DIR>")]
        public string Out { get; init; } = "artifacts";

        [CommandOption("--parallel <N>")]
        public int? Parallel { get; init; }

        [CommandOption("--bisect-source <DIR>")]
        [Description("Off by default. A Xen checkout the nightly's Xen was built from (farm build xen --source DIR --ref): when a check flips from pass to fail between two builds of it, run farm bisect on the commits between.")]
        public string? BisectSource { get; init; }

        [CommandOption("--bisect-arg <ARG>")]
        [Description("Extra arguments for the bisects --bisect-source starts (repeatable, e.g. --bisect-arg=--patch --bisect-arg=FILE).")]
        public string[] BisectArgs { get; init; } = [];
    }


    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken ct)
    {
        var farm = FarmContext.Of(context);
        var files = s.Jobs.Length > 0 ? s.Jobs : ["jobs/native-smoke.yaml", "jobs/xen-smoke.yaml"];
        var jobs = files.Select(f => (File: f, Spec: JobFile.Load(f))).ToList();
        var lab = LabFile.Load(s.Lab);
        var matching = jobs.ToDictionary(j => j.File, j => lab.Matching(j.Spec));
        var store = await RunSinks.OpenStoreAsync(s.Out, s.RunStore, ct);
        var health = await LabHealth.EvaluateAsync(matching.Values.SelectMany(b => b).Select(b => b.Name), store, s, farm.Time, ct);
        bool physical = lab.Boards.Any(b => b.Hardware.Physical);
        // QEMU boards are templates (each run is its own QEMU): only physical boards are leased.
        var leases = physical ? await s.OpenAsync(farm.Time, ct) : null;
        var sinks = RunSinks.Create(store);
        var console = AnsiConsole.Console;
        var nightly = new Nightly(leases, $"nightly@{Environment.MachineName}", TimeSpan.FromHours(2));
        var targets = await nightly.RunAsync(jobs, j => j.Spec.Name,
            j => matching[j.File].Where(b => health[b.Name].Health == Farm.Lab.Scheduling.BoardHealth.Healthy).Select(b => b.Name).ToList(),
            async (j, board, token) =>
            {
                var request = RunRequests.Create(j.Spec with { BoardName = board, Tags = [] }, lab.Find(board)!, RunRequests.RepoRoot(j.File), s.Out);
                console.MarkupLine($"[grey]{DateTime.Now:HH:mm:ss}[/] {Markup.Escape(j.Spec.Name)} on {Markup.Escape(board)}");
                var r = await farm.Runner(sinks).RunAsync(request, token);
                console.MarkupLine($"[grey]{DateTime.Now:HH:mm:ss}[/] {Markup.Escape(j.Spec.Name)} on {Markup.Escape(board)}: {ReportCommand.VerdictMarkup(r.Verdict)} ({r.RunId})");
                return r;
            }, s.Parallel ?? RunCommand.DefaultParallelism, ct);

        var table = new Table().AddColumns("target", "board", "verdict", "runs", "note");
        foreach (var t in targets)
            table.AddRow(Markup.Escape(t.Job), Markup.Escape(t.Board ?? "-"), ReportCommand.VerdictMarkup(t.Verdict), Markup.Escape(string.Join(" ", t.RunIds)), Markup.Escape(t.Note));
        console.Write(table);
        Directory.CreateDirectory(s.Out);
        var path = Path.Combine(s.Out, $"nightly-{DateTime.UtcNow:yyyyMMdd-HHmmss}.json");
        await File.WriteAllTextAsync(path, JsonSerializer.Serialize(new NightlySummary(DateTimeOffset.UtcNow, targets), NightlyJsonContext.Default.NightlySummary), ct);
        console.MarkupLine($"nightly -> {Markup.Escape(path)}");
        if (s.BisectSource is not null) await BisectFlipsAsync(s, jobs.Select(j => j.File).ToList(), targets, store, ct);
        return targets.Select(t => t.Verdict).Aggregate(Verdict.Pass, (a, b) => a.Worst(b)).ExitCode();
    }

    /// <summary>For each target whose latest run flipped a check since the last build of the same checkout, a farm bisect (a child process, recorded like any).</summary>
    static async Task BisectFlipsAsync(Settings s, IReadOnlyList<string> files, IReadOnlyList<NightlyTarget> targets, IRunStore store, CancellationToken ct)
    {
        for (int i = 0; i < targets.Count; i++)
        {
            if (targets[i].RunIds.Count == 0 || await store.GetAsync(targets[i].RunIds[^1], ct) is not { } latest) continue;
            var history = await store.SearchAsync(null, latest.Job, null, 50, ct);
            if (Farm.Bisect.NightlyTrigger.Find(latest, history, s.BisectSource!) is not { } t) continue;
            AnsiConsole.MarkupLineInterpolated($"[yellow]{t.Job}: {t.CheckId} passed in {t.GoodRun} and fails in {t.BadRun}: bisecting {t.GoodCommit[..12]}..{t.BadCommit[..12]}[/]");
            var psi = new System.Diagnostics.ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false };
            foreach (var a in (string[])["bisect", "--source", s.BisectSource!, "--good", t.GoodCommit, "--bad", t.BadCommit, "--job", files[i],
                         "--check", t.CheckId, "--lab", s.Lab, "--out", s.Out, .. s.BisectArgs]) psi.ArgumentList.Add(a);
            using var p = System.Diagnostics.Process.Start(psi)!;
            try
            {
                await p.WaitForExitAsync(ct);
            }
            catch (OperationCanceledException)
            {
                p.Kill(entireProcessTree: true);   // a cancelled nightly leaves no bisect behind
                throw;
            }
        }
    }
}

/// <summary>nightly-*.json: when the nightly started and each target's verdict and runs.</summary>
internal sealed record NightlySummary(DateTimeOffset Started, IReadOnlyList<NightlyTarget> Targets);

// Verdicts by their wire names ("pass", "incomplete"), as in run.json.
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true, UseStringEnumConverter = true)]
[JsonSerializable(typeof(NightlySummary))]
internal sealed partial class NightlyJsonContext : JsonSerializerContext;
