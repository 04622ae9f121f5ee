using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using Farm.Lab;
using Farm.Lab.Leases;
using Spectre.Console.Cli;

namespace Farm.Cli;

/// <summary>
/// <c>farm lease-bench --db CONNECTION [--attempts 1000] [--boards 20]</c>: N parties ask for B
/// boards at the same instant; checks that exactly B are granted and prints acquisitions/s and
/// grant latency percentiles as one JSON line (ci/bench runs it on SQLite and PostgreSQL).
/// </summary>
internal sealed class LeaseBenchCommand : AsyncCommand<LeaseBenchCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--db <CONNECTION>")]
        public string Db { get; init; } = "";

        [CommandOption("--attempts <N>")]
        public int Attempts { get; init; } = 1000;

        [CommandOption("--boards <N>")]
        public int Boards { get; init; } = 20;

        [CommandOption("--pool <N>")]
        [Description("Connections opened before timing (a serving controller's warm pool).")]
        public int Pool { get; init; } = 50;
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken ct)
    {
        await using var db = await LabDatabase.OpenAsync(s.Db, ct);
        var leases = FarmContext.Of(context).Leases(db);
        var prefix = $"bench-{Guid.NewGuid():N}"[..14] + "-";
        await Task.WhenAll(Enumerable.Range(0, s.Pool).Select(_ => Task.Run(() => leases.ActiveAsync(ct), ct)));
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var attempts = Enumerable.Range(0, s.Attempts).Select(i => Task.Run(async () =>
        {
            await go.Task;
            long t0 = Stopwatch.GetTimestamp();
            var g = await leases.AcquireAsync($"{prefix}{i % s.Boards}", $"party{i}", TimeSpan.FromMinutes(10), LeaseKind.Job, null, ct);
            return (g.Granted, Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        }, ct)).ToList();
        long start = Stopwatch.GetTimestamp();
        go.SetResult();
        var results = await Task.WhenAll(attempts);
        var wall = Stopwatch.GetElapsedTime(start).TotalSeconds;
        int granted = results.Count(r => r.Granted);
        var ms = results.Select(r => r.TotalMilliseconds).Order().ToArray();
        double P(double q) => ms[Math.Max(0, (int)Math.Ceiling(ms.Length * q) - 1)];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"engine\": \"{db.Engine.ToString().ToLowerInvariant()}\", \"attempts\": {s.Attempts}, \"boards\": {s.Boards}, \"granted\": {granted}, \"doubleBookings\": {Math.Max(0, granted - s.Boards)}, \"seconds\": {wall:0.000}, \"acquisitionsPerSecond\": {s.Attempts / wall:0.0}, \"p50Ms\": {P(0.5):0.00}, \"p99Ms\": {P(0.99):0.00}}}"));
        return granted == s.Boards ? 0 : 1;
    }
}
