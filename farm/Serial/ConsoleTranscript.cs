using System.Globalization;
using System.Text;

namespace Farm.Serial;

/// <summary>
/// Writes a broker's output to disk as it arrives: console.log (one line per console line,
/// prefixed with its UTC arrival time) and console.raw (the bytes exactly as received).
/// Runs beside the read loop, never inside it, so disk latency cannot stall the guest.
/// Appends, so the transcript of a board that is power-cycled within a run stays one file.
/// </summary>
public sealed class ConsoleTranscript : IAsyncDisposable
{
    readonly Task _lines;
    readonly Task _raw;

    ConsoleTranscript(Task lines, Task raw) => (_lines, _raw) = (lines, raw);

    public static ConsoleTranscript Start(ConsoleBroker broker, string logPath, string? rawPath = null)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(logPath))!);
        var reader = broker.Subscribe(replay: true);
        var lines = Task.Run(async () =>
        {
            await using var w = new StreamWriter(logPath, append: true, new UTF8Encoding(false), 1 << 16);
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out var l))
                    await w.WriteLineAsync(Format(l)).ConfigureAwait(false);
                await w.FlushAsync().ConfigureAwait(false);
            }
        });
        var raw = rawPath is null ? DrainAsync(broker) : Task.Run(async () =>
        {
            await using var f = new FileStream(rawPath, FileMode.Append, FileAccess.Write, FileShare.Read, 1 << 16, useAsync: true);
            // Flush whenever the broker has nothing more queued: a crash loses no more than the
            // chunk in hand, and readers of the file (tail -f, ci/bench) see bytes as they come.
            while (await broker.Raw.WaitToReadAsync().ConfigureAwait(false))
            {
                while (broker.Raw.TryRead(out var chunk))
                    await f.WriteAsync(chunk).ConfigureAwait(false);
                await f.FlushAsync().ConfigureAwait(false);
            }
        });
        return new ConsoleTranscript(lines, raw);
    }

    static async Task DrainAsync(ConsoleBroker broker)
    {
        await foreach (var _ in broker.Raw.ReadAllAsync().ConfigureAwait(false)) { }
    }

    public static string Format(ConsoleLine l) =>
        "[" + l.Timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture) + "] " + l.Text;

    /// <summary>Completes once the broker has closed and every line is on disk.</summary>
    public async ValueTask DisposeAsync()
    {
        await _lines.ConfigureAwait(false);
        await _raw.ConfigureAwait(false);
    }
}
