using System.Globalization;
using System.Runtime.ExceptionServices;
using System.Text;

namespace Farm.Serial;

/// <summary>
/// Writes a broker's output to disk as it arrives: console.log (one line per console line,
/// prefixed with its UTC arrival time) and console.raw (the bytes exactly as received).
/// Appends, so the transcript of a board that is power-cycled within a run stays one file.
/// <para>
/// The transcript observes the broker: it is called on the read loop once per read and ends each
/// call with one write(2) per file (a page-cache write of microseconds), so no task, channel or
/// thread hop is paid per read, and whatever Farm has read is in the kernel before it reads again.
/// Reads of a paced console are at least <see cref="TtyReactor.ReadInterval"/> apart, so that
/// interval is the flush interval: a SIGKILL of Farm loses at most the bytes of the one read it was
/// writing when it died (nothing waits in a user-space buffer for more input).
/// </para>
/// </summary>
internal sealed class ConsoleTranscript : IAsyncDisposable, IConsoleObserver
{
    const int BufferSize = 1 << 16;
    const string StampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";

    readonly StreamWriter _log;
    readonly FileStream? _raw;
    readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    IDisposable? _subscription;
    ExceptionDispatchInfo? _failure;

    ConsoleTranscript(string logPath, string? rawPath)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(logPath))!);
        // Synchronous writes on purpose: they land in the page cache in microseconds, and an
        // async FileStream on Linux would only hand the same pwrite to a pool thread.
        _log = new StreamWriter(new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.Read, 1),
            new UTF8Encoding(false), BufferSize);
        _raw = rawPath is null ? null : new FileStream(rawPath, FileMode.Append, FileAccess.Write, FileShare.Read, 1);
    }

    /// <summary>
    /// Starts recording <paramref name="broker"/>: every line so far, and the bytes it read before
    /// (start it before <see cref="ConsoleBroker.Start"/> for an exact console.raw), then each read.
    /// </summary>
    public static ConsoleTranscript Start(ConsoleBroker broker, string logPath, string? rawPath = null)
    {
        var t = new ConsoleTranscript(logPath, rawPath);
        t._subscription = broker.Observe(t, replay: true, raw: rawPath is not null);
        return t;
    }

    void IConsoleObserver.OnRead(ReadOnlySpan<byte> raw, ReadOnlySpan<ConsoleLine> lines)
    {
        if (_failure is not null) return;
        try
        {
            if (!raw.IsEmpty) _raw?.Write(raw);
            if (lines.IsEmpty) return;
            Span<char> stamp = stackalloc char[32];
            foreach (var l in lines)
            {
                l.Timestamp.UtcDateTime.TryFormat(stamp, out int n, StampFormat, CultureInfo.InvariantCulture);
                _log.Write('[');
                _log.Write(stamp[..n]);
                _log.Write("] ");
                _log.Write(l.Text);
                _log.Write('\n');
            }
            _log.Flush();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A full disk stops the transcript, never the console: the error surfaces at dispose.
            _failure = ExceptionDispatchInfo.Capture(e);
        }
    }

    void IConsoleObserver.OnClosed(string reason)
    {
        try
        {
            _log.Dispose();
            _raw?.Dispose();
        }
        catch (IOException e)
        {
            _failure ??= ExceptionDispatchInfo.Capture(e);
        }
        _closed.TrySetResult();
    }

    public static string Format(ConsoleLine l) =>
        "[" + l.Timestamp.UtcDateTime.ToString(StampFormat, CultureInfo.InvariantCulture) + "] " + l.Text;

    /// <summary>Completes once the broker has closed and every line is on disk.</summary>
    public async ValueTask DisposeAsync()
    {
        await _closed.Task.ConfigureAwait(false);
        _subscription?.Dispose();
        _failure?.Throw();
    }
}
