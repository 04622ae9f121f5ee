using System.ComponentModel;
using Farm.Boards.Spec;
using Farm.Spec;
using Farm.Lab.Health;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Farm.Cli;

/// <summary><c>farm quarantine &lt;board&gt; --reason ...</c> / <c>farm return &lt;board&gt;</c>: an operator takes a board out of service or brings it back.</summary>
internal abstract class BoardServiceCommand : AsyncCommand<BoardServiceCommand.Settings>
{
    protected abstract string Action { get; }

    public sealed class Settings : LeaseSettings
    {
        [CommandArgument(0, "<board>")]
        public string Board { get; init; } = "";

        [CommandOption("--reason <TEXT>")]
        [Description("Why (kept in the lab database and shown by farm boards).")]
        public string? Reason { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken ct)
    {
        var farm = FarmContext.Of(context);
        var lab = LabFile.Load(s.Lab);
        if (lab.Find(s.Board) is null)
            throw new ConfigurationException($"no board named \"{s.Board}\" in the lab{NearMiss.Hint(s.Board, lab.Boards.Select(b => b.Name))}");
        await using var db = await s.OpenDatabaseAsync(ct);
        await farm.Events(db).RecordAsync(s.Board, Action, s.Holder, s.Reason, ct);
        AnsiConsole.MarkupLine(Action == "quarantine"
            ? $"[yellow]{Markup.Escape(s.Board)} quarantined[/]: the scheduler will not use it until farm return {Markup.Escape(s.Board)}"
            : $"[green]{Markup.Escape(s.Board)} returned to service[/]; earlier failures are forgiven");
        return 0;
    }
}

internal sealed class QuarantineCommand : BoardServiceCommand
{
    protected override string Action => "quarantine";
}

internal sealed class ReturnCommand : BoardServiceCommand
{
    protected override string Action => "return";
}

/// <summary>Each board's health: its runs (the run store) and operators' decisions (the lab database, when there is one).</summary>
internal static class LabHealth
{
    public static async Task<IReadOnlyDictionary<string, BoardHealthStatus>> EvaluateAsync(
        IEnumerable<string> boards, Lab.IRunStore? runs, LeaseSettings lab, TimeProvider time, CancellationToken ct)
    {
        IReadOnlyList<BoardEvent> events = [];
        if (lab.Db is not null || Environment.GetEnvironmentVariable("FARM_DB") is not null || File.Exists("artifacts/lab.db"))
        {
            await using var db = await lab.OpenDatabaseAsync(ct);
            events = await new BoardEventStore(db, time).AllAsync(ct);
        }
        var health = new Dictionary<string, BoardHealthStatus>();
        foreach (var b in boards.Distinct())
            health[b] = (await BoardHealthPolicy.EvaluateAsync(b, runs, events, ct)).Health;
        return health;
    }
}
