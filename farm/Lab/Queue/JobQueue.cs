using System.Data.Common;

namespace Farm.Lab.Queue;

/// <summary>A job waiting for, or being run by, an agent.</summary>
public sealed record QueuedJob(string Id, string Job, string Board, string Requester, int Priority, string State, int Attempts,
    DateTimeOffset Queued, string? Agent, DateTimeOffset? Heartbeat, string? RunId, string? Verdict, string? Note);

/// <summary>
/// The controller's queue in the lab database: jobs are queued for a board, claimed by the agent
/// that serves the board (<c>FOR UPDATE SKIP LOCKED</c> on PostgreSQL, so agents never wait on
/// each other or take the same job; SQLite serializes writers anyway), kept alive by heartbeats,
/// and finished with the run's id and verdict. A job whose agent stopped heart-beating is queued
/// again once (the lab's fault, as an incomplete run is retried), then ends incomplete.
/// </summary>
public sealed class JobQueue(LabDatabase db, TimeProvider time)
{
    public const int MaxAttempts = 2;

    const string Columns = "id, job, board, requester, priority, state, attempts, queued_ms, agent, heartbeat_ms, run_id, verdict, note";

    public Task<QueuedJob> EnqueueAsync(string job, string board, string requester, int priority, CancellationToken ct) => db.RunAsync(async t =>
    {
        var id = $"{time.GetUtcNow():yyyyMMdd-HHmmss}-{Guid.NewGuid().ToString("N")[..8]}";
        await using var c = await db.ConnectAsync(t);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = $"INSERT INTO jobs ({Columns}) VALUES (@id, @job, @board, @who, @prio, 'queued', 0, @now, NULL, NULL, NULL, NULL, NULL) RETURNING {Columns}";
        LabDatabase.Param(cmd, "@id", id);
        LabDatabase.Param(cmd, "@job", job);
        LabDatabase.Param(cmd, "@board", board);
        LabDatabase.Param(cmd, "@who", requester);
        LabDatabase.Param(cmd, "@prio", priority);
        LabDatabase.Param(cmd, "@now", time.GetUtcNow().ToUnixTimeMilliseconds());
        return (await ReadAsync(cmd, t)).Single();
    }, ct);

    /// <summary>The next queued job for one of <paramref name="boards"/> (highest priority, oldest first), now running on <paramref name="agent"/>.</summary>
    public Task<QueuedJob?> ClaimAsync(string agent, IReadOnlyList<string> boards, CancellationToken ct) => db.RunAsync<QueuedJob?>(async t =>
    {
        if (boards.Count == 0) return null;
        await using var c = await db.ConnectAsync(t);
        await using var tx = await c.BeginTransactionAsync(t);
        await using var pick = c.CreateCommand();
        pick.Transaction = tx;
        var names = string.Join(", ", boards.Select((_, i) => $"@b{i}"));
        pick.CommandText = $"SELECT id FROM jobs WHERE state = 'queued' AND board IN ({names}) ORDER BY priority DESC, queued_ms, id LIMIT 1"
            + (db.Engine == DatabaseEngine.Postgres ? " FOR UPDATE SKIP LOCKED" : "");
        for (int i = 0; i < boards.Count; i++) LabDatabase.Param(pick, $"@b{i}", boards[i]);
        if (await pick.ExecuteScalarAsync(t) is not string id) { await tx.RollbackAsync(t); return null; }
        await using var take = c.CreateCommand();
        take.Transaction = tx;
        take.CommandText = $"UPDATE jobs SET state = 'running', agent = @agent, heartbeat_ms = @now, attempts = attempts + 1 WHERE id = @id AND state = 'queued' RETURNING {Columns}";
        LabDatabase.Param(take, "@agent", agent);
        LabDatabase.Param(take, "@now", time.GetUtcNow().ToUnixTimeMilliseconds());
        LabDatabase.Param(take, "@id", id);
        var job = (await ReadAsync(take, t)).SingleOrDefault();
        await tx.CommitAsync(t);
        return job;
    }, ct);

    /// <summary>The agent is still running the job. False if the job was taken from it (its heartbeat had expired).</summary>
    public Task<bool> HeartbeatAsync(string id, string agent, string? runId, CancellationToken ct) => UpdateAsync(
        "UPDATE jobs SET heartbeat_ms = @now, run_id = COALESCE(@run, run_id) WHERE id = @id AND agent = @agent AND state = 'running'",
        ct, ("@id", id), ("@agent", agent), ("@run", runId));

    public Task<bool> FinishAsync(string id, string agent, string runId, Verdict verdict, string? note, CancellationToken ct) => UpdateAsync(
        "UPDATE jobs SET state = 'done', run_id = @run, verdict = @verdict, note = @note, heartbeat_ms = @now WHERE id = @id AND agent = @agent AND state = 'running'",
        ct, ("@id", id), ("@agent", agent), ("@run", runId), ("@verdict", verdict.ToWire()), ("@note", note));

    /// <summary>
    /// Jobs whose agent has not heart-beaten for <paramref name="timeout"/>: queued again for another
    /// agent if they have attempts left, else done as incomplete. Returns how many were touched.
    /// </summary>
    public Task<int> ReapAsync(TimeSpan timeout, CancellationToken ct) => db.RunAsync(async t =>
    {
        var cutoff = time.GetUtcNow().Add(-timeout).ToUnixTimeMilliseconds();
        await using var c = await db.ConnectAsync(t);
        await using var tx = await c.BeginTransactionAsync(t);
        int n = 0;
        foreach (var (sql, retry) in new[]
        {
            ("UPDATE jobs SET state = 'queued', note = 'agent ' || agent || ' stopped heart-beating; queued again', agent = NULL WHERE state = 'running' AND heartbeat_ms < @cutoff AND attempts < @max", true),
            ("UPDATE jobs SET state = 'done', verdict = 'incomplete', note = 'agent ' || agent || ' stopped heart-beating on the last attempt' WHERE state = 'running' AND heartbeat_ms < @cutoff", false),
        })
        {
            await using var cmd = c.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = sql;
            LabDatabase.Param(cmd, "@cutoff", cutoff);
            if (retry) LabDatabase.Param(cmd, "@max", MaxAttempts);
            n += await cmd.ExecuteNonQueryAsync(t);
        }
        await tx.CommitAsync(t);
        return n;
    }, ct);

    public Task<int> LengthAsync(CancellationToken ct) => db.RunAsync(async t =>
    {
        await using var c = await db.ConnectAsync(t);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*) FROM jobs WHERE state = 'queued'";
        return Convert.ToInt32(await cmd.ExecuteScalarAsync(t));
    }, ct);

    public Task<IReadOnlyList<QueuedJob>> ListAsync(int count, CancellationToken ct) => db.RunAsync<IReadOnlyList<QueuedJob>>(async t =>
    {
        await using var c = await db.ConnectAsync(t);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT {Columns} FROM jobs ORDER BY queued_ms DESC, id DESC LIMIT @n";
        LabDatabase.Param(cmd, "@n", count);
        return await ReadAsync(cmd, t);
    }, ct);

    public Task<QueuedJob?> GetAsync(string id, CancellationToken ct) => db.RunAsync(async t =>
    {
        await using var c = await db.ConnectAsync(t);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT {Columns} FROM jobs WHERE id = @id";
        LabDatabase.Param(cmd, "@id", id);
        return (await ReadAsync(cmd, t)).SingleOrDefault();
    }, ct);

    Task<bool> UpdateAsync(string sql, CancellationToken ct, params (string Name, object? Value)[] args) => db.RunAsync(async t =>
    {
        await using var c = await db.ConnectAsync(t);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (n, v) in args) LabDatabase.Param(cmd, n, v);
        LabDatabase.Param(cmd, "@now", time.GetUtcNow().ToUnixTimeMilliseconds());
        return await cmd.ExecuteNonQueryAsync(t) == 1;
    }, ct);

    static async Task<List<QueuedJob>> ReadAsync(DbCommand cmd, CancellationToken ct)
    {
        var list = new List<QueuedJob>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            string? S(int i) => r.IsDBNull(i) ? null : r.GetString(i);
            DateTimeOffset? T(int i) => r.IsDBNull(i) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(i));
            list.Add(new QueuedJob(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), Convert.ToInt32(r.GetValue(4)), r.GetString(5),
                Convert.ToInt32(r.GetValue(6)), T(7)!.Value, S(8), T(9), S(10), S(11), S(12)));
        }
        return list;
    }
}
