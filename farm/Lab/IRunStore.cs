using Farm.Jobs;

namespace Farm.Lab;

/// <summary>Where runs are kept for reports, dashboards and the scheduler. SQLite is the embedded default.</summary>
public interface IRunStore : IRunSink
{
    Task<IReadOnlyList<RunRecord>> LatestAsync(int count, CancellationToken ct);

    Task<RunRecord?> GetAsync(string runId, CancellationToken ct);
}
