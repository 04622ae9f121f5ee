using System.Globalization;
using System.Text;

namespace Farm.Serial;

/// <summary>
/// Writes a broker's output to disk as it arrives: console.log (one line per console line,
/// prefixed with its UTC arrival time) and console.raw (the bytes exactly as received).
/// Runs beside the read loop, never inside it, so disk latency cannot stall the guest.
/// Appends, so the transcript of a board that is power-cycled within a run stays one file.
/// <para>
/// One writer for both files, woken once per chunk the broker read: each wake-up ends with one
/// write(2) per file, whatever the number of bytes and lines in hand. Chunks are at least
/// <see cref="TtyReactor.ReadInterval"/> apart on a paced console, so that interval is the flush
/// interval: a SIGKILL of Farm loses at most the bytes it read in the last one (the kernel holds
/// every write already made; nothing waits in a user-space buffer for more input).
/// </para>
/// </summary>
internal sealed class ConsoleTranscript : IAsyncDisposable
{
    const int BufferSize = 1 << 16;

    readonly Task _writer;

    ConsoleTranscript(Task writer) => _writer = writer;

    public static ConsoleTranscript Start(ConsoleBroker broker, string logPath, string? rawPath = null)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(logPath))!);
        var lines = broker.Subscribe(replay: true);
        return new ConsoleTranscript(Task.Run(async () =>
        {
            // Synchronous writes on purpose: they land in the page cache in microseconds, and an
            // async FileStream on Linux would only hand the same pwrite to another pool thread.
            using var log = new StreamWriter(new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.Read, 1),
                new UTF8Encoding(false), BufferSize);
            using var raw = rawPath is null ? null : new FileStream(rawPath, FileMode.Append, FileAccess.Write, FileShare.Read, BufferSize);
            // The broker publishes a chunk's lines before its raw bytes, and completes the line
            // channel before the raw one: waking on raw finds every line of that chunk queued.
            while (await broker.Raw.WaitToReadAsync().ConfigureAwait(false))
            {
                while (broker.Raw.TryRead(out var chunk)) raw?.Write(chunk.Span);
                WriteLines();
            }
            WriteLines();

            void WriteLines()
            {
                while (lines.TryRead(out var l))
                {
                    log.Write(Format(l));
                    log.Write('\n');
                }
                log.Flush();
                raw?.Flush();
            }
        }));
    }

    public static string Format(ConsoleLine l) =>
        "[" + l.Timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture) + "] " + l.Text;

    /// <summary>Completes once the broker has closed and every line is on disk.</summary>
    public async ValueTask DisposeAsync() => await _writer.ConfigureAwait(false);
}
