using System.ComponentModel;
using Farm.Boards;
using Farm.Boards.Spec;
using Farm.Jobs;
using Farm.Reports;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Farm.Cli;

/// <summary>
/// <c>farm health [--board NAME]...</c>: runs each board's health job (jobs/health-xen.yaml or
/// jobs/health-native.yaml by the board's mode: power cycle, console, banner, prompt, SSH) and records
/// it like any run, so health follows: three infrastructure failures in a row quarantine a board, and a
/// passing health run on a board quarantined that way brings it back. Runs on quarantined boards too
/// (that is what a health check is for). Exit code: the worst verdict.
/// </summary>
internal sealed class HealthCheckCommand : AsyncCommand<HealthCheckCommand.Settings>
{
    public sealed class Settings : LeaseSettings
    {
        [CommandOption("--board <NAME>")]
        [Description("Boards to check (repeatable; default: every board of the lab).")]
        public string[] Boards { get; init; } = [];

        [CommandOption("--out <DIR>")]
        public string Out { get; init; } = "artifacts";

        [CommandOption("--jobs <DIR>")]
        [Description("Where health-xen.yaml and health-native.yaml are (default: jobs/).")]
        public string Jobs { get; init; } = "jobs";
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken ct)
    {
        var farm = FarmContext.Of(context);
        var lab = LabFile.Load(s.Lab);
        var boards = s.Boards.Length == 0 ? lab.Boards.ToList()
            : s.Boards.Select(n => lab.Find(n) ?? throw new ConfigurationException($"no board named \"{n}\" in {s.Lab}{Farm.Spec.NearMiss.Hint(n, lab.Boards.Select(b => b.Name))}")).ToList();
        var store = await RunSinks.OpenStoreAsync(s.Out, s.RunStore, ct);
        var sinks = RunSinks.Create(store);
        var table = new Table().AddColumns("board", "health job", "verdict", "health now", "run");
        var worst = Verdict.Pass;
        foreach (var board in boards)
        {
            var job = Path.Combine(s.Jobs, board.Mode == BoardMode.Xen ? "health-xen.yaml" : "health-native.yaml");
            var request = RunRequests.Resolve(job, board.Name, s.Lab, s.Out);
            AnsiConsole.MarkupLineInterpolated($"[grey]{DateTime.Now:HH:mm:ss}[/] health of {board.Name} ({Path.GetFileName(job)})");
            var record = await farm.Runner(sinks).RunAsync(request, ct);
            var health = (await LabHealth.EvaluateAsync([board.Name], store, s, farm.Time, ct))[board.Name];
            table.AddRow(Markup.Escape(board.Name), Markup.Escape(Path.GetFileName(job)), ReportCommand.VerdictMarkup(record.Verdict),
                Markup.Escape($"{health.Health.ToString().ToLowerInvariant()}: {health.Reason}"), Markup.Escape(record.RunId));
            worst = worst.Worst(record.Verdict);
        }
        AnsiConsole.Write(table);
        return worst.ExitCode();
    }
}
