using Farm.Jobs;
using Farm.Lab;

namespace Farm.Reports;

/// <summary>Everything a run is recorded to: run.json, junit.xml, allure-results/ and the run store.</summary>
internal static class RunSinks
{
    public const string DefaultStoreFile = "farm.db";

    /// <summary>
    /// The store: <paramref name="store"/> when given (a SQLite file path, or a PostgreSQL connection
    /// string: the shared lab's), else <c>&lt;out&gt;/farm.db</c>.
    /// </summary>
    public static Task<IRunStore> OpenStoreAsync(string outDirectory, string? store, CancellationToken ct) =>
        RunStores.OpenAsync(store ?? Path.Combine(outDirectory, DefaultStoreFile), ct);

    /// <summary>The store if runs were ever recorded there, else null (reading history must not create a file).</summary>
    public static async Task<IRunStore?> OpenStoreIfExistsAsync(string outDirectory, string? store, CancellationToken ct) =>
        store is not null && RunStores.IsPostgres(store) || File.Exists(store ?? Path.Combine(outDirectory, DefaultStoreFile))
            ? await OpenStoreAsync(outDirectory, store, ct).ConfigureAwait(false) : null;

    /// <summary>Where bisections are kept: beside the runs in a SQLite store, else <c>&lt;out&gt;/bisects.db</c>.</summary>
    public static string BisectStorePath(string outDirectory, string? store) =>
        store is not null && RunStores.IsPostgres(store) ? Path.Combine(outDirectory, "bisects.db") : store ?? Path.Combine(outDirectory, DefaultStoreFile);

    public static async Task<IReadOnlyList<IRunSink>> OpenAsync(string outDirectory, string? store, CancellationToken ct) =>
        Create(await OpenStoreAsync(outDirectory, store, ct).ConfigureAwait(false));

    /// <summary>The sinks around a store already open.</summary>
    public static IReadOnlyList<IRunSink> Create(IRunStore store) => [new RunJsonSink(), new JUnitReport(), new AllureResults(), store];
}
