using System.ComponentModel;
using Farm.Boards.Spec;
using Farm.Spec;
using Farm.Lab;
using Farm.Lab.Leases;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Farm.Cli;

/// <summary>Options of the lease commands: the lab, the lab database, and who is asking.</summary>
internal class LeaseSettings : LabSettings
{
    [CommandOption("--db <CONNECTION>")]
    [Description("Lab database: 'Data Source=FILE' (SQLite) or 'Host=...;Username=...;Database=...' (PostgreSQL). Default: $FARM_DB, else artifacts/lab.db.")]
    public string? Db { get; init; }

    [CommandOption("--as <USER>")]
    [Description("Who holds the lease (default: $USER).")]
    public string? As { get; init; }

    public string Holder => As ?? Environment.GetEnvironmentVariable("USER") ?? Environment.UserName;

    public string ConnectionString => LabDatabase.ConnectionStringOr(Db);

    /// <summary>The run store: --store when given; else a PostgreSQL lab database keeps the runs too (every host's runs in one place); else SQLite under --out.</summary>
    public string? RunStore => Store ?? (Farm.Lab.RunStores.IsPostgres(ConnectionString) ? ConnectionString : null);

    [CommandOption("--server <URL>")]
    [Description("A lab controller (farm serve) to talk to instead of the database, e.g. http://lab:8080. Default: $FARM_SERVER.")]
    public string? Server { get; init; }

    [CommandOption("--token <TOKEN>")]
    [Description("Bearer token for --server. Shows in ps to every user of the host: prefer --token-file or $FARM_TOKEN.")]
    public string? Token { get; init; }

    [CommandOption("--token-file <FILE>")]
    [Description("A file whose first line is the bearer token for --server (made by farm token; keep it mode 0600). Default: $FARM_TOKEN_FILE.")]
    public string? TokenFile { get; init; }

    /// <summary>
    /// The bearer token: from --token-file (or FARM_TOKEN_FILE), else FARM_TOKEN, else --token, which
    /// still works but is warned about: a process's argv is readable by every user of the host.
    /// </summary>
    internal string? ResolveToken()
    {
        if ((TokenFile ?? Environment.GetEnvironmentVariable("FARM_TOKEN_FILE")) is { Length: > 0 } file)
        {
            if (!File.Exists(file)) throw new ConfigurationException($"--token-file {file}: no such file");
            if (new FileInfo(file).Length > 4096) throw new ConfigurationException($"--token-file {file}: larger than 4 KiB; expected one line, the token");
            return File.ReadLines(file).FirstOrDefault()?.Trim() is { Length: > 0 } t ? t : throw new ConfigurationException($"--token-file {file}: empty");
        }
        if (Environment.GetEnvironmentVariable("FARM_TOKEN") is { Length: > 0 } env && Token is null) return env;
        if (Token is not null)
            Console.Error.WriteLine("farm: warning: --token puts the token on the command line, where ps shows it to every user of this host; use --token-file FILE or FARM_TOKEN");
        return Token;
    }

    /// <summary>The controller's client when --server (or FARM_SERVER) is given, else null: use the database. <paramref name="log"/> gets every request the controller refused.</summary>
    public Farm.Web.RemoteLab? Remote(Microsoft.Extensions.Logging.ILogger? log = null)
    {
        var server = Server ?? Environment.GetEnvironmentVariable("FARM_SERVER");
        if (string.IsNullOrWhiteSpace(server)) return null;
        var token = ResolveToken();
        if (string.IsNullOrWhiteSpace(token)) throw new ConfigurationException($"--server {server} needs a token: --token-file FILE or FARM_TOKEN (farm token --user NAME --role developer makes one)");
        if (!Uri.TryCreate(server, UriKind.Absolute, out _)) throw new ConfigurationException($"--server {server}: not a URL (e.g. http://lab:8080)");
        return new Farm.Web.RemoteLab(server, token, log: log);
    }

    public Task<LabDatabase> OpenDatabaseAsync(CancellationToken ct) => LabDatabase.OpenAsync(ConnectionString, ct);

    public async Task<LeaseStore> OpenAsync(TimeProvider time, CancellationToken ct) => new(await OpenDatabaseAsync(ct), time);
}

/// <summary><c>farm reserve &lt;board&gt; | --tag T --for 2h [--note ...]</c>: takes a board for a while (exit 1 when it is taken).</summary>
internal sealed class ReserveCommand : AsyncCommand<ReserveCommand.Settings>
{
    public sealed class Settings : LeaseSettings
    {
        [CommandArgument(0, "[board]")]
        public string? Board { get; init; }

        [CommandOption("--tag <TAG>")]
        [Description("Any board carrying all these tags (repeatable); the first free one is taken.")]
        public string[] Tags { get; init; } = [];

        [CommandOption("--for <DURATION>")]
        [Description("How long (e.g. 30m, 2h). The lease expires then unless renewed (farm renew).")]
        public string For { get; init; } = "1h";

        [CommandOption("--note <TEXT>")]
        public string? Note { get; init; }

        public override ValidationResult Validate() =>
            (Board is null) == (Tags.Length == 0) ? ValidationResult.Error("name a board, or give --tag (not both)")
            : !Duration.TryParse(For, out _) ? ValidationResult.Error($"--for {For}: not a duration ({Duration.Hint})")
            : ValidationResult.Success();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken ct)
    {
        if (s.Remote() is { } remote)
            using (remote)
            {
                var boards = await remote.BoardsAsync(ct);
                var names = s.Board is not null ? [s.Board] : boards.Where(b => s.Tags.All(t => b.Tags.Contains(t))).Select(b => b.Name).ToList();
                if (names.Count == 0) throw new ConfigurationException($"no board of {s.Server ?? "the controller"} carries all of the tags {string.Join(", ", s.Tags)}");
                LeaseGrant? got = null;
                foreach (var name in names)
                    if ((got = await remote.AcquireAsync(name, Duration.Parse(s.For), s.Note, ct)).Granted) break;
                return Said(got!);
            }
        var lab = LabFile.Load(s.Lab);
        var candidates = s.Board is not null
            ? [lab.Find(s.Board) ?? throw new ConfigurationException($"no board named \"{s.Board}\" in the lab{NearMiss.Hint(s.Board, lab.Boards.Select(b => b.Name))}")]
            : lab.Boards.Where(b => s.Tags.All(t => b.Tags.Contains(t))).ToList();
        if (candidates.Count == 0) throw new ConfigurationException($"no board carries all of the tags {string.Join(", ", s.Tags)}");
        var leases = await s.OpenAsync(FarmContext.Of(context).Time, ct);
        LeaseGrant? last = null;
        foreach (var board in candidates)
        {
            last = await leases.AcquireAsync(board.Name, s.Holder, Duration.Parse(s.For), LeaseKind.Interactive, s.Note, ct);
            if (last.Granted) break;
        }
        return Said(last!);
    }

    static int Said(LeaseGrant g)
    {
        AnsiConsole.MarkupLine(g.Granted ? $"[green]reserved[/] {TerminalText.Markup(g.Describe)}" : $"[yellow]taken[/]: {TerminalText.Markup(g.Describe)}");
        return g.Granted ? 0 : 1;
    }
}

/// <summary><c>farm renew &lt;board&gt; --for 2h</c>: extends one's own lease (exit 1 when it was lost).</summary>
internal sealed class RenewCommand : AsyncCommand<RenewCommand.Settings>
{
    public sealed class Settings : LeaseSettings
    {
        [CommandArgument(0, "<board>")]
        public string Board { get; init; } = "";

        [CommandOption("--for <DURATION>")]
        public string For { get; init; } = "1h";

        public override ValidationResult Validate() =>
            Duration.TryParse(For, out _) ? ValidationResult.Success() : ValidationResult.Error($"--for {For}: not a duration ({Duration.Hint})");
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken ct)
    {
        Lease? lease;
        string? lost = null;
        if (s.Remote() is { } remote)
            using (remote) (lease, lost) = await remote.RenewAsync(s.Board, Duration.Parse(s.For), ct);
        else
            try { lease = await (await s.OpenAsync(FarmContext.Of(context).Time, ct)).RenewAsync(s.Board, s.Holder, Duration.Parse(s.For), ct); }
            catch (InfrastructureException e) { (lease, lost) = (null, e.Message); }
        if (lease is null)
        {
            AnsiConsole.MarkupLine($"[yellow]lost[/]: {TerminalText.Markup(lost)}");
            return 1;
        }
        AnsiConsole.MarkupLine($"[green]renewed[/] {Markup.Escape(lease.Board)} until {lease.Expires:u}");
        return 0;
    }
}

/// <summary><c>farm release &lt;board&gt;</c>: gives one's board back.</summary>
internal sealed class ReleaseCommand : AsyncCommand<ReleaseCommand.Settings>
{
    public sealed class Settings : LeaseSettings
    {
        [CommandArgument(0, "<board>")]
        public string Board { get; init; } = "";
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken ct)
    {
        bool released;
        if (s.Remote() is { } remote)
            using (remote) released = await remote.ReleaseAsync(s.Board, ct);
        else
            released = await (await s.OpenAsync(FarmContext.Of(context).Time, ct)).ReleaseAsync(s.Board, s.Holder, ct);
        AnsiConsole.MarkupLine(released ? $"[green]released[/] {Markup.Escape(s.Board)}" : $"[yellow]{Markup.Escape(s.Holder)} holds no lease on {Markup.Escape(s.Board)}[/]");
        return released ? 0 : 1;
    }
}

/// <summary><c>farm leases [--audit BOARD]</c>: who holds what now, or a board's history.</summary>
internal sealed class LeasesCommand : AsyncCommand<LeasesCommand.Settings>
{
    public sealed class Settings : LeaseSettings
    {
        [CommandOption("--audit <BOARD>")]
        [Description("Show who held this board when, instead of the current leases.")]
        public string? Audit { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken ct)
    {
        if (s.Remote() is { } remote)
        {
            if (s.Audit is not null) throw new ConfigurationException("--audit reads the lab database; the controller's API does not serve it yet (use --db)");
            using (remote) WriteActive(await remote.ActiveAsync(ct));
            return 0;
        }
        var leases = await s.OpenAsync(FarmContext.Of(context).Time, ct);
        if (s.Audit is not null)
        {
            var log = new Table().AddColumns("when", "holder", "action", "detail");
            foreach (var e in await leases.AuditAsync(s.Audit, ct))
                log.AddRow($"{e.At:u}", TerminalText.Markup(e.Holder), TerminalText.Markup(e.Action), TerminalText.Markup(e.Detail));
            AnsiConsole.Write(log);
            return 0;
        }
        WriteActive(await leases.ActiveAsync(ct));
        return 0;
    }

    static void WriteActive(IReadOnlyList<Lease> active)
    {
        var table = new Table().AddColumns("board", "holder", "kind", "since", "until", "note");
        foreach (var l in active)
            table.AddRow(TerminalText.Markup(l.Board), TerminalText.Markup(l.Holder), l.Kind.ToString().ToLowerInvariant(), $"{l.Acquired:u}", $"{l.Expires:u}", TerminalText.Markup(l.Note));
        AnsiConsole.Write(table);
    }
}
