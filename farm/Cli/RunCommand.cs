using System.ComponentModel;
using Farm.Jobs;
using Farm.Reports;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Farm.Cli;

/// <summary>
/// <c>farm run &lt;job.yaml&gt;... [--board NAME] [--out DIR] [--parallel N]</c>: runs each job on its
/// own QEMU instance (own ports, sockets and run directory), at most N at once; exit code = the worst verdict (0/1/2/3).
/// </summary>
internal sealed class RunCommand : AsyncCommand<RunCommand.Settings>
{
    public sealed class Settings : LeaseSettings
    {
        [CommandArgument(0, "<job>")]
        [Description("Job files (YAML); several make a matrix.")]
        public string[] Jobs { get; init; } = [];

        [CommandOption("--board <NAME>")]
        [Description("Run on this board instead of the job's board/tags.")]
        public string? Board { get; init; }

        [CommandOption("--out <DIR>")]
        [Description("Where run directories go (default: artifacts/).")]
        public string Out { get; init; } = "artifacts";

        [CommandOption("--parallel <N>")]
        [Description("Boards running at once (default: one per two CPU cores, at least 1). QEMU runs niced, so console readers keep up.")]
        public int? Parallel { get; init; }

        [CommandOption("--force")]
        [Description("Run even on a quarantined board (an operator checking it).")]
        public bool Force { get; init; }

        [CommandOption("--boot <MODE>")]
        [Description("cold | snapshot: override the job's boot: (cold forces a fresh boot).")]
        public string? Boot { get; init; }

        public override ValidationResult Validate() =>
            Parallel is < 1 ? ValidationResult.Error("--parallel must be at least 1")
            : Boot is not (null or "cold" or "snapshot") ? ValidationResult.Error($"--boot must be cold or snapshot, not \"{Boot}\"")
            : ValidationResult.Success();
    }

    public static int DefaultParallelism => Math.Max(1, Environment.ProcessorCount / 2);

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken ct)
    {
        var farm = FarmContext.Of(context);
        // Everything is validated before anything starts: a bad job or lab file is exit 2, no run.
        var requests = s.Jobs.Select(j => RunRequests.Resolve(j, s.Board, s.Lab, s.Out))
            .Select(r => s.Boot switch
            {
                "cold" => r with { Boot = BootMode.Cold },
                "snapshot" => r with { Boot = BootMode.Snapshot, SnapshotDirectory = r.SnapshotDirectory ?? RunRequests.SnapshotDirectory(RunRequests.RepoRoot(r.JobFile ?? ".")) },
                _ => r,
            }).ToList();
        // One store for the health check and the recording; a refused run must not create one.
        var store = await RunSinks.OpenStoreIfExistsAsync(s.Out, s.Store, ct);
        if (!s.Force)
        {
            var health = await LabHealth.EvaluateAsync(requests.Select(r => r.Board.Name), store, s, farm.Time, ct);
            foreach (var h in health.Values.Where(h => h.Health != Farm.Lab.Scheduling.BoardHealth.Healthy))
                throw new ConfigurationException($"board {h.Board} is {h.Reason}; farm return {h.Board} brings it back (or --force to run anyway)", h.Evidence);
        }
        var sinks = RunSinks.Create(store ?? await RunSinks.OpenStoreAsync(s.Out, s.Store, ct));
        var console = AnsiConsole.Console;
        bool many = requests.Count > 1;
        var records = new RunRecord[requests.Count];
        await System.Threading.Tasks.Parallel.ForEachAsync(Enumerable.Range(0, requests.Count),
            new ParallelOptions { MaxDegreeOfParallelism = s.Parallel ?? DefaultParallelism, CancellationToken = CancellationToken.None },
            async (i, _) =>
            {
                var request = requests[i];
                var who = many ? $"[blue]{Markup.Escape(request.JobName)}@{Markup.Escape(request.Board.Name)}[/] " : "";
                var runner = farm.Runner(sinks);
                runner.StageStarted += st => console.MarkupLine(
                    $"[grey]{DateTime.Now:HH:mm:ss}[/] {who}{Markup.Escape(st.Name)} [grey](timeout {st.Timeout.TotalSeconds:0.#}s)[/]");
                runner.StageFinished += (_, r) => console.MarkupLine(
                    $"[grey]{DateTime.Now:HH:mm:ss}[/] {who}  {StatusMarkup(r.Status)} {Markup.Escape(r.Name)} [grey]{r.Duration.TotalSeconds:0.000}s[/]{(r.Message is null ? "" : "  " + TerminalText.Markup(r.Message))}");
                // The caller's token, not the loop's: a cancelled run still records its outcome.
                records[i] = await runner.RunAsync(request, ct);
            });
        foreach (var record in records)
        {
            console.MarkupLine($"run {Markup.Escape(record.RunId)}: [bold]{ReportCommand.VerdictMarkup(record.Verdict)}[/] in {record.Duration.TotalSeconds:0.00}s -> {Markup.Escape(record.RunDirectory ?? "")}");
            if (record.Provenance.Snapshot is { } snap) console.MarkupLine($"[grey]snapshot: {Markup.Escape(snap)}[/]");
            // The message quotes console lines: the board's output is not allowed to drive this terminal.
            if (record.Message is not null && record.Verdict != Verdict.Pass) console.WriteLine(TerminalText.Plain(record.Message));
        }
        return records.Select(r => r.Verdict).Aggregate(Verdict.Pass, (a, b) => a.Worst(b)).ExitCode();
    }

    static string StatusMarkup(StageStatus s) => s switch
    {
        StageStatus.Passed => "[green]ok  [/]",
        StageStatus.Failed => "[red]FAIL[/]",
        StageStatus.Skipped => "[grey]skip[/]",
        StageStatus.Error => "[red]ERR [/]",
        _ => "[yellow]INC [/]",
    };
}

/// <summary>Options every lab-aware command shares.</summary>
internal class LabSettings : CommandSettings
{
    [CommandOption("--lab <DIR>")]
    [Description("Lab inventory: a directory of board files or one YAML file (default: boards/).")]
    public string Lab { get; init; } = "boards";

    [CommandOption("--store <CONNECTION>")]
    [Description("Run store (default: SQLite at <out>/farm.db).")]
    public string? Store { get; init; }
}
