using Farm.Boards.Spec;
using Farm.Lab;
using Farm.Lab.Health;
using Farm.Lab.Leases;
using Farm.Reports;

namespace Farm.Web;

/// <summary>One board as the API, the dashboard and /metrics show it.</summary>
public sealed record BoardRow(BoardSpec Spec, BoardHealthStatus Health, Lease? Lease, RunRecord? LastRun);

/// <summary>
/// What <c>farm serve</c> reads, in one place for the API, the web pages and /metrics: the lab file
/// (read per request, so an edited lab shows without a restart), leases and operator events from
/// the lab database, runs from the run store (absent until the first run is recorded).
/// </summary>
public sealed class LabView(LabApiOptions options, LabDatabase db, TimeProvider time)
{
    public LabApiOptions Options { get; } = options;
    public LabDatabase Database { get; } = db;
    public TimeProvider Time { get; } = time;
    public LeaseStore Leases { get; } = new(db, time);
    public BoardEventStore Events { get; } = new(db, time);
    public Farm.Lab.Queue.JobQueue Queue { get; } = new(db, time);

    public LabSpec Lab() => LabFile.Load(Options.Lab);

    public Task<SqliteRunStore?> RunsAsync(CancellationToken ct) => RunSinks.OpenStoreIfExistsAsync(Options.Out, Options.Store, ct);

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

    /// <summary>Records a write (API or web form) with who did it and the answer.</summary>
    public Task AuditAsync(ApiUser user, string method, string path, int status, CancellationToken ct) => Database.RunAsync(async t =>
    {
        await using var c = await Database.ConnectAsync(t);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "INSERT INTO api_audit (at_ms, api_user, method, path, status) VALUES (@at, @user, @method, @path, @status)";
        LabDatabase.Param(cmd, "@at", Time.GetUtcNow().ToUnixTimeMilliseconds());
        LabDatabase.Param(cmd, "@user", user.Name);
        LabDatabase.Param(cmd, "@method", method);
        LabDatabase.Param(cmd, "@path", path);
        LabDatabase.Param(cmd, "@status", status);
        return await cmd.ExecuteNonQueryAsync(t);
    }, ct);
}
