using System.ComponentModel;
using Farm.Boards.Spec;
using Farm.Reports;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Farm.Cli;

/// <summary>
/// <c>farm boards [--lab DIR] [--check] [--out DIR]</c>: the lab's boards, what they are, where
/// their power and console are, their last run (from the store), and with <c>--check</c> what
/// their power controller and console server answer right now.
/// </summary>
internal sealed class BoardsCommand : AsyncCommand<BoardsCommand.Settings>
{
    public sealed class Settings : LeaseSettings
    {
        [CommandOption("--check")]
        [Description("Ask each physical board's power controller for the outlet state and connect to its console.")]
        public bool Check { get; init; }

        [CommandOption("--out <DIR>")]
        [Description("Where runs are recorded (default: artifacts/), for each board's last run.")]
        public string Out { get; init; } = "artifacts";
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken ct)
    {
        var lab = LabFile.Load(s.Lab);
        var last = new Dictionary<string, RunRecord>();
        var store = await RunSinks.OpenStoreIfExistsAsync(s.Out, s.RunStore, ct);
        foreach (var r in store is null ? [] : await store.LatestAsync(500, ct))
            last.TryAdd(r.Board, r);
        var health = await LabHealth.EvaluateAsync(lab.Boards.Select(b => b.Name), store, s, FarmContext.Of(context).Time, ct);
        var table = new Table().AddColumns("board", "type", "health", "power", "console", "last run", "expected pci", "tags");
        foreach (var b in lab.Boards)
        {
            var (power, console) = (b.Hardware.PowerSummary, b.Hardware.ConsoleSummary);
            if (s.Check && await b.Hardware.ProbeAsync(b, ct) is var (powerNow, consoleNow))
                (power, console) = ($"{power}\n{powerNow}", $"{console}\n{consoleNow}");
            var run = last.TryGetValue(b.Name, out var r) ? $"{r.Verdict.ToWire()} {r.Start:yyyy-MM-dd HH:mm} {r.Job}" : "-";
            table.AddRow(Markup.Escape(b.Name),
                Markup.Escape($"{b.TypeName} ({b.Kind}, {b.Mode.ToString().ToLowerInvariant()})\n{b.SourcePath}:{b.Line}"),
                health[b.Name].Health == Farm.Lab.Scheduling.BoardHealth.Healthy ? Markup.Escape(health[b.Name].Reason) : $"[red]{Markup.Escape(health[b.Name].Reason)}[/]",
                Markup.Escape(power), Markup.Escape(console), Markup.Escape(run), Markup.Escape(string.Join("\n", b.ExpectedPci)), Markup.Escape(string.Join(", ", b.Tags)));
        }
        AnsiConsole.Write(table);
        return 0;
    }
}
