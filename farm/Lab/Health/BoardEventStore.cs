namespace Farm.Lab.Health;

/// <summary>Operators' quarantine and return decisions, kept in the lab database (audited by nature: append-only).</summary>
internal sealed class BoardEventStore(LabDatabase db, TimeProvider time)
{
    public Task RecordAsync(string board, string action, string actor, string? reason, CancellationToken ct) => db.RunAsync(async t =>
    {
        await using var c = await db.ConnectAsync(t).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = $"INSERT INTO board_events (at_ms, board, action, actor, reason, seq) VALUES (@at, @board, @action, @actor, @reason, {LabDatabase.NextSeq("board_events")})";
        LabDatabase.Param(cmd, "@at", time.GetUtcNow().ToUnixTimeMilliseconds());
        LabDatabase.Param(cmd, "@board", board);
        LabDatabase.Param(cmd, "@action", action);
        LabDatabase.Param(cmd, "@actor", actor);
        LabDatabase.Param(cmd, "@reason", reason);
        return await cmd.ExecuteNonQueryAsync(t).ConfigureAwait(false);
    }, ct);

    public Task<IReadOnlyList<BoardEvent>> AllAsync(CancellationToken ct) => db.RunAsync<IReadOnlyList<BoardEvent>>(async t =>
    {
        await using var c = await db.ConnectAsync(t).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT at_ms, board, action, actor, reason FROM board_events ORDER BY {LabDatabase.SeqOrder}";
        var list = new List<BoardEvent>();
        await using var r = await cmd.ExecuteReaderAsync(t).ConfigureAwait(false);
        while (await r.ReadAsync(t).ConfigureAwait(false))
            list.Add(new BoardEvent(DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(0)), r.GetString(1), r.GetString(2), r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4)));
        return list;
    }, ct);
}
