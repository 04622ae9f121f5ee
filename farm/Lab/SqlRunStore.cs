using System.Data;
using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using Farm.Checks;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Farm.Lab;

/// <summary>One run's value of one metric.</summary>
internal sealed record MetricPoint(string RunId, string Job, string Board, DateTimeOffset Start, double Value, string? XenVersion);

/// <summary>
/// The run store on SQL: a row per run, written as "incomplete" when the run starts and replaced
/// by the outcome when it ends, with stages, checks and metrics in their own tables so dashboards
/// can query them. Two engines, chosen like the lab database's: a SQLite file (<c>&lt;out&gt;/farm.db</c>,
/// the embedded default; WAL, so readers never block a run that is recording) or PostgreSQL (a
/// connection string with <c>Host=</c>: the shared lab's store, where every agent's runs meet).
/// The SQL is written once in the subset both speak; the migrations are one list, with an engine's
/// own text only where the dialects differ.
/// </summary>
sealed class SqlRunStore : IRunStore
{
    readonly Func<DbConnection> _create;

    SqlRunStore(Func<DbConnection> create, DatabaseEngine engine, string display) => (_create, Engine, Display) = (create, engine, display);

    public DatabaseEngine Engine { get; }

    public string Display { get; }

    public string? SqliteFile { get; private init; }

    /// <summary>Opens (creating and migrating) the store at <paramref name="location"/>: a SQLite file path, or a PostgreSQL connection string.</summary>
    public static async Task<SqlRunStore> OpenAsync(string location, CancellationToken ct)
    {
        SqlRunStore store;
        if (RunStores.IsPostgres(location))
        {
            var b = new NpgsqlConnectionStringBuilder(location);
            // One data source per database for the process: a pool each open would leak connections.
            var source = RunStores.PostgresSource(b.ConnectionString);
            store = new SqlRunStore(source.CreateConnection, DatabaseEngine.Postgres, $"postgresql://{b.Host}:{b.Port}/{b.Database}");
        }
        else
        {
            var full = System.IO.Path.GetFullPath(location);
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
            var cs = new SqliteConnectionStringBuilder { DataSource = full, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = true, DefaultTimeout = 30 }.ToString();
            store = new SqlRunStore(() => new SqliteConnection(cs), DatabaseEngine.Sqlite, full) { SqliteFile = full };
        }
        try
        {
            await store.RunAsync(async t =>
            {
                await using var c = await store.ConnectAsync(t).ConfigureAwait(false);
                await Migrations.ApplyAsync(c, store.Engine, t).ConfigureAwait(false);
                return 0;
            }, ct).ConfigureAwait(false);
        }
        catch (DbException e)
        {
            throw store.Engine == DatabaseEngine.Sqlite
                ? new ConfigurationException($"run store {store.Display}: cannot open: {e.Message}", [store.Display], e)
                : new InfrastructureException($"run store {store.Display}: {e.Message}", null, e);
        }
        return store;
    }

    /// <summary>One unit of work, again when PostgreSQL dropped the connection (a restart, a failover).</summary>
    Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> work, CancellationToken ct) =>
        Engine == DatabaseEngine.Postgres ? LabDatabase.Transient.ExecuteAsync(async t => await work(t).ConfigureAwait(false), ct).AsTask() : work(ct);

    async Task<DbConnection> ConnectAsync(CancellationToken ct)
    {
        var c = await LabDatabase.OpenAsync(_create, ct).ConfigureAwait(false);
        if (Engine == DatabaseEngine.Postgres) return c;
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
        var all = runs.ToList();
        await RunAsync(async t =>
        {
            await using var c = await ConnectAsync(t).ConfigureAwait(false);
            await using var tx = await c.BeginTransactionAsync(t).ConfigureAwait(false);
            foreach (var r in all) await SaveOneAsync(c, tx, r, t).ConfigureAwait(false);
            await tx.CommitAsync(t).ConfigureAwait(false);
            return 0;
        }, ct).ConfigureAwait(false);
    }

    static async Task SaveOneAsync(DbConnection c, DbTransaction tx, RunRecord r, CancellationToken ct)
    {

        await ExecAsync(c, tx, """
            INSERT INTO runs (run_id, job, board, verdict, failure_class, message, started_at, duration_s, run_dir,
                              xen_version, linux_version, qemu_version, record_json, state)
            VALUES (@id, @job, @board, @verdict, @fc, @msg, @start, @dur, @dir, @xen, @linux, @qemu, @json, @state)
            ON CONFLICT(run_id) DO UPDATE SET verdict=excluded.verdict, failure_class=excluded.failure_class, state=excluded.state,
                message=excluded.message, duration_s=excluded.duration_s, xen_version=excluded.xen_version,
                linux_version=excluded.linux_version, qemu_version=excluded.qemu_version, record_json=excluded.record_json
            """, ct,
            ("@id", r.RunId), ("@job", r.Job), ("@board", r.Board), ("@verdict", r.Verdict.ToWire()), ("@fc", r.FailureClass),
            ("@msg", r.Message), ("@start", r.Start.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)), ("@dur", r.Duration.TotalSeconds),
            ("@dir", r.RunDirectory), ("@xen", r.Provenance.XenVersion), ("@linux", r.Provenance.LinuxVersion),
            ("@qemu", r.Provenance.QemuVersion), ("@json", JsonSerializer.Serialize(r, RunJsonContext.Default.RunRecord)),
            ("@state", Farm.Jobs.JobRunner.IsPending(r) ? "running" : "finished")).ConfigureAwait(false);

        foreach (var table in new[] { "stages", "checks", "metrics" })
            await ExecAsync(c, tx, $"DELETE FROM {table} WHERE run_id = @id", ct, ("@id", r.RunId)).ConfigureAwait(false);
        for (int i = 0; i < r.Stages.Count; i++)
        {
            var s = r.Stages[i];
            await ExecAsync(c, tx, """
                INSERT INTO stages (run_id, seq, name, status, started_at, duration_s, timeout_s, failure_class, message)
                VALUES (@id, @seq, @name, @status, @start, @dur, @timeout, @fc, @msg)
                """, ct, ("@id", r.RunId), ("@seq", i), ("@name", s.Name), ("@status", s.Status.ToString().ToLowerInvariant()),
                ("@start", s.Start.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)), ("@dur", s.Duration.TotalSeconds),
                ("@timeout", s.Timeout.TotalSeconds), ("@fc", s.FailureClass), ("@msg", s.Message)).ConfigureAwait(false);
        }
        // A guest check has one result per guest: Key (id@guest:<g>) keeps them apart, and is the plain id for dom0's.
        foreach (var k in r.Checks.DistinctBy(k => k.Key))
            await ExecAsync(c, tx, """
                INSERT INTO checks (run_id, check_id, grp, verdict, expected, summary, source, evidence)
                VALUES (@id, @check, @grp, @verdict, @expected, @summary, @source, @evidence)
                """, ct, ("@id", r.RunId), ("@check", k.Key), ("@grp", k.Group), ("@verdict", k.Verdict.ToWire()),
                ("@expected", k.Expected.ToWire()), ("@summary", k.Summary), ("@source", k.Source),
                ("@evidence", string.Join('\n', k.Evidence))).ConfigureAwait(false);
        foreach (var (name, value) in r.Metrics)
            await ExecAsync(c, tx, "INSERT INTO metrics (run_id, name, value) VALUES (@id, @name, @value)", ct,
                ("@id", r.RunId), ("@name", name), ("@value", value)).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<RunRecord>> LatestAsync(int count, CancellationToken ct) =>
        await QueryAsync("SELECT record_json FROM runs ORDER BY started_at DESC, run_id DESC LIMIT @n", ct, ("@n", count)).ConfigureAwait(false);

    /// <summary>The newest runs matching every filter given (null: any), for the runs page.</summary>
    public async Task<IReadOnlyList<RunRecord>> SearchAsync(string? board, string? job, string? verdict, int count, CancellationToken ct) =>
        await QueryAsync("""
            SELECT record_json FROM runs
            WHERE (@board IS NULL OR board = @board) AND (@job IS NULL OR job = @job) AND (@verdict IS NULL OR verdict = @verdict)
            ORDER BY started_at DESC, run_id DESC LIMIT @n
            """, ct, ("@board", board), ("@job", job), ("@verdict", verdict), ("@n", count)).ConfigureAwait(false);

    /// <summary>A board's newest runs (health looks at the last few, not the whole history).</summary>
    public async Task<IReadOnlyList<RunRecord>> ForBoardAsync(string board, int count, CancellationToken ct) =>
        await QueryAsync("SELECT record_json FROM runs WHERE board = @board ORDER BY started_at DESC, run_id DESC LIMIT @n", ct, ("@board", board), ("@n", count)).ConfigureAwait(false);

    public async Task<RunRecord?> GetAsync(string runId, CancellationToken ct) =>
        (await QueryAsync("SELECT record_json FROM runs WHERE run_id = @id", ct, ("@id", runId)).ConfigureAwait(false)).FirstOrDefault();

    /// <summary>
    /// One metric over time for every job and board, oldest first, from runs that finished with a
    /// verdict about the system (pass or fail; an incomplete run's timings are the lab's).
    /// </summary>
    public async Task<IReadOnlyList<MetricPoint>> MetricHistoryAsync(string metric, DateTimeOffset since, CancellationToken ct) =>
        await ReadAsync("""
            SELECT r.run_id, r.job, r.board, r.started_at, m.value, r.xen_version
            FROM metrics m JOIN runs r ON r.run_id = m.run_id
            WHERE m.name = @name AND r.started_at >= @since AND r.verdict IN ('pass', 'fail')
            ORDER BY r.job, r.board, r.started_at, r.run_id
            """, row => new MetricPoint(row.GetString(0), row.GetString(1), row.GetString(2),
                DateTimeOffset.Parse(row.GetString(3), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal), row.GetDouble(4),
                row.IsDBNull(5) ? null : row.GetString(5)),
            ct, ("@name", metric), ("@since", since.UtcDateTime.ToString("O", CultureInfo.InvariantCulture))).ConfigureAwait(false);

    /// <summary>Every metric name recorded, for the trends page's picker.</summary>
    public async Task<IReadOnlyList<string>> MetricNamesAsync(CancellationToken ct) =>
        await ReadAsync("SELECT DISTINCT name FROM metrics ORDER BY name", row => row.GetString(0), ct).ConfigureAwait(false);

    /// <summary>Runs per verdict, for /metrics.</summary>
    public async Task<IReadOnlyDictionary<string, long>> CountByVerdictAsync(CancellationToken ct) =>
        (await ReadAsync("SELECT verdict, COUNT(*) FROM runs GROUP BY verdict", row => (Verdict: row.GetString(0), Count: row.GetInt64(1)), ct).ConfigureAwait(false))
            .ToDictionary(x => x.Verdict, x => x.Count);

    async Task<List<RunRecord>> QueryAsync(string sql, CancellationToken ct, params (string Name, object? Value)[] args) =>
        (await ReadAsync(sql, row => JsonSerializer.Deserialize(row.GetString(0), RunJsonContext.Default.RunRecord), ct, args).ConfigureAwait(false))
            .OfType<RunRecord>().ToList();

    /// <summary>One query, one connection, each row mapped by <paramref name="map"/>.</summary>
    async Task<List<T>> ReadAsync<T>(string sql, Func<DbDataReader, T> map, CancellationToken ct, params (string Name, object? Value)[] args) =>
        await RunAsync(async t =>
        {
            await using var c = await ConnectAsync(t).ConfigureAwait(false);
            await using var cmd = c.CreateCommand();
            cmd.CommandText = sql;
            foreach (var (n, v) in args) Param(cmd, n, v);
            var list = new List<T>();
            await using var reader = await cmd.ExecuteReaderAsync(t).ConfigureAwait(false);
            while (await reader.ReadAsync(t).ConfigureAwait(false)) list.Add(map(reader));
            return list;
        }, ct).ConfigureAwait(false);

    static async Task ExecAsync(DbConnection c, DbTransaction? tx, string sql, CancellationToken ct, params (string Name, object? Value)[] args)
    {
        await using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        foreach (var (n, v) in args) Param(cmd, n, v);
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    /// <summary>A parameter; a null is typed as text, which PostgreSQL needs to compare it (<c>@board IS NULL OR board = @board</c>).</summary>
    static void Param(DbCommand cmd, string name, object? value)
    {
        var p = cmd.CreateParameter();
        p.ParameterName = name;
        p.Value = value ?? DBNull.Value;
        if (value is null) p.DbType = DbType.String;
        cmd.Parameters.Add(p);
    }

    /// <summary>
    /// Schema versions, applied in order, each in its own transaction. SQLite counts them in
    /// <c>PRAGMA user_version</c> (as Farm always has); PostgreSQL in <c>farm_run_schema</c>.
    /// </summary>
    static class Migrations
    {
        /// <summary>A step's SQL; <c>Postgres</c> only where PostgreSQL's dialect differs.</summary>
        sealed record Step(string Sql, string? Postgres = null)
        {
            public string For(DatabaseEngine e) => e == DatabaseEngine.Postgres ? Postgres ?? Sql : Sql;
        }

        /// <summary>The advisory lock key the run store's migrations take (any constant no other Farm lock uses).</summary>
        const long SchemaLock = 0x4641524d52554e53; // "FARMRUNS"

        static readonly Step[] Steps =
        [
            new("""
            CREATE TABLE runs (
                run_id TEXT PRIMARY KEY, job TEXT NOT NULL, board TEXT NOT NULL, verdict TEXT NOT NULL,
                failure_class TEXT, message TEXT, started_at TEXT NOT NULL, duration_s DOUBLE PRECISION NOT NULL, run_dir TEXT,
                xen_version TEXT, linux_version TEXT, qemu_version TEXT, record_json TEXT NOT NULL);
            CREATE INDEX runs_started ON runs (started_at);
            CREATE INDEX runs_board ON runs (board, started_at);
            CREATE TABLE stages (
                run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE, seq INTEGER NOT NULL, name TEXT NOT NULL,
                status TEXT NOT NULL, started_at TEXT NOT NULL, duration_s DOUBLE PRECISION NOT NULL, timeout_s DOUBLE PRECISION NOT NULL,
                failure_class TEXT, message TEXT, PRIMARY KEY (run_id, seq));
            CREATE TABLE checks (
                run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE, check_id TEXT NOT NULL, grp TEXT NOT NULL,
                verdict TEXT NOT NULL, expected TEXT NOT NULL, summary TEXT NOT NULL, source TEXT NOT NULL, evidence TEXT NOT NULL,
                PRIMARY KEY (run_id, check_id));
            CREATE TABLE metrics (
                run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE, name TEXT NOT NULL, value DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (run_id, name));
            CREATE INDEX metrics_name ON metrics (name);
            """),
            // Trends read one metric across every run: the index answers without touching the table.
            new("CREATE INDEX metrics_trend ON metrics (name, run_id, value);"),
            // Runs get a state and failure classes beyond "infrastructure". Earlier records are classified once,
            // by the messages Farm wrote then, so health stops counting old cancels, timeouts-as-infrastructure and Farm bugs.
            // PostgreSQL stores began after that: none of its records predate the classes.
            new("""
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
            """, Postgres: "ALTER TABLE runs ADD COLUMN state TEXT NOT NULL DEFAULT 'finished';"),
        ];

        public static async Task ApplyAsync(DbConnection c, DatabaseEngine engine, CancellationToken ct)
        {
            if (engine == DatabaseEngine.Postgres)
            {
                // CREATE TABLE IF NOT EXISTS races with itself in PostgreSQL (two creators, one unique violation): serialize on a lock of our own.
                await using var first = await c.BeginTransactionAsync(ct).ConfigureAwait(false);
                await ExecAsync(c, first, $"SELECT pg_advisory_xact_lock({SchemaLock})", ct).ConfigureAwait(false);
                await ExecAsync(c, first, "CREATE TABLE IF NOT EXISTS farm_run_schema (version INTEGER NOT NULL)", ct).ConfigureAwait(false);
                await first.CommitAsync(ct).ConfigureAwait(false);
            }
            for (int v = 0; v < Steps.Length; v++)
            {
                await using var tx = await c.BeginTransactionAsync(ct).ConfigureAwait(false);
                // Two processes opening a new store at once: PostgreSQL serializes them on this lock.
                if (engine == DatabaseEngine.Postgres) await ExecAsync(c, tx, "LOCK TABLE farm_run_schema IN EXCLUSIVE MODE", ct).ConfigureAwait(false);
                var version = await VersionAsync(c, tx, engine, ct).ConfigureAwait(false);
                if (version > Steps.Length)
                    throw new ConfigurationException($"run store schema version {version} is newer than this Farm ({Steps.Length}); upgrade Farm");
                if (version > v) { await tx.RollbackAsync(ct).ConfigureAwait(false); continue; }
                await ExecAsync(c, tx, Steps[v].For(engine), ct).ConfigureAwait(false);
                await ExecAsync(c, tx, engine == DatabaseEngine.Postgres ? $"INSERT INTO farm_run_schema (version) VALUES ({v + 1})" : $"PRAGMA user_version = {v + 1}", ct).ConfigureAwait(false);
                await tx.CommitAsync(ct).ConfigureAwait(false);
            }
        }

        static async Task<int> VersionAsync(DbConnection c, DbTransaction tx, DatabaseEngine engine, CancellationToken ct)
        {
            await using var get = c.CreateCommand();
            get.Transaction = tx;
            get.CommandText = engine == DatabaseEngine.Postgres ? "SELECT COALESCE(MAX(version), 0) FROM farm_run_schema" : "PRAGMA user_version";
            return Convert.ToInt32(await get.ExecuteScalarAsync(ct).ConfigureAwait(false), CultureInfo.InvariantCulture);
        }
    }
}
