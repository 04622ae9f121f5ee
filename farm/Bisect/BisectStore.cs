using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Data.Sqlite;

namespace Farm.Bisect;

/// <summary>A bisect as recorded: when, what it searched, where it stands, and the full outcome once done.</summary>
internal sealed record BisectRecord(
    string Id, DateTimeOffset Started, DateTimeOffset? Finished, string Source, string Job, string Criterion,
    string Good, string Bad, string Status, string? FirstBad, double Confidence, string Conclusion, BisectOutcome? Outcome);

/// <summary>
/// Bisects live beside the runs in the run store's SQLite file (<c>&lt;out&gt;/farm.db</c>), in a
/// table of their own, so the dashboard lists them and each step links to its runs. The record is
/// written when the bisect starts (status running) and again with its outcome, so a bisect that was
/// killed still shows how far it got in the runs it left.
/// </summary>
internal sealed class BisectStore
{
    readonly string _cs;

    BisectStore(string cs) => _cs = cs;

    static JsonTypeInfo<BisectOutcome> Json => BisectJsonContext.Default.BisectOutcome;

    public static async Task<BisectStore> OpenAsync(string path, CancellationToken ct)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var store = new BisectStore(new SqliteConnectionStringBuilder { DataSource = full, Mode = SqliteOpenMode.ReadWriteCreate, DefaultTimeout = 30 }.ToString());
        await using var c = await store.ConnectAsync(ct).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = """
            CREATE TABLE IF NOT EXISTS bisects (
                id TEXT PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT, source TEXT NOT NULL, job TEXT NOT NULL,
                criterion TEXT NOT NULL, good TEXT NOT NULL, bad TEXT NOT NULL, status TEXT NOT NULL, first_bad TEXT,
                confidence REAL NOT NULL, conclusion TEXT NOT NULL, outcome_json TEXT);
            """;
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        return store;
    }

    async Task<SqliteConnection> ConnectAsync(CancellationToken ct)
    {
        var c = new SqliteConnection(_cs);
        await c.OpenAsync(ct).ConfigureAwait(false);
        await using var p = c.CreateCommand();
        p.CommandText = "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=10000;";
        await p.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        return c;
    }

    public async Task SaveAsync(BisectRecord r, CancellationToken ct)
    {
        await using var c = await ConnectAsync(ct).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = """
            INSERT INTO bisects VALUES ($id, $start, $end, $source, $job, $crit, $good, $bad, $status, $first, $conf, $concl, $json)
            ON CONFLICT(id) DO UPDATE SET finished_at=excluded.finished_at, status=excluded.status, first_bad=excluded.first_bad,
                confidence=excluded.confidence, conclusion=excluded.conclusion, outcome_json=excluded.outcome_json;
            """;
        cmd.Parameters.AddWithValue("$id", r.Id);
        cmd.Parameters.AddWithValue("$start", r.Started.ToString("O", CultureInfo.InvariantCulture));
        cmd.Parameters.AddWithValue("$end", (object?)r.Finished?.ToString("O", CultureInfo.InvariantCulture) ?? DBNull.Value);
        cmd.Parameters.AddWithValue("$source", r.Source);
        cmd.Parameters.AddWithValue("$job", r.Job);
        cmd.Parameters.AddWithValue("$crit", r.Criterion);
        cmd.Parameters.AddWithValue("$good", r.Good);
        cmd.Parameters.AddWithValue("$bad", r.Bad);
        cmd.Parameters.AddWithValue("$status", r.Status);
        cmd.Parameters.AddWithValue("$first", (object?)r.FirstBad ?? DBNull.Value);
        cmd.Parameters.AddWithValue("$conf", r.Confidence);
        cmd.Parameters.AddWithValue("$concl", r.Conclusion);
        cmd.Parameters.AddWithValue("$json", r.Outcome is null ? DBNull.Value : JsonSerializer.Serialize(r.Outcome, Json));
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<BisectRecord>> ListAsync(int limit, CancellationToken ct) =>
        await QueryAsync("SELECT * FROM bisects ORDER BY started_at DESC LIMIT $n", ("$n", Math.Clamp(limit, 1, 1000)), ct).ConfigureAwait(false);

    public async Task<BisectRecord?> GetAsync(string id, CancellationToken ct) =>
        (await QueryAsync("SELECT * FROM bisects WHERE id = $n", ("$n", id), ct).ConfigureAwait(false)).FirstOrDefault();

    async Task<IReadOnlyList<BisectRecord>> QueryAsync(string sql, (string Name, object Value) p, CancellationToken ct)
    {
        await using var c = await ConnectAsync(ct).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.Parameters.AddWithValue(p.Name, p.Value);
        var list = new List<BisectRecord>();
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            string? S(string col) => r.IsDBNull(r.GetOrdinal(col)) ? null : r.GetString(r.GetOrdinal(col));
            list.Add(new BisectRecord(S("id")!, DateTimeOffset.Parse(S("started_at")!, CultureInfo.InvariantCulture),
                S("finished_at") is { } f ? DateTimeOffset.Parse(f, CultureInfo.InvariantCulture) : null,
                S("source")!, S("job")!, S("criterion")!, S("good")!, S("bad")!, S("status")!, S("first_bad"),
                r.GetDouble(r.GetOrdinal("confidence")), S("conclusion")!,
                S("outcome_json") is { } j ? JsonSerializer.Deserialize(j, Json) : null));
        }
        return list;
    }

    public static string ToJson(BisectOutcome outcome) => JsonSerializer.Serialize(outcome, Json);
}

/// <summary>
/// A bisect's outcome as the store and the dashboard keep it: camelCase, enums by their kebab-case
/// names ("good", "skip"). Source-generated, as Native AOT has no reflection serialiser.
/// </summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    Converters = [typeof(KebabEnum<Observation>), typeof(KebabEnum<CandidateState>)])]
[JsonSerializable(typeof(BisectOutcome))]
internal sealed partial class BisectJsonContext : JsonSerializerContext;

/// <summary>An enum as its kebab-case name, for one enum type (the non-generic factory needs run-time code).</summary>
internal sealed class KebabEnum<T>() : JsonStringEnumConverter<T>(JsonNamingPolicy.KebabCaseLower) where T : struct, Enum;
