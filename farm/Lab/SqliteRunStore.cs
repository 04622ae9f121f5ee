using System.Globalization;
using System.Text.Json;
using Farm.Checks;
using Farm.Reports;
using Microsoft.Data.Sqlite;

namespace Farm.Lab;

/// <summary>
/// The embedded run store (<c>&lt;out&gt;/farm.db</c>): a row per run, written as "incomplete"
/// when the run starts and replaced by the outcome when it ends, with stages, checks and
/// metrics in their own tables so dashboards can query them. WAL mode: readers (the web UI,
/// <c>farm report</c>) never block a run that is recording.
/// </summary>
/// <summary>One run's value of one metric.</summary>
public sealed record MetricPoint(string RunId, string Job, string Board, DateTimeOffset Start, double Value, string? XenVersion);

public sealed class SqliteRunStore : IRunStore
{
    readonly string _connectionString;

    SqliteRunStore(string connectionString) => _connectionString = connectionString;

    public string Path { get; private init; } = "";

    /// <summary>Opens (creating and migrating) the database at <paramref name="path"/>.</summary>
    public static async Task<SqliteRunStore> OpenAsync(string path, CancellationToken ct)
    {
        var full = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        var cs = new SqliteConnectionStringBuilder { DataSource = full, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = true, DefaultTimeout = 30 }.ToString();
        var store = new SqliteRunStore(cs) { Path = full };
        try
        {
            await using var c = await store.ConnectAsync(ct).ConfigureAwait(false);
            await Migrations.ApplyAsync(c, ct).ConfigureAwait(false);
        }
        catch (SqliteException e)
        {
            throw new ConfigurationException($"run store {full}: cannot open: {e.Message}", [full], e);
        }
        return store;
    }

    async Task<SqliteConnection> ConnectAsync(CancellationToken ct)
    {
        var c = new SqliteConnection(_connectionString);
        await c.OpenAsync(ct).ConfigureAwait(false);
        await using var pragma = c.CreateCommand();
        // WAL + synchronous=NORMAL: a commit survives Farm crashing (what the started row is for);
        // only an OS crash may lose the last commit, and that is not worth an fsync on every run's critical path.
        pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON;";
        await pragma.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        return c;
    }

    public Task StartedAsync(RunRecord pending, CancellationToken ct) => SaveAsync(pending, ct);

    public Task FinishedAsync(RunRecord final, CancellationToken ct) => SaveAsync(final, ct);

    /// <summary>Inserts or replaces the run and its children in one transaction.</summary>
    public Task SaveAsync(RunRecord r, CancellationToken ct) => SaveManyAsync([r], ct);

    /// <summary>Saves many runs in one transaction (imports, seeded histories).</summary>
    public async Task SaveManyAsync(IEnumerable<RunRecord> runs, CancellationToken ct)
    {
        await using var c = await ConnectAsync(ct).ConfigureAwait(false);
        await using var tx = (SqliteTransaction)await c.BeginTransactionAsync(ct).ConfigureAwait(false);
        foreach (var r in runs) await SaveOneAsync(c, tx, r, ct).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
    }

    static async Task SaveOneAsync(SqliteConnection c, SqliteTransaction tx, RunRecord r, CancellationToken ct)
    {

        await ExecAsync(c, tx, """
            INSERT INTO runs (run_id, job, board, verdict, failure_class, message, started_at, duration_s, run_dir,
                              xen_version, linux_version, qemu_version, record_json, state)
            VALUES ($id, $job, $board, $verdict, $fc, $msg, $start, $dur, $dir, $xen, $linux, $qemu, $json, $state)
            ON CONFLICT(run_id) DO UPDATE SET verdict=excluded.verdict, failure_class=excluded.failure_class, state=excluded.state,
                message=excluded.message, duration_s=excluded.duration_s, xen_version=excluded.xen_version,
                linux_version=excluded.linux_version, qemu_version=excluded.qemu_version, record_json=excluded.record_json
            """, ct,
            ("$id", r.RunId), ("$job", r.Job), ("$board", r.Board), ("$verdict", r.Verdict.ToWire()), ("$fc", r.FailureClass),
            ("$msg", r.Message), ("$start", r.Start.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)), ("$dur", r.Duration.TotalSeconds),
            ("$dir", r.RunDirectory), ("$xen", r.Provenance.XenVersion), ("$linux", r.Provenance.LinuxVersion),
            ("$qemu", r.Provenance.QemuVersion), ("$json", JsonSerializer.Serialize(r, RunJsonSink.Options)),
            ("$state", Farm.Jobs.JobRunner.IsPending(r) ? "running" : "finished")).ConfigureAwait(false);

        foreach (var table in new[] { "stages", "checks", "metrics" })
            await ExecAsync(c, tx, $"DELETE FROM {table} WHERE run_id = $id", ct, ("$id", r.RunId)).ConfigureAwait(false);
        for (int i = 0; i < r.Stages.Count; i++)
        {
            var s = r.Stages[i];
            await ExecAsync(c, tx, """
                INSERT INTO stages (run_id, seq, name, status, started_at, duration_s, timeout_s, failure_class, message)
                VALUES ($id, $seq, $name, $status, $start, $dur, $timeout, $fc, $msg)
                """, ct, ("$id", r.RunId), ("$seq", i), ("$name", s.Name), ("$status", s.Status.ToString().ToLowerInvariant()),
                ("$start", s.Start.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)), ("$dur", s.Duration.TotalSeconds),
                ("$timeout", s.Timeout.TotalSeconds), ("$fc", s.FailureClass), ("$msg", s.Message)).ConfigureAwait(false);
        }
        // A guest check has one result per guest: Key (id@guest:<g>) keeps them apart, and is the plain id for dom0's.
        foreach (var k in r.Checks.DistinctBy(k => k.Key))
            await ExecAsync(c, tx, """
                INSERT INTO checks (run_id, check_id, grp, verdict, expected, summary, source, evidence)
                VALUES ($id, $check, $grp, $verdict, $expected, $summary, $source, $evidence)
                """, ct, ("$id", r.RunId), ("$check", k.Key), ("$grp", k.Group), ("$verdict", JUnitReport.Wire(k.Verdict)),
                ("$expected", JUnitReport.Wire(k.Expected)), ("$summary", k.Summary), ("$source", k.Source),
                ("$evidence", string.Join('\n', k.Evidence))).ConfigureAwait(false);
        foreach (var (name, value) in r.Metrics)
            await ExecAsync(c, tx, "INSERT INTO metrics (run_id, name, value) VALUES ($id, $name, $value)", ct,
                ("$id", r.RunId), ("$name", name), ("$value", value)).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<RunRecord>> LatestAsync(int count, CancellationToken ct) =>
        await QueryAsync("SELECT record_json FROM runs ORDER BY started_at DESC, run_id DESC LIMIT $n", ct, ("$n", count)).ConfigureAwait(false);

    /// <summary>The newest runs matching every filter given (null: any), for the runs page.</summary>
    public async Task<IReadOnlyList<RunRecord>> SearchAsync(string? board, string? job, string? verdict, int count, CancellationToken ct) =>
        await QueryAsync("""
            SELECT record_json FROM runs
            WHERE ($board IS NULL OR board = $board) AND ($job IS NULL OR job = $job) AND ($verdict IS NULL OR verdict = $verdict)
            ORDER BY started_at DESC, run_id DESC LIMIT $n
            """, ct, ("$board", board), ("$job", job), ("$verdict", verdict), ("$n", count)).ConfigureAwait(false);

    /// <summary>A board's newest runs (health looks at the last few, not the whole history).</summary>
    public async Task<IReadOnlyList<RunRecord>> ForBoardAsync(string board, int count, CancellationToken ct) =>
        await QueryAsync("SELECT record_json FROM runs WHERE board = $board ORDER BY started_at DESC, run_id DESC LIMIT $n", ct, ("$board", board), ("$n", count)).ConfigureAwait(false);

    public async Task<RunRecord?> GetAsync(string runId, CancellationToken ct) =>
        (await QueryAsync("SELECT record_json FROM runs WHERE run_id = $id", ct, ("$id", runId)).ConfigureAwait(false)).FirstOrDefault();

    /// <summary>
    /// One metric over time for every job and board, oldest first, from runs that finished with a
    /// verdict about the system (pass or fail; an incomplete run's timings are the lab's).
    /// </summary>
    public async Task<IReadOnlyList<MetricPoint>> MetricHistoryAsync(string metric, DateTimeOffset since, CancellationToken ct) =>
        await ReadAsync("""
            SELECT r.run_id, r.job, r.board, r.started_at, m.value, r.xen_version
            FROM metrics m JOIN runs r ON r.run_id = m.run_id
            WHERE m.name = $name AND r.started_at >= $since AND r.verdict IN ('pass', 'fail')
            ORDER BY r.job, r.board, r.started_at, r.run_id
            """, row => new MetricPoint(row.GetString(0), row.GetString(1), row.GetString(2),
                DateTimeOffset.Parse(row.GetString(3), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal), row.GetDouble(4),
                row.IsDBNull(5) ? null : row.GetString(5)),
            ct, ("$name", metric), ("$since", since.UtcDateTime.ToString("O", CultureInfo.InvariantCulture))).ConfigureAwait(false);

    /// <summary>Every metric name recorded, for the trends page's picker.</summary>
    public async Task<IReadOnlyList<string>> MetricNamesAsync(CancellationToken ct) =>
        await ReadAsync("SELECT DISTINCT name FROM metrics ORDER BY name", row => row.GetString(0), ct).ConfigureAwait(false);

    /// <summary>Runs per verdict, for /metrics.</summary>
    public async Task<IReadOnlyDictionary<string, long>> CountByVerdictAsync(CancellationToken ct) =>
        (await ReadAsync("SELECT verdict, COUNT(*) FROM runs GROUP BY verdict", row => (Verdict: row.GetString(0), Count: row.GetInt64(1)), ct).ConfigureAwait(false))
            .ToDictionary(x => x.Verdict, x => x.Count);

    async Task<List<RunRecord>> QueryAsync(string sql, CancellationToken ct, params (string Name, object? Value)[] args) =>
        (await ReadAsync(sql, row => JsonSerializer.Deserialize<RunRecord>(row.GetString(0), RunJsonSink.Options), ct, args).ConfigureAwait(false))
            .OfType<RunRecord>().ToList();

    /// <summary>One query, one connection, each row mapped by <paramref name="map"/>.</summary>
    async Task<List<T>> ReadAsync<T>(string sql, Func<SqliteDataReader, T> map, CancellationToken ct, params (string Name, object? Value)[] args)
    {
        await using var c = await ConnectAsync(ct).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (n, v) in args) cmd.Parameters.AddWithValue(n, v ?? DBNull.Value);
        var list = new List<T>();
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false)) list.Add(map(reader));
        return list;
    }

    static async Task ExecAsync(SqliteConnection c, SqliteTransaction? tx, string sql, CancellationToken ct, params (string Name, object? Value)[] args)
    {
        await using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        foreach (var (n, v) in args) cmd.Parameters.AddWithValue(n, v ?? DBNull.Value);
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Schema versions, applied in order; <c>PRAGMA user_version</c> says how far a database is.</summary>
    static class Migrations
    {
        static readonly string[] Steps =
        [
            """
            CREATE TABLE runs (
                run_id TEXT PRIMARY KEY, job TEXT NOT NULL, board TEXT NOT NULL, verdict TEXT NOT NULL,
                failure_class TEXT, message TEXT, started_at TEXT NOT NULL, duration_s REAL NOT NULL, run_dir TEXT,
                xen_version TEXT, linux_version TEXT, qemu_version TEXT, record_json TEXT NOT NULL);
            CREATE INDEX runs_started ON runs (started_at);
            CREATE INDEX runs_board ON runs (board, started_at);
            CREATE TABLE stages (
                run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE, seq INTEGER NOT NULL, name TEXT NOT NULL,
                status TEXT NOT NULL, started_at TEXT NOT NULL, duration_s REAL NOT NULL, timeout_s REAL NOT NULL,
                failure_class TEXT, message TEXT, PRIMARY KEY (run_id, seq));
            CREATE TABLE checks (
                run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE, check_id TEXT NOT NULL, grp TEXT NOT NULL,
                verdict TEXT NOT NULL, expected TEXT NOT NULL, summary TEXT NOT NULL, source TEXT NOT NULL, evidence TEXT NOT NULL,
                PRIMARY KEY (run_id, check_id));
            CREATE TABLE metrics (
                run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE, name TEXT NOT NULL, value REAL NOT NULL,
                PRIMARY KEY (run_id, name));
            CREATE INDEX metrics_name ON metrics (name);
            """,
            // Trends read one metric across every run: the index answers without touching the table.
            "CREATE INDEX metrics_trend ON metrics (name, run_id, value);",
            // Runs get a state and failure classes beyond "infrastructure". Earlier records are classified once,
            // by the messages Farm wrote then, so health stops counting old cancels, timeouts-as-infrastructure and Farm bugs.
            """
            ALTER TABLE runs ADD COLUMN state TEXT NOT NULL DEFAULT 'finished';
            UPDATE runs SET state = 'running', record_json = json_set(record_json, '$.state', 'running')
                WHERE message = 'run did not finish' AND verdict = 'incomplete' AND NOT EXISTS (SELECT 1 FROM stages s WHERE s.run_id = runs.run_id);
            UPDATE runs SET record_json = json_set(record_json, '$.state', 'finished') WHERE state = 'finished';
            UPDATE runs SET failure_class = 'canceled', record_json = json_set(record_json, '$.failureClass', 'canceled')
                WHERE failure_class = 'infrastructure' AND message LIKE 'run cancelled%';
            UPDATE runs SET failure_class = 'timeout', record_json = json_set(record_json, '$.failureClass', 'timeout')
                WHERE failure_class = 'infrastructure' AND (message LIKE 'stage ''%'' timed out after %' OR message LIKE 'job timed out after %');
            UPDATE runs SET failure_class = 'farm-bug', verdict = 'error', record_json = json_set(json_set(record_json, '$.failureClass', 'farm-bug'), '$.verdict', 'error')
                WHERE failure_class = 'infrastructure' AND message LIKE 'stage ''%'' crashed: %';
            """,
        ];

        public static async Task ApplyAsync(SqliteConnection c, CancellationToken ct)
        {
            await using var get = c.CreateCommand();
            get.CommandText = "PRAGMA user_version";
            var version = Convert.ToInt32(await get.ExecuteScalarAsync(ct).ConfigureAwait(false), CultureInfo.InvariantCulture);
            if (version > Steps.Length)
                throw new ConfigurationException($"run store schema version {version} is newer than this Farm ({Steps.Length}); upgrade Farm");
            for (int v = version; v < Steps.Length; v++)
            {
                await using var tx = (SqliteTransaction)await c.BeginTransactionAsync(ct).ConfigureAwait(false);
                await ExecAsync(c, tx, Steps[v], ct).ConfigureAwait(false);
                await ExecAsync(c, tx, $"PRAGMA user_version = {v + 1}", ct).ConfigureAwait(false);
                await tx.CommitAsync(ct).ConfigureAwait(false);
            }
        }
    }
}
