using System.Collections.Concurrent;
using Farm.Jobs;
using Npgsql;

namespace Farm.Lab;

/// <summary>
/// Where runs are kept for reports, dashboards, health and the scheduler: a SQLite file (the
/// embedded default) or the lab's PostgreSQL, one contract for both (scenarios/RunStoreScenarios
/// runs the same fixture on each).
/// </summary>
internal interface IRunStore : IRunSink
{
    /// <summary>Where the store is, without secrets, for messages.</summary>
    string Display { get; }

    Task<IReadOnlyList<RunRecord>> LatestAsync(int count, CancellationToken ct);

    Task<RunRecord?> GetAsync(string runId, CancellationToken ct);

    /// <summary>The newest runs matching every filter given (null: any), for the runs page.</summary>
    Task<IReadOnlyList<RunRecord>> SearchAsync(string? board, string? job, string? verdict, int count, CancellationToken ct);

    /// <summary>A board's newest runs (health looks at the last few, not the whole history).</summary>
    Task<IReadOnlyList<RunRecord>> ForBoardAsync(string board, int count, CancellationToken ct);

    /// <summary>Inserts or replaces a run and its children in one transaction.</summary>
    Task SaveAsync(RunRecord run, CancellationToken ct);

    /// <summary>Saves many runs in one transaction (imports, seeded histories).</summary>
    Task SaveManyAsync(IEnumerable<RunRecord> runs, CancellationToken ct);

    /// <summary>
    /// One metric over time for every job and board, oldest first, from runs that finished with a
    /// verdict about the system (pass or fail; an incomplete run's timings are the lab's).
    /// </summary>
    Task<IReadOnlyList<MetricPoint>> MetricHistoryAsync(string metric, DateTimeOffset since, CancellationToken ct);

    /// <summary>Every metric name recorded, for the trends page's picker.</summary>
    Task<IReadOnlyList<string>> MetricNamesAsync(CancellationToken ct);

    /// <summary>Runs per verdict, for /metrics.</summary>
    Task<IReadOnlyDictionary<string, long>> CountByVerdictAsync(CancellationToken ct);
}

/// <summary>Opening a run store by where it is: a file path (SQLite) or a connection string with <c>Host=</c> (PostgreSQL).</summary>
internal static class RunStores
{
    static readonly ConcurrentDictionary<string, NpgsqlDataSource> Sources = new(StringComparer.Ordinal);

    /// <summary>Whether <paramref name="location"/> names a PostgreSQL database (as the lab database decides).</summary>
    public static bool IsPostgres(string location) => LabDatabase.IsPostgres(location);

    /// <summary>Opens (creating and migrating) the store.</summary>
    public static async Task<IRunStore> OpenAsync(string location, CancellationToken ct) =>
        await SqlRunStore.OpenAsync(location, ct).ConfigureAwait(false);

    /// <summary>The process's one data source for a PostgreSQL database (its connection pool lives as long as Farm does).</summary>
    internal static NpgsqlDataSource PostgresSource(string connectionString) => Sources.GetOrAdd(connectionString, NpgsqlDataSource.Create);
}
