using Farm.Jobs;
using Farm.Lab;

namespace Farm.Reports;

/// <summary>Everything a run is recorded to: run.json, junit.xml, allure-results/ and the run store.</summary>
public static class RunSinks
{
    public const string DefaultStoreFile = "farm.db";

    /// <summary>The store: <paramref name="store"/> when given (a SQLite file path), else <c>&lt;out&gt;/farm.db</c>.</summary>
    public static Task<SqliteRunStore> OpenStoreAsync(string outDirectory, string? store, CancellationToken ct) =>
        SqliteRunStore.OpenAsync(store ?? Path.Combine(outDirectory, DefaultStoreFile), ct);

    /// <summary>The store if runs were ever recorded there, else null (reading history must not create one).</summary>
    public static async Task<SqliteRunStore?> OpenStoreIfExistsAsync(string outDirectory, string? store, CancellationToken ct) =>
        File.Exists(store ?? Path.Combine(outDirectory, DefaultStoreFile)) ? await OpenStoreAsync(outDirectory, store, ct).ConfigureAwait(false) : null;

    public static async Task<IReadOnlyList<IRunSink>> OpenAsync(string outDirectory, string? store, CancellationToken ct) =>
        Create(await OpenStoreAsync(outDirectory, store, ct).ConfigureAwait(false));

    /// <summary>The sinks around a store already open.</summary>
    public static IReadOnlyList<IRunSink> Create(SqliteRunStore store) => [new RunJsonSink(), new JUnitReport(), new AllureResults(), store];
}
