using System.Data.Common;
using Polly;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Farm.Lab;

/// <summary>Which SQL engine a lab database is.</summary>
internal enum DatabaseEngine { Sqlite, Postgres }

/// <summary>
/// The lab's database: one schema, two engines, chosen by the connection string. SQLite
/// (<c>Data Source=artifacts/lab.db</c>, the zero-setup default on one machine) or PostgreSQL
/// (<c>Host=db.lab;Username=farm;Database=farm</c>, for a controller and agents on several hosts).
/// The SQL is written once, in the subset both speak (upserts with <c>ON CONFLICT</c>,
/// <c>RETURNING</c>, integer epoch-millisecond times), and migrations are versioned in <c>farm_schema</c>.
/// </summary>
internal sealed class LabDatabase : IAsyncDisposable
{
    readonly Func<DbConnection> _create;
    readonly IAsyncDisposable? _source;

    LabDatabase(Func<DbConnection> create, IAsyncDisposable? source, DatabaseEngine engine, string display)
        => (_create, _source, Engine, Display) = (create, source, engine, display);

    public DatabaseEngine Engine { get; }

    /// <summary>The database without secrets, for messages.</summary>
    public string Display { get; }

    /// <summary>Whether a connection string names PostgreSQL (it has <c>Host=</c>); anything else is SQLite.</summary>
    public static bool IsPostgres(string connectionString) => connectionString.Contains("Host=", StringComparison.OrdinalIgnoreCase);

    /// <summary>The lab database a command uses: <c>--db</c>, else <c>$FARM_DB</c>, else SQLite at artifacts/lab.db.</summary>
    public static string ConnectionStringOr(string? db) => db ?? Environment.GetEnvironmentVariable("FARM_DB") ?? "Data Source=artifacts/lab.db";

    public static async Task<LabDatabase> OpenAsync(string connectionString, CancellationToken ct)
    {
        LabDatabase db;
        if (IsPostgres(connectionString))
        {
            var b = new NpgsqlConnectionStringBuilder(connectionString);
            var source = NpgsqlDataSource.Create(b);
            db = new LabDatabase(source.CreateConnection, source, DatabaseEngine.Postgres, $"postgresql://{b.Host}:{b.Port}/{b.Database}");
        }
        else
        {
            var b = new SqliteConnectionStringBuilder(connectionString) { Mode = SqliteOpenMode.ReadWriteCreate, Pooling = true, DefaultTimeout = 30 };
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(b.DataSource)) ?? ".");
            var cs = b.ToString();
            db = new LabDatabase(() => new SqliteConnection(cs), null, DatabaseEngine.Sqlite, b.DataSource);
        }
        try
        {
            await using var c = await db.ConnectAsync(ct).ConfigureAwait(false);
            await Migrate(c, db.Engine, ct).ConfigureAwait(false);
        }
        catch (DbException e)
        {
            await db.DisposeAsync().ConfigureAwait(false);
            throw new InfrastructureException($"lab database {db.Display}: {e.Message}", null, e);
        }
        return db;
    }

    internal static readonly Polly.ResiliencePipeline Transient = new Polly.ResiliencePipelineBuilder()
        .AddRetry(new Polly.Retry.RetryStrategyOptions
        {
            // A database restarting or failing over: the connection breaks, the next one works.
            ShouldHandle = new Polly.PredicateBuilder().Handle<DbException>(e => e.IsTransient).Handle<System.Net.Sockets.SocketException>(),
            MaxRetryAttempts = 8,
            Delay = TimeSpan.FromMilliseconds(100),
            BackoffType = Polly.DelayBackoffType.Exponential,
            MaxDelay = TimeSpan.FromSeconds(2),
        })
        .Build();

    /// <summary>Runs one unit of work (its own connection and transaction), again if the database dropped it transiently.</summary>
    public async Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> work, CancellationToken ct)
    {
        try
        {
            return await Transient.ExecuteAsync(async t => await work(t).ConfigureAwait(false), ct).ConfigureAwait(false);
        }
        catch (DbException e)
        {
            throw new InfrastructureException($"lab database {Display}: {e.Message}", null, e);
        }
    }

    /// <summary>A new connection, opened; one that fails to open is disposed, not leaked to the pool's finalizer.</summary>
    internal static async Task<DbConnection> OpenAsync(Func<DbConnection> create, CancellationToken ct)
    {
        var c = create();
        try
        {
            await c.OpenAsync(ct).ConfigureAwait(false);
            return c;
        }
        catch
        {
            await c.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async Task<DbConnection> ConnectAsync(CancellationToken ct)
    {
        var c = await OpenAsync(_create, ct).ConfigureAwait(false);
        if (Engine == DatabaseEngine.Sqlite)
        {
            await using var pragma = c.CreateCommand();
            pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;";
            await pragma.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
        return c;
    }

    /// <summary>Schema versions in order; each runs once, in a transaction, recorded in farm_schema.</summary>
    static readonly string[] Migrations =
    [
        """
        CREATE TABLE leases (
            board TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            kind TEXT NOT NULL,
            note TEXT,
            acquired_ms BIGINT NOT NULL,
            expires_ms BIGINT NOT NULL);
        CREATE TABLE lease_audit (
            at_ms BIGINT NOT NULL,
            board TEXT NOT NULL,
            holder TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT);
        CREATE INDEX lease_audit_board ON lease_audit (board, at_ms);
        """,
        """
        CREATE TABLE board_events (
            at_ms BIGINT NOT NULL,
            board TEXT NOT NULL,
            action TEXT NOT NULL,
            actor TEXT NOT NULL,
            reason TEXT);
        CREATE INDEX board_events_board ON board_events (board, at_ms);
        """,
        """
        CREATE TABLE api_audit (
            at_ms BIGINT NOT NULL,
            api_user TEXT NOT NULL,
            method TEXT NOT NULL,
            path TEXT NOT NULL,
            status INTEGER NOT NULL);
        """,
        """
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            job TEXT NOT NULL,
            board TEXT NOT NULL,
            requester TEXT NOT NULL,
            priority INTEGER NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            queued_ms BIGINT NOT NULL,
            agent TEXT,
            heartbeat_ms BIGINT,
            run_id TEXT,
            verdict TEXT,
            note TEXT);
        CREATE INDEX jobs_queued ON jobs (state, priority, queued_ms);
        """,
        """
        ALTER TABLE jobs ADD COLUMN ran_on TEXT;
        ALTER TABLE jobs ADD COLUMN avoid TEXT;
        """,
        // loaded_ms: when the claiming agent had loaded the job file (NULL while loading: a silent agent then failed on the file itself).
        // run_writers: the API user that first recorded a run; only it (or an admin) may write the run again.
        """
        ALTER TABLE jobs ADD COLUMN loaded_ms BIGINT;
        CREATE TABLE run_writers (
            run_id TEXT PRIMARY KEY,
            api_user TEXT NOT NULL,
            board TEXT NOT NULL);
        """,
        // api_tokens: bearer tokens by SHA-256 (never the token), with expiry and revocation, so neither needs a restart.
        // web_sessions: the dashboard's cookie is a random session id (stored hashed), tied to the token that signed in.
        // api_audit.remote: where a write or a failed sign-in came from.
        """
        CREATE TABLE api_tokens (
            sha256 TEXT PRIMARY KEY,
            api_user TEXT NOT NULL,
            role TEXT NOT NULL,
            created_ms BIGINT NOT NULL,
            expires_ms BIGINT,
            revoked_ms BIGINT);
        CREATE INDEX api_tokens_user ON api_tokens (api_user);
        CREATE TABLE web_sessions (
            sha256 TEXT PRIMARY KEY,
            token_sha256 TEXT NOT NULL,
            created_ms BIGINT NOT NULL,
            expires_ms BIGINT NOT NULL);
        ALTER TABLE api_audit ADD COLUMN remote TEXT;
        """,
        // seq: the order events were written in. Two in the same millisecond (a quarantine and a return, a lease's
        // expiry and the next grant) are otherwise in whatever order the engine sorts ties (PostgreSQL's is not
        // stable). Rows from before it have none and sort first, by time.
        """
        ALTER TABLE board_events ADD COLUMN seq BIGINT;
        CREATE INDEX board_events_seq ON board_events (seq);
        ALTER TABLE lease_audit ADD COLUMN seq BIGINT;
        CREATE INDEX lease_audit_seq ON lease_audit (seq);
        """,
    ];

    /// <summary>The next <c>seq</c> of an append-only table (the migration above), as a SQL expression for an INSERT.</summary>
    internal static string NextSeq(string table) => $"(SELECT COALESCE(MAX(seq), 0) + 1 FROM {table})";

    /// <summary>Written order for an append-only table with <c>seq</c>: rows from before it first, by time.</summary>
    internal const string SeqOrder = "COALESCE(seq, 0), at_ms";

    static async Task Migrate(DbConnection c, DatabaseEngine engine, CancellationToken ct)
    {
        await Exec(c, null, "CREATE TABLE IF NOT EXISTS farm_schema (version INTEGER NOT NULL)", ct).ConfigureAwait(false);
        for (int v = 1; v <= Migrations.Length; v++)
        {
            await using var tx = await c.BeginTransactionAsync(ct).ConfigureAwait(false);
            // Two processes migrating at once: PostgreSQL serializes them on this lock; SQLite's write lock does the same.
            if (engine == DatabaseEngine.Postgres) await Exec(c, tx, "LOCK TABLE farm_schema IN EXCLUSIVE MODE", ct).ConfigureAwait(false);
            else await Exec(c, tx, "UPDATE farm_schema SET version = version WHERE 0", ct).ConfigureAwait(false);
            await using var q = c.CreateCommand();
            q.Transaction = tx;
            q.CommandText = "SELECT COUNT(*) FROM farm_schema WHERE version = @v";
            Param(q, "@v", v);
            if (Convert.ToInt64(await q.ExecuteScalarAsync(ct).ConfigureAwait(false)) > 0) { await tx.RollbackAsync(ct).ConfigureAwait(false); continue; }
            await Exec(c, tx, Migrations[v - 1], ct).ConfigureAwait(false);
            await Exec(c, tx, $"INSERT INTO farm_schema (version) VALUES ({v})", ct).ConfigureAwait(false);
            await tx.CommitAsync(ct).ConfigureAwait(false);
        }
    }

    internal static async Task Exec(DbConnection c, DbTransaction? tx, string sql, CancellationToken ct)
    {
        await using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    internal static void Param(DbCommand cmd, string name, object? value)
    {
        var p = cmd.CreateParameter();
        p.ParameterName = name;
        p.Value = value ?? DBNull.Value;
        cmd.Parameters.Add(p);
    }

    public async ValueTask DisposeAsync()
    {
        if (_source is not null) await _source.DisposeAsync().ConfigureAwait(false);
    }
}
