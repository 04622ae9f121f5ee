using Farm.Boards.Spec;
using Farm.Lab;
using Farm.Lab.Health;
using Farm.Lab.Leases;
using Farm.Reports;

namespace Farm.Web;

/// <summary>One board as the API, the dashboard and /metrics show it.</summary>
internal sealed record BoardRow(BoardSpec Spec, BoardHealthStatus Health, Lease? Lease, RunRecord? LastRun);

/// <summary>
/// What <c>farm serve</c> reads, in one place for the API, the web pages and /metrics: the lab file
/// (parsed again when it changes, so an edited lab shows without a restart), leases and operator events from
/// the lab database, runs from the run store (absent until the first run is recorded).
/// </summary>
internal sealed class LabView(LabApiOptions options, LabDatabase db, TimeProvider time)
{
    public LabApiOptions Options { get; } = options;
    public LabDatabase Database { get; } = db;
    public TimeProvider Time { get; } = time;
    public LeaseStore Leases { get; } = new(db, time);
    public BoardEventStore Events { get; } = new(db, time);
    public Farm.Lab.Queue.JobQueue Queue { get; } = new(db, time);
    public TokenStore Tokens { get; } = new(db, time);
    public WebSessions Sessions => field ??= new(db, Tokens, time);
    public SignInThrottle Throttle { get; } = new(time, options.SignInLimit);

    readonly Lock _labLock = new();
    (string Version, LabSpec? Lab, ConfigurationException? Error) _lab = ("", null, null);

    /// <summary>
    /// The lab file, parsed again only when a file of it changed (its names, sizes and times), so an
    /// edited lab shows without a restart but a request never costs a parse; a broken edit is reported
    /// per request until it is fixed.
    /// </summary>
    public LabSpec Lab()
    {
        var version = LabVersion(Options.Lab);
        lock (_labLock)
        {
            if (_lab.Version != version)
            {
                try { _lab = (version, LabFile.Load(Options.Lab), null); }
                catch (ConfigurationException e) { _lab = (version, null, e); }
            }
            return _lab.Lab ?? throw _lab.Error!;
        }
    }

    static string LabVersion(string path)
    {
        static string Of(string f) { var i = new FileInfo(f); return i.Exists ? $"{f}:{i.Length}:{i.LastWriteTimeUtc.Ticks}" : $"{f}:-"; }
        if (!Directory.Exists(path)) return Of(path);
        return string.Join("|", Directory.GetFiles(path, "*.yaml").Concat(Directory.GetFiles(path, "*.yml")).Order(StringComparer.Ordinal).Select(Of));
    }

    IRunStore? _runs;

    /// <summary>The run store, opened (and migrated) once it exists rather than on every request; null until a run is recorded.</summary>
    public async Task<IRunStore?> RunsAsync(CancellationToken ct) =>
        _runs ??= await RunSinks.OpenStoreIfExistsAsync(Options.Out, Options.Store, ct).ConfigureAwait(false);

    /// <summary>The run store for recording a run: created on the first one, then kept.</summary>
    public async Task<IRunStore> RunStoreAsync(CancellationToken ct) =>
        _runs ??= await RunSinks.OpenStoreAsync(Options.Out, Options.Store, ct).ConfigureAwait(false);

    public async Task<IReadOnlyList<BoardRow>> BoardsAsync(CancellationToken ct)
    {
        var lab = Lab();
        var held = (await Leases.ActiveAsync(ct).ConfigureAwait(false)).ToDictionary(l => l.Board);
        var events = await Events.AllAsync(ct).ConfigureAwait(false);
        var store = await RunsAsync(ct).ConfigureAwait(false);
        var rows = new List<BoardRow>();
        foreach (var b in lab.Boards)
        {
            var (health, runs) = await BoardHealthPolicy.EvaluateAsync(b.Name, store, events, ct).ConfigureAwait(false);
            rows.Add(new BoardRow(b, health, held.GetValueOrDefault(b.Name), runs.Count == 0 ? null : runs[0]));
        }
        return rows;
    }

    /// <summary>
    /// Who may write a run: the API user that recorded it first (the agent that runs it), with the
    /// board it runs on. Returns that writer, which is <paramref name="user"/> for a new run.
    /// </summary>
    public Task<(string User, string Board)> RunWriterAsync(string runId, string user, string board, CancellationToken ct) => Database.RunAsync(async t =>
    {
        await using var c = await Database.ConnectAsync(t);
        await using (var insert = c.CreateCommand())
        {
            insert.CommandText = "INSERT INTO run_writers (run_id, api_user, board) VALUES (@id, @user, @board) ON CONFLICT (run_id) DO NOTHING";
            LabDatabase.Param(insert, "@id", runId);
            LabDatabase.Param(insert, "@user", user);
            LabDatabase.Param(insert, "@board", board);
            await insert.ExecuteNonQueryAsync(t);
        }
        return (await WriterAsync(c, runId, t))!.Value;
    }, ct);

    /// <summary>The run's writer and board, or null if no agent has recorded it.</summary>
    public Task<(string User, string Board)?> RunWriterAsync(string runId, CancellationToken ct) => Database.RunAsync(async t =>
    {
        await using var c = await Database.ConnectAsync(t);
        return await WriterAsync(c, runId, t);
    }, ct);

    static async Task<(string User, string Board)?> WriterAsync(System.Data.Common.DbConnection c, string runId, CancellationToken t)
    {
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT api_user, board FROM run_writers WHERE run_id = @id";
        LabDatabase.Param(cmd, "@id", runId);
        await using var r = await cmd.ExecuteReaderAsync(t);
        return await r.ReadAsync(t) ? (r.GetString(0), r.GetString(1)) : null;
    }

    /// <summary>Records a write (API or web form) or a failed sign-in (user "-") with who did it, from where, and the answer.</summary>
    public Task AuditAsync(string user, string? remote, string method, string path, int status, CancellationToken ct) => Database.RunAsync(async t =>
    {
        await using var c = await Database.ConnectAsync(t);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "INSERT INTO api_audit (at_ms, api_user, method, path, status, remote) VALUES (@at, @user, @method, @path, @status, @remote)";
        LabDatabase.Param(cmd, "@at", Time.GetUtcNow().ToUnixTimeMilliseconds());
        LabDatabase.Param(cmd, "@user", user);
        LabDatabase.Param(cmd, "@remote", remote);
        LabDatabase.Param(cmd, "@method", method);
        LabDatabase.Param(cmd, "@path", path.Length > 2048 ? path[..2048] : path);
        LabDatabase.Param(cmd, "@status", status);
        return await cmd.ExecuteNonQueryAsync(t);
    }, ct);
}
