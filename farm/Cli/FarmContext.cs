using Farm.Jobs;
using Farm.Lab;
using Farm.Lab.Health;
using Farm.Lab.Leases;
using Farm.Lab.Queue;
using Farm.Reports;
using Microsoft.Extensions.Logging;
using Spectre.Console.Cli;

namespace Farm.Cli;

/// <summary>
/// One command's composition root: the clock, the logs and the stores it opens, built once by
/// <see cref="FarmApp"/> for the command it runs and handed down as parameters, so library code
/// never reaches for <see cref="TimeProvider.System"/> or a console of its own. Tests build one
/// with a <c>FakeTimeProvider</c> and an in-memory logger.
/// </summary>
internal sealed class FarmContext : IDisposable
{
    readonly Func<ILoggerFactory> _logs;
    ILoggerFactory? _made;

    public FarmContext(TimeProvider time, Func<ILoggerFactory> logs)
    {
        Time = time;
        _logs = logs;
    }

    /// <summary>The real clock, and logs to stderr (<see cref="FarmLogging.Console"/>).</summary>
    public static FarmContext CreateDefault() => new(TimeProvider.System, FarmLogging.Console);

    /// <summary>The context <see cref="FarmApp"/> attached to the running command.</summary>
    public static FarmContext Of(CommandContext context) =>
        context.Data as FarmContext ?? throw new InvalidOperationException($"command {context.Name} was not given a {nameof(FarmContext)}");

    public TimeProvider Time { get; }

    /// <summary>Made on first use: a command that logs nothing (farm run, the start-up path ci/bench measures) never starts the console logger.</summary>
    public ILoggerFactory Logs => _made ??= _logs();

    public ILogger Logger(string category) => Logs.CreateLogger(category);

    public Task<LabDatabase> OpenLabAsync(LeaseSettings s, CancellationToken ct) => s.OpenDatabaseAsync(ct);

    public LeaseStore Leases(LabDatabase db) => new(db, Time);

    public JobQueue Queue(LabDatabase db) => new(db, Time);

    public BoardEventStore Events(LabDatabase db) => new(db, Time);

    public Task<IRunStore> OpenRunStoreAsync(string outDirectory, string? store, CancellationToken ct) => RunSinks.OpenStoreAsync(outDirectory, store, ct);

    public JobRunner Runner(IReadOnlyList<IRunSink> sinks) => new(Time, sinks);

    public void Dispose() => _made?.Dispose();   // flushes the console logger's queue before the process ends
}

/// <summary>
/// Farm's logs: the console logger on stderr (stdout stays the commands' output, which scripts and
/// scenarios parse), one line per event, or with <c>FARM_LOG_FORMAT=json</c> one JSON object per
/// event with every field of the message template under <c>State</c>. <c>FARM_LOG_LEVEL</c> lowers
/// or raises the threshold (default Information; Microsoft's own categories from Warning).
/// </summary>
internal static class FarmLogging
{
    public static ILoggerFactory Console() => LoggerFactory.Create(b =>
    {
        var level = Enum.TryParse<LogLevel>(Environment.GetEnvironmentVariable("FARM_LOG_LEVEL"), ignoreCase: true, out var l) ? l : LogLevel.Information;
        b.SetMinimumLevel(level).AddFilter("Microsoft", LogLevel.Warning).AddFilter("System", LogLevel.Warning);
        if (string.Equals(Environment.GetEnvironmentVariable("FARM_LOG_FORMAT"), "json", StringComparison.OrdinalIgnoreCase))
            b.AddJsonConsole(j => { j.UseUtcTimestamp = true; j.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ"; });
        else
            b.AddSimpleConsole(c => { c.SingleLine = true; c.UseUtcTimestamp = true; c.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ "; });
        b.AddConsole(c => c.LogToStandardErrorThreshold = LogLevel.Trace);
    });
}

/// <summary>Hands a command's logger factory to a host that builds its own (the lab API's WebApplication).</summary>
internal sealed class ForwardingLoggerProvider(ILoggerFactory logs) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => logs.CreateLogger(categoryName);

    public void Dispose() { }   // the command's context owns the factory
}
