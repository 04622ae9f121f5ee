namespace Farm.Jobs;

/// <summary>
/// Where a run is recorded (run.json, JUnit, Allure, the store). Told once when the run starts —
/// so a crash still leaves a record that says "incomplete" — and once with the final record.
/// </summary>
internal interface IRunSink
{
    Task StartedAsync(RunRecord pending, CancellationToken ct);
    Task FinishedAsync(RunRecord final, CancellationToken ct);
}
