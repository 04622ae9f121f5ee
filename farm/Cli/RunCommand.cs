using System.ComponentModel;
using Farm.Jobs;
using Farm.Reports;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Farm.Cli;

/// <summary><c>farm run &lt;job.yaml&gt; [--board NAME] [--out DIR]</c>: exit code = verdict (0/1/2/3).</summary>
public sealed class RunCommand : AsyncCommand<RunCommand.Settings>
{
    public sealed class Settings : LabSettings
    {
        [CommandArgument(0, "<job>")]
        [Description("Job file (YAML).")]
        public string Job { get; init; } = "";

        [CommandOption("--board <NAME>")]
        [Description("Run on this board instead of the job's board/tags.")]
        public string? Board { get; init; }

        [CommandOption("--out <DIR>")]
        [Description("Where run directories go (default: artifacts/).")]
        public string Out { get; init; } = "artifacts";
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken ct)
    {
        // Everything is validated before anything starts: a bad job or lab file is exit 2, no run.
        var request = RunRequests.Resolve(s.Job, s.Board, s.Lab, s.Out);
        var runner = new JobRunner(TimeProvider.System, await RunSinks.OpenAsync(s.Out, s.Store, ct));
        var console = AnsiConsole.Console;
        runner.StageStarted += st => console.MarkupLine(
            $"[grey]{DateTime.Now:HH:mm:ss}[/] {Markup.Escape(st.Name)} [grey](timeout {st.Timeout.TotalSeconds:0.#}s)[/]");
        runner.StageFinished += (_, r) => console.MarkupLine(
            $"[grey]{DateTime.Now:HH:mm:ss}[/]   {StatusMarkup(r.Status)} {Markup.Escape(r.Name)} [grey]{r.Duration.TotalSeconds:0.000}s[/]{(r.Message is null ? "" : "  " + Markup.Escape(r.Message))}");
        var record = await runner.RunAsync(request, ct);
        console.MarkupLine($"run {Markup.Escape(record.RunId)}: [bold]{ReportCommand.VerdictMarkup(record.Verdict)}[/] in {record.Duration.TotalSeconds:0.00}s -> {Markup.Escape(record.RunDirectory ?? "")}");
        if (record.Provenance.Snapshot is { } snap) console.MarkupLine($"[grey]snapshot: {Markup.Escape(snap)}[/]");
        if (record.Message is not null && record.Verdict != Verdict.Pass) console.WriteLine(record.Message);
        return record.Verdict.ExitCode();
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
public class LabSettings : CommandSettings
{
    [CommandOption("--lab <DIR>")]
    [Description("Lab inventory: a directory of board files or one YAML file (default: boards/).")]
    public string Lab { get; init; } = "boards";

    [CommandOption("--store <CONNECTION>")]
    [Description("Run store (default: SQLite at <out>/farm.db).")]
    public string? Store { get; init; }
}
