using System.ComponentModel;
using Farm.Boards.Spec;
using Farm.Jobs;
using Farm.Jobs.Spec;
using Farm.Spec;
using Farm.Lab;
using Farm.Lab.Leases;
using Farm.Lab.Queue;
using Farm.Reports;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Farm.Cli;

/// <summary>
/// <c>farm agent [--name HOST] [--boards a,b] [--until-idle]</c>: runs queued jobs on this host's
/// boards (see <see cref="Agent"/>). The lab database is shared with the controller (PostgreSQL for
/// several hosts); runs are recorded in this host's run store and their ids in the queue, and with
/// <c>--server/--token</c> also sent to the controller as they happen (record and live console).
/// </summary>
internal sealed class AgentCommand : AsyncCommand<AgentCommand.Settings>
{
    public sealed class Settings : LeaseSettings
    {
        [CommandOption("--name <NAME>")]
        [Description("This agent's name (default: the host name).")]
        public string? Name { get; init; }

        [CommandOption("--boards <NAMES>")]
        [Description("Comma-separated boards this host serves (default: every board of the lab file).")]
        public string? Boards { get; init; }

        [CommandOption("--out <DIR>")]
        public string Out { get; init; } = "artifacts";

        [CommandOption("--heartbeat <DURATION>")]
        [Description("How often a running job and its lease are renewed (default 10s).")]
        public string Heartbeat { get; init; } = "10s";

        [CommandOption("--lease <DURATION>")]
        [Description("How long a board lease lasts without a heartbeat (default 2m).")]
        public string Lease { get; init; } = "2m";

        [CommandOption("--stale <DURATION>")]
        [Description("A running job whose agent is silent this long is queued again (default 1m).")]
        public string Stale { get; init; } = "1m";

        [CommandOption("--job-root <DIR>")]
        [Description("A directory queued job files may be loaded from; repeatable (default: the checkout's jobs/). Any other path is refused.")]
        public string[] JobRoots { get; init; } = [];

        [CommandOption("--until-idle")]
        [Description("Exit when the queue has nothing for this agent (instead of polling).")]
        public bool UntilIdle { get; init; }

        public override ValidationResult Validate() =>
            new[] { Heartbeat, Lease, Stale }.FirstOrDefault(d => !Duration.TryParse(d, out _)) is { } bad
                ? ValidationResult.Error($"{bad}: not a duration ({Duration.Hint})") : ValidationResult.Success();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken ct)
    {
        var farm = FarmContext.Of(context);
        var lab = LabFile.Load(s.Lab);
        var names = s.Boards?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? lab.Boards.Select(b => b.Name).ToArray();
        var boards = names.Select(n => lab.Find(n) ?? throw new ConfigurationException($"--boards: no board named \"{n}\" in {s.Lab}{NearMiss.Hint(n, lab.Boards.Select(b => b.Name))}")).ToList();
        await using var db = await farm.OpenLabAsync(s, ct);
        var time = farm.Time;
        var store = await farm.OpenRunStoreAsync(s.Out, s.RunStore, ct);
        var name = s.Name ?? Environment.MachineName;
        // With --server, every run also goes to the controller as it happens (its dashboard, its live console).
        var log = farm.Logger("Farm.Agent");
        using var controller = s.Remote(log);
        IReadOnlyList<Farm.Jobs.IRunSink> sinks = controller is null ? RunSinks.Create(store)
            : [.. RunSinks.Create(store), new Farm.Web.RemoteRunSink(controller, time, m => AnsiConsole.MarkupLineInterpolated($"[yellow]agent {name}: {m}[/]"))];
        // A queued path is anyone's text: only files under these roots are ever read.
        var roots = s.JobRoots.Length > 0 ? s.JobRoots : [Path.Combine(RunRequests.RepoRoot(s.Lab), "jobs")];
        var options = new AgentOptions(name, boards, s.Out, Duration.Parse(s.Heartbeat), Duration.Parse(s.Lease), Duration.Parse(s.Stale), TimeSpan.FromSeconds(2))
        {
            Jobs = new JobRoots(roots),
        };
        var agent = new Agent(farm.Queue(db), farm.Leases(db), options, (request, token) => farm.Runner(sinks).RunAsync(request, token), time, log);
        agent.Said += m => AnsiConsole.MarkupLineInterpolated($"[grey]{DateTime.Now:HH:mm:ss}[/] agent {name}: {TerminalText.Plain(m)}");
        AnsiConsole.MarkupLineInterpolated($"agent {name}: serving {string.Join(", ", names)} from {db.Display}; job files from {string.Join(", ", options.Jobs.Roots)}");
        try
        {
            await agent.RunAsync(s.UntilIdle, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
        return 0;
    }
}

/// <summary><c>farm queue &lt;job.yaml&gt;... [--board NAME] [--priority N]</c>: queues jobs for the agents; <c>farm queue --list</c> shows the queue.</summary>
internal sealed class QueueCommand : AsyncCommand<QueueCommand.Settings>
{
    public sealed class Settings : LeaseSettings
    {
        [CommandArgument(0, "[job]")]
        public string[] Jobs { get; init; } = [];

        [CommandOption("--board <NAME>")]
        [Description("Run on this board (default: any board the job file allows).")]
        public string? Board { get; init; }

        [CommandOption("--priority <N>")]
        public int Priority { get; init; }

        [CommandOption("--list")]
        public bool List { get; init; }

        [CommandOption("--cancel <ID>")]
        [Description("Cancel a queued or running job (yours; an admin's token cancels any).")]
        public string? Cancel { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken ct)
    {
        if (s.Remote() is { } remote)
            using (remote)
            {
                if (s.List) throw new ConfigurationException("--list with --server: GET /api/jobs, or --db to read the queue");
                if (s.Cancel is { } id)
                {
                    await remote.CancelJobAsync(id, ct);
                    AnsiConsole.MarkupLineInterpolated($"canceled {id}");
                    return 0;
                }
                foreach (var job in s.Jobs)
                {
                    var q = await remote.QueueAsync(job, s.Board, s.Priority, ct);
                    AnsiConsole.MarkupLineInterpolated($"queued {q.GetProperty("id").GetString()}: {job} on {q.GetProperty("board").GetString()}");
                }
                return 0;
            }
        await using var db = await s.OpenDatabaseAsync(ct);
        var queue = FarmContext.Of(context).Queue(db);
        if (s.Cancel is { } cancel)
        {
            // The database's own user is trusted as the lab's admin (the API is where roles apply).
            var outcome = await queue.CancelAsync(cancel, s.Holder, admin: true, ct);
            if (outcome != JobQueue.CancelOutcome.Canceled)
                throw new ConfigurationException($"--cancel {cancel}: {(outcome == JobQueue.CancelOutcome.NotFound ? "no such job" : "the job is already over")}");
            AnsiConsole.MarkupLineInterpolated($"canceled {cancel}");
            return 0;
        }
        foreach (var job in s.Jobs)
        {
            JobFile.Load(job);   // a bad job file is refused now, not on a bench host later
            var q = await queue.EnqueueAsync(Path.GetFullPath(job), s.Board ?? JobQueue.AnyBoard, s.Holder, s.Priority, ct);
            AnsiConsole.MarkupLineInterpolated($"queued {q.Id}: {job} on {q.Board}");
        }
        if (s.List || s.Jobs.Length == 0)
        {
            var table = new Table().AddColumns("job", "file", "board", "state", "attempts", "agent", "ran on", "run", "verdict", "note");
            foreach (var j in await queue.ListAsync(50, ct))
                table.AddRow(TerminalText.Markup(j.Id), TerminalText.Markup(Path.GetFileName(j.Job)), TerminalText.Markup(j.Board), TerminalText.Markup(j.State), j.Attempts.ToString(),
                    TerminalText.Markup(j.Agent ?? "-"), TerminalText.Markup(j.RanOn ?? "-"), TerminalText.Markup(j.RunId ?? "-"), TerminalText.Markup(j.Verdict ?? "-"), TerminalText.Markup(j.Note));
            AnsiConsole.Write(table);
        }
        return 0;
    }
}
