using System.Data.Common;

namespace Farm.Lab.Queue;

/// <summary>A job waiting for, or being run by, an agent.</summary>
/// <param name="Board">The board asked for, or <see cref="JobQueue.AnyBoard"/>: any board the job file's board/tags allow.</param>
/// <param name="RanOn">The board the last attempt ran on.</param>
/// <param name="Avoid">A board the next attempt must not use (the last one died there).</param>
internal sealed record QueuedJob(string Id, string Job, string Board, string Requester, int Priority, string State, int Attempts,
    DateTimeOffset Queued, string? Agent, DateTimeOffset? Heartbeat, string? RunId, string? Verdict, string? Note, string? RanOn = null, string? Avoid = null);

/// <summary>
/// The controller's queue in the lab database: jobs are queued for a board, claimed by the agent
/// that serves the board (<c>FOR UPDATE SKIP LOCKED</c> on PostgreSQL, so agents never wait on
/// each other or take the same job; SQLite serializes writers anyway), kept alive by heartbeats,
/// and finished with the run's id and verdict. A job whose agent stopped heart-beating is queued
/// again once (the lab's fault, as an incomplete run is retried), then ends incomplete.
/// </summary>
internal sealed class JobQueue(LabDatabase db, TimeProvider time)
{
    public const int MaxAttempts = 2;

    /// <summary>A job queued for whichever board its job file allows.</summary>
    public const string AnyBoard = "*";

    const string Columns = "id, job, board, requester, priority, state, attempts, queued_ms, agent, heartbeat_ms, run_id, verdict, note, ran_on, avoid";

    public Task<QueuedJob> EnqueueAsync(string job, string board, string requester, int priority, CancellationToken ct) => db.RunAsync(async t =>
    {
        var id = $"{time.GetUtcNow():yyyyMMdd-HHmmss}-{Guid.NewGuid().ToString("N")[..8]}";
        await using var c = await db.ConnectAsync(t);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = $"INSERT INTO jobs ({Columns}) VALUES (@id, @job, @board, @who, @prio, 'queued', 0, @now, NULL, NULL, NULL, NULL, NULL, NULL, NULL) RETURNING {Columns}";
        LabDatabase.Param(cmd, "@id", id);
        LabDatabase.Param(cmd, "@job", job);
        LabDatabase.Param(cmd, "@board", board);
        LabDatabase.Param(cmd, "@who", requester);
        LabDatabase.Param(cmd, "@prio", priority);
        LabDatabase.Param(cmd, "@now", time.GetUtcNow().ToUnixTimeMilliseconds());
        return (await ReadAsync(cmd, t)).Single();
    }, ct);

    /// <summary>The next queued job for one of <paramref name="boards"/> (highest priority, oldest first), now running on <paramref name="agent"/>.</summary>
    public Task<QueuedJob?> ClaimAsync(string agent, IReadOnlyList<string> boards, CancellationToken ct) =>
        ClaimAsync(agent, j => boards.Contains(j.Board) ? j.Board : null, ct);

    /// <summary>
    /// The first queued job (highest priority, oldest first) that <paramref name="boardFor"/> finds a
    /// board of this agent for, now running there. On PostgreSQL the candidates are read
    /// <c>FOR UPDATE SKIP LOCKED</c>: agents claiming at once each get different jobs, none waits.
    /// </summary>
    public Task<QueuedJob?> ClaimAsync(string agent, Func<QueuedJob, string?> boardFor, CancellationToken ct) => db.RunAsync<QueuedJob?>(async t =>
    {
        await using var c = await db.ConnectAsync(t);
        await using var tx = await c.BeginTransactionAsync(t);
        await using var pick = c.CreateCommand();
        pick.Transaction = tx;
        pick.CommandText = $"SELECT {Columns} FROM jobs WHERE state = 'queued' ORDER BY priority DESC, queued_ms, id LIMIT 50"
            + (db.Engine == DatabaseEngine.Postgres ? " FOR UPDATE SKIP LOCKED" : "");
        var candidates = await ReadAsync(pick, t);
        foreach (var job in candidates)
        {
            if (boardFor(job) is not { } board) continue;
            await using var take = c.CreateCommand();
            take.Transaction = tx;
            take.CommandText = $"UPDATE jobs SET state = 'running', agent = @agent, ran_on = @board, heartbeat_ms = @now, attempts = attempts + 1, run_id = NULL, loaded_ms = NULL WHERE id = @id AND state = 'queued' RETURNING {Columns}";
            LabDatabase.Param(take, "@agent", agent);
            LabDatabase.Param(take, "@board", board);
            LabDatabase.Param(take, "@now", time.GetUtcNow().ToUnixTimeMilliseconds());
            LabDatabase.Param(take, "@id", job.Id);
            var taken = (await ReadAsync(take, t)).SingleOrDefault();
            await tx.CommitAsync(t);
            return taken;
        }
        await tx.RollbackAsync(t);
        return null;
    }, ct);

    /// <summary>Gives a claimed job back untouched (its board could not be leased): queued again, the attempt not counted.</summary>
    public Task<bool> ReturnAsync(string id, string agent, string note, CancellationToken ct) => UpdateAsync(
        "UPDATE jobs SET state = 'queued', agent = NULL, attempts = attempts - 1, note = @note WHERE id = @id AND agent = @agent AND state = 'running'",
        ct, ("@id", id), ("@agent", agent), ("@note", note));

    /// <summary>The claiming agent has loaded the job file; until then, an agent that goes silent is taken to have died on the file.</summary>
    public Task<bool> LoadedAsync(string id, string agent, CancellationToken ct) => UpdateAsync(
        "UPDATE jobs SET loaded_ms = @now, heartbeat_ms = @now WHERE id = @id AND agent = @agent AND state = 'running'",
        ct, ("@id", id), ("@agent", agent));

    /// <summary>How a cancel went: done, no such job, not the caller's, or already over.</summary>
    public enum CancelOutcome { Canceled, NotFound, NotYours, Finished }

    /// <summary>
    /// Cancels a queued or running job: its requester or an admin may. A running job's agent finds
    /// its heartbeat refused and stops the run.
    /// </summary>
    public Task<CancelOutcome> CancelAsync(string id, string user, bool admin, CancellationToken ct) => db.RunAsync(async t =>
    {
        await using var c = await db.ConnectAsync(t);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "UPDATE jobs SET state = 'canceled', note = @note WHERE id = @id AND state IN ('queued', 'running') AND (requester = @user OR @admin = 1)";
        LabDatabase.Param(cmd, "@id", id);
        LabDatabase.Param(cmd, "@user", user);
        LabDatabase.Param(cmd, "@admin", admin ? 1 : 0);
        LabDatabase.Param(cmd, "@note", $"canceled by {user}");
        if (await cmd.ExecuteNonQueryAsync(t) == 1) return CancelOutcome.Canceled;
        var job = await GetAsync(id, t);
        return job is null ? CancelOutcome.NotFound : job.State is "done" or "canceled" ? CancelOutcome.Finished : CancelOutcome.NotYours;
    }, ct);

    /// <summary>The agent is still running the job. False if the job was taken from it (its heartbeat had expired).</summary>
    public Task<bool> HeartbeatAsync(string id, string agent, string? runId, CancellationToken ct) => UpdateAsync(
        "UPDATE jobs SET heartbeat_ms = @now, run_id = COALESCE(@run, run_id) WHERE id = @id AND agent = @agent AND state = 'running'",
        ct, ("@id", id), ("@agent", agent), ("@run", runId));

    /// <summary>
    /// The run's outcome. An <c>incomplete</c> run (the lab's fault) with attempts left is queued
    /// again for another board, like the nightly's retry; anything else is done.
    /// </summary>
    public Task<bool> FinishAsync(string id, string agent, string runId, Verdict verdict, string? note, CancellationToken ct) => verdict == Verdict.Incomplete
        ? UpdateAsync("""
            UPDATE jobs SET state = CASE WHEN attempts < @max THEN 'queued' ELSE 'done' END,
                verdict = CASE WHEN attempts < @max THEN NULL ELSE 'incomplete' END,
                avoid = ran_on, agent = CASE WHEN attempts < @max THEN NULL ELSE agent END,
                run_id = @run, note = @note, heartbeat_ms = @now
            WHERE id = @id AND agent = @agent AND state = 'running'
            """, ct, ("@id", id), ("@agent", agent), ("@run", runId), ("@note", note), ("@max", MaxAttempts))
        : UpdateAsync(
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
            // Silent before it had loaded the file: the file killed it (a device, a bomb). Another agent would die the same way.
            ("UPDATE jobs SET state = 'done', verdict = 'error', note = 'agent ' || agent || ' stopped while loading the job file; not retried' WHERE state = 'running' AND heartbeat_ms < @cutoff AND loaded_ms IS NULL", false),
            ("UPDATE jobs SET state = 'queued', note = 'agent ' || agent || ' stopped heart-beating on ' || ran_on || '; queued again for another board', avoid = ran_on, agent = NULL WHERE state = 'running' AND heartbeat_ms < @cutoff AND attempts < @max", true),
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
                Convert.ToInt32(r.GetValue(6)), T(7)!.Value, S(8), T(9), S(10), S(11), S(12), S(13), S(14)));
        }
        return list;
    }
}
