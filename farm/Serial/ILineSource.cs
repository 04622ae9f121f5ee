using System.Text.RegularExpressions;

namespace Farm.Serial;

/// <summary>
/// What a <see cref="ConsoleCursor"/> reads: a console's numbered lines and its partial last line.
/// The source does the matching where the lines arrive, so a waiting expect costs nothing per read
/// and its task completes once, at the match (or when the console closes).
/// </summary>
internal interface ILineSource
{
    string Name { get; }

    /// <summary>Why the console closed, once it has.</summary>
    string? CloseReason { get; }

    /// <summary>The number of complete lines so far: where a cursor "from now" starts.</summary>
    int LineCount { get; }

    IReadOnlyList<string> Tail(int count);

    /// <summary>
    /// Completes with the first match at or after <paramref name="at"/> (complete lines first, then,
    /// with <paramref name="partial"/>, the unfinished last line), moving <paramref name="at"/> past it;
    /// or with a null match when the console closed first. Unmatched complete lines move
    /// <paramref name="at"/> on as they are scanned, so a cancelled wait never scans them again.
    /// </summary>
    Task<Match?> FindAsync(Regex pattern, LinePosition at, bool partial, CancellationToken ct);
}

/// <summary>A place in a console: a line index and a character offset within that line.</summary>
internal sealed class LinePosition
{
    public int Line;
    public int Offset;
}

/// <summary>
/// Sees a console's output on its reader's thread, once per read: no task, no channel, no thread
/// hop per read. Must not block (it delays the next read, and QEMU's guest with it) and must not throw.
/// </summary>
internal interface IConsoleObserver
{
    /// <summary>
    /// One read: its bytes exactly as received and the complete lines it ended (either may be empty).
    /// The spans are valid only during the call.
    /// </summary>
    void OnRead(ReadOnlySpan<byte> raw, ReadOnlySpan<ConsoleLine> lines);

    /// <summary>The console ended (after the last <see cref="OnRead"/>, which carried its unfinished line).</summary>
    void OnClosed(string reason);
}
