using System.Data.Common;

namespace Farm.Lab.Leases;

/// <summary>Who holds a board, why, and until when.</summary>
internal sealed record Lease(string Board, string Holder, LeaseKind Kind, string? Note, DateTimeOffset Acquired, DateTimeOffset Expires);

/// <summary>An interactive reservation (a developer at the board) or a job's hold while it runs.</summary>
internal enum LeaseKind { Interactive, Job }

/// <summary>The answer to an acquisition: the lease granted, or who holds the board and until when.</summary>
internal sealed record LeaseGrant(bool Granted, Lease Current)
{
    public string Describe => Granted
        ? $"{Current.Board} is yours until {Current.Expires:u}"
        : $"{Current.Board} is held by {Current.Holder} ({Current.Kind.ToString().ToLowerInvariant()}{(Current.Note is null ? "" : $": {Current.Note}")}) until {Current.Expires:u}";
}

/// <summary>One line of the audit log: who held what, when.</summary>
internal sealed record LeaseEvent(DateTimeOffset At, string Board, string Holder, string Action, string? Detail);

/// <summary>
/// Board leases in the lab database. A lease always expires (no lock outlives a crashed holder):
/// a holder renews it (heartbeat) while it needs the board, and an expired lease is free for the
/// next acquirer without anyone cleaning up. Acquisition is one conditional upsert, so the database
/// alone decides: a board is never held by two parties, on SQLite or PostgreSQL. Every change is audited.
/// Time comes from <see cref="TimeProvider"/>, so expiry is testable without waiting.
/// </summary>
internal sealed class LeaseStore(LabDatabase db, TimeProvider time)
{
    long Now => time.GetUtcNow().ToUnixTimeMilliseconds();

    readonly System.Collections.Concurrent.ConcurrentDictionary<string, Task<LeaseGrant>> _inflight = new(StringComparer.Ordinal);

    /// <summary>
    /// Takes <paramref name="board"/> for <paramref name="duration"/> if it is free (or its lease expired, or the holder already has it).
    /// Requests for one board that arrive while this process is already asking the database about it
    /// wait for that answer instead of queueing for connections: if someone else now holds a live lease,
    /// that is their answer too (the database decided it a moment ago); a request from the holder itself,
    /// or after expiry, asks the database in its own turn. Across processes the database alone decides.
    /// Only for PostgreSQL: an embedded SQLite write is cheaper than waiting for another caller's.
    /// </summary>
    public async Task<LeaseGrant> AcquireAsync(string board, string holder, TimeSpan duration, LeaseKind kind, string? note, CancellationToken ct)
    {
        if (db.Engine == DatabaseEngine.Sqlite)
            return await db.RunAsync(t => AcquireOnceAsync(board, holder, duration, kind, note, t), ct).ConfigureAwait(false);
        while (true)
        {
            var mine = new TaskCompletionSource<LeaseGrant>(TaskCreationOptions.RunContinuationsAsynchronously);
            var asking = _inflight.GetOrAdd(board, mine.Task);
            if (asking == mine.Task)
            {
                try
                {
                    var grant = await db.RunAsync(t => AcquireOnceAsync(board, holder, duration, kind, note, t), ct).ConfigureAwait(false);
                    mine.SetResult(grant);
                    return grant;
                }
                catch (Exception e)
                {
                    // The waiters take their own turn rather than inherit this caller's failure or cancellation.
                    mine.SetException(e);
                    _ = mine.Task.Exception;
                    throw;
                }
                finally
                {
                    _inflight.TryRemove(KeyValuePair.Create(board, mine.Task));
                }
            }
            LeaseGrant answer;
            try { answer = await asking.WaitAsync(ct).ConfigureAwait(false); }
            catch (Exception) when (!ct.IsCancellationRequested) { continue; }
            if (answer.Current.Holder != holder && answer.Current.Expires > time.GetUtcNow()) return new LeaseGrant(false, answer.Current);
        }
    }

    async Task<LeaseGrant> AcquireOnceAsync(string board, string holder, TimeSpan duration, LeaseKind kind, string? note, CancellationToken ct)
    {
        if (duration <= TimeSpan.Zero) throw new ConfigurationException($"a lease needs a positive duration, not {duration}");
        long now = Now, expires = now + (long)duration.TotalMilliseconds;
        await using var c = await db.ConnectAsync(ct).ConfigureAwait(false);
        await using var tx = await c.BeginTransactionAsync(ct).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        // The WHERE of the upsert is the whole rule: only a free (expired) board or the holder's own lease is taken.
        cmd.CommandText = """
            INSERT INTO leases (board, holder, kind, note, acquired_ms, expires_ms) VALUES (@board, @holder, @kind, @note, @now, @expires)
            ON CONFLICT (board) DO UPDATE SET holder = excluded.holder, kind = excluded.kind, note = excluded.note,
                acquired_ms = excluded.acquired_ms, expires_ms = excluded.expires_ms
            WHERE leases.expires_ms <= @now OR leases.holder = excluded.holder
            RETURNING board
            """;
        LabDatabase.Param(cmd, "@board", board);
        LabDatabase.Param(cmd, "@holder", holder);
        LabDatabase.Param(cmd, "@kind", kind.ToString().ToLowerInvariant());
        LabDatabase.Param(cmd, "@note", note);
        LabDatabase.Param(cmd, "@now", now);
        LabDatabase.Param(cmd, "@expires", expires);
        bool granted = await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false) is not null;
        if (granted) await Audit(c, tx, now, board, holder, "acquired", $"{kind.ToString().ToLowerInvariant()} for {duration}{(note is null ? "" : $": {note}")}", ct).ConfigureAwait(false);
        var current = await ReadAsync(c, tx, board, ct).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"lease of {board} vanished inside its transaction");
        await tx.CommitAsync(ct).ConfigureAwait(false);
        return new LeaseGrant(granted, current);
    }

    /// <summary>Extends the holder's lease (the heartbeat); a lease already expired or taken over is lost, and says so.</summary>
    public Task<Lease> RenewAsync(string board, string holder, TimeSpan duration, CancellationToken ct) => db.RunAsync(t => RenewOnceAsync(board, holder, duration, t), ct);

    async Task<Lease> RenewOnceAsync(string board, string holder, TimeSpan duration, CancellationToken ct)
    {
        long now = Now;
        await using var c = await db.ConnectAsync(ct).ConfigureAwait(false);
        await using var tx = await c.BeginTransactionAsync(ct).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "UPDATE leases SET expires_ms = @expires WHERE board = @board AND holder = @holder AND expires_ms > @now";
        LabDatabase.Param(cmd, "@expires", now + (long)duration.TotalMilliseconds);
        LabDatabase.Param(cmd, "@board", board);
        LabDatabase.Param(cmd, "@holder", holder);
        LabDatabase.Param(cmd, "@now", now);
        if (await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false) == 0)
        {
            var current = await ReadAsync(c, tx, board, ct).ConfigureAwait(false);
            throw new InfrastructureException(current is null || current.Expires <= time.GetUtcNow()
                ? $"lease of {board} by {holder} expired; it was not renewed in time"
                : $"lease of {board} is held by {current.Holder} now, not {holder}");
        }
        await Audit(c, tx, now, board, holder, "renewed", $"for {duration}", ct).ConfigureAwait(false);
        var lease = (await ReadAsync(c, tx, board, ct).ConfigureAwait(false))!;
        await tx.CommitAsync(ct).ConfigureAwait(false);
        return lease;
    }

    /// <summary>Gives the board back; false when the holder had no (unexpired) lease on it.</summary>
    public Task<bool> ReleaseAsync(string board, string holder, CancellationToken ct) => db.RunAsync(t => ReleaseOnceAsync(board, holder, t), ct);

    async Task<bool> ReleaseOnceAsync(string board, string holder, CancellationToken ct)
    {
        long now = Now;
        await using var c = await db.ConnectAsync(ct).ConfigureAwait(false);
        await using var tx = await c.BeginTransactionAsync(ct).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "DELETE FROM leases WHERE board = @board AND holder = @holder AND expires_ms > @now";
        LabDatabase.Param(cmd, "@board", board);
        LabDatabase.Param(cmd, "@holder", holder);
        LabDatabase.Param(cmd, "@now", now);
        bool released = await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false) > 0;
        if (released) await Audit(c, tx, now, board, holder, "released", null, ct).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
        return released;
    }

    /// <summary>Removes expired leases and audits each as expired (a sweeper; leases are free once expired even without it).</summary>
    public Task<IReadOnlyList<Lease>> ExpireAsync(CancellationToken ct) => db.RunAsync(ExpireOnceAsync, ct);

    async Task<IReadOnlyList<Lease>> ExpireOnceAsync(CancellationToken ct)
    {
        long now = Now;
        await using var c = await db.ConnectAsync(ct).ConfigureAwait(false);
        await using var tx = await c.BeginTransactionAsync(ct).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "DELETE FROM leases WHERE expires_ms <= @now RETURNING board, holder, kind, note, acquired_ms, expires_ms";
        LabDatabase.Param(cmd, "@now", now);
        var gone = new List<Lease>();
        await using (var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
            while (await r.ReadAsync(ct).ConfigureAwait(false)) gone.Add(Row(r));
        foreach (var l in gone) await Audit(c, tx, now, l.Board, l.Holder, "expired", $"at {l.Expires:u}", ct).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
        return gone;
    }

    /// <summary>Unexpired leases, by board.</summary>
    public Task<IReadOnlyList<Lease>> ActiveAsync(CancellationToken ct) => db.RunAsync(ActiveOnceAsync, ct);

    async Task<IReadOnlyList<Lease>> ActiveOnceAsync(CancellationToken ct)
    {
        await using var c = await db.ConnectAsync(ct).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT board, holder, kind, note, acquired_ms, expires_ms FROM leases WHERE expires_ms > @now ORDER BY board";
        LabDatabase.Param(cmd, "@now", Now);
        var list = new List<Lease>();
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false)) list.Add(Row(r));
        return list;
    }

    public Task<IReadOnlyList<LeaseEvent>> AuditAsync(string? board, CancellationToken ct) => db.RunAsync(t => AuditOnceAsync(board, t), ct);

    async Task<IReadOnlyList<LeaseEvent>> AuditOnceAsync(string? board, CancellationToken ct)
    {
        await using var c = await db.ConnectAsync(ct).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT at_ms, board, holder, action, detail FROM lease_audit" + (board is null ? "" : " WHERE board = @board") + " ORDER BY " + LabDatabase.SeqOrder;
        if (board is not null) LabDatabase.Param(cmd, "@board", board);
        var list = new List<LeaseEvent>();
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
            list.Add(new LeaseEvent(DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(0)), r.GetString(1), r.GetString(2), r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4)));
        return list;
    }

    static async Task<Lease?> ReadAsync(DbConnection c, DbTransaction tx, string board, CancellationToken ct)
    {
        await using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "SELECT board, holder, kind, note, acquired_ms, expires_ms FROM leases WHERE board = @board";
        LabDatabase.Param(cmd, "@board", board);
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        return await r.ReadAsync(ct).ConfigureAwait(false) ? Row(r) : null;
    }

    static Lease Row(DbDataReader r) => new(r.GetString(0), r.GetString(1), Enum.Parse<LeaseKind>(r.GetString(2), ignoreCase: true),
        r.IsDBNull(3) ? null : r.GetString(3), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4)), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(5)));

    static async Task Audit(DbConnection c, DbTransaction tx, long at, string board, string holder, string action, string? detail, CancellationToken ct)
    {
        await using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = $"INSERT INTO lease_audit (at_ms, board, holder, action, detail, seq) VALUES (@at, @board, @holder, @action, @detail, {LabDatabase.NextSeq("lease_audit")})";
        LabDatabase.Param(cmd, "@at", at);
        LabDatabase.Param(cmd, "@board", board);
        LabDatabase.Param(cmd, "@holder", holder);
        LabDatabase.Param(cmd, "@action", action);
        LabDatabase.Param(cmd, "@detail", detail);
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }
}
