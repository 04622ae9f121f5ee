using System.Text;
using Farm.Jobs;
using Microsoft.AspNetCore.Http;
using static Farm.Reports.HtmlText;
using static Farm.Web.Ui.Html;

namespace Farm.Web.Ui;

/// <summary>
/// A run's console in the browser: the transcript so far (HTML-encoded) and, while the run is
/// going, every new complete line as a server-sent event, read from the console.log the run's
/// transcript writer flushes line by line. The stream ends with an <c>end</c> event once the run's
/// record holds its verdict and the file has stopped growing.
/// </summary>
internal static class ConsoleTail
{
    const int PageBytes = 512 * 1024;

    public static string? LogPath(RunRecord r) => r.RunDirectory is null ? null : Path.Combine(r.RunDirectory, r.Board, "console.log");

    public static async Task<string> PageAsync(RunRecord r, CancellationToken ct)
    {
        var path = LogPath(r);
        string text = "";
        long offset = 0;
        bool truncated = false;
        if (path is not null && File.Exists(path))
        {
            await using var f = Open(path);
            long start = Math.Max(0, f.Length - PageBytes);
            truncated = start > 0;
            f.Seek(start, SeekOrigin.Begin);
            var bytes = new byte[f.Length - start];
            int n = await f.ReadAtLeastAsync(bytes, bytes.Length, throwOnEndOfStream: false, ct);
            int end = Array.LastIndexOf(bytes, (byte)'\n', Math.Max(0, n - 1)) + 1;   // whole lines only; the stream sends the rest
            text = Encoding.UTF8.GetString(bytes, 0, end);
            offset = start + end;
        }
        var live = JobRunner.IsPending(r);
        return $"""
            <p>{E(r.Job)} on {E(r.Board)} · <a href="/runs/{Q(r.RunId)}">run</a> · <a href="/runs/{Q(r.RunId)}/files/{Q(r.Board)}/console.log">console.log</a> · <span id="live">{(live ? "connecting…" : "finished")}</span>{(truncated ? " · showing the last 512 KiB" : "")}</p>
            <pre id="console" data-live="{(live ? "yes" : "no")}" data-stream="/runs/{Q(r.RunId)}/console/stream?from={offset}">{E(text)}</pre>
            <script src="/static/console.js"></script>
            """;
    }

    public static async Task StreamAsync(HttpContext ctx, RunRecord r, long from, Func<CancellationToken, Task<bool>> finished, TimeProvider time)
    {
        var ct = ctx.RequestAborted;
        ctx.Response.ContentType = "text/event-stream";
        ctx.Response.Headers.CacheControl = "no-cache";
        ctx.Response.Headers["X-Accel-Buffering"] = "no";
        await ctx.Response.WriteAsync(": farm console\n\n", ct);
        await ctx.Response.Body.FlushAsync(ct);
        var path = LogPath(r);
        long pos = Math.Max(0, from);
        var pending = new List<byte>();
        int idle = 0;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var chunk = path is null ? [] : await ReadFromAsync(path, pos, 1 << 20, ct);
                bool grew = chunk.Length > 0;
                if (grew)
                {
                    pos += chunk.Length;
                    pending.AddRange(chunk);
                    await SendLinesAsync(ctx.Response, pending, ct);
                }
                idle = grew ? 0 : idle + 1;
                // Every ~2 s of quiet, ask the store whether the run is over.
                if (idle > 0 && idle % 8 == 0 && await finished(ct))
                {
                    await ctx.Response.WriteAsync("event: end\ndata: finished\n\n", ct);
                    await ctx.Response.Body.FlushAsync(ct);
                    return;
                }
                await Task.Delay(TimeSpan.FromMilliseconds(250), time, ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
    }

    /// <summary>Sends each complete line in <paramref name="pending"/> as one event; keeps a partial last line for later.</summary>
    static async Task SendLinesAsync(HttpResponse res, List<byte> pending, CancellationToken ct)
    {
        int last = pending.LastIndexOf((byte)'\n');
        if (last < 0) return;
        var text = Encoding.UTF8.GetString(pending.GetRange(0, last).ToArray());
        pending.RemoveRange(0, last + 1);
        var sb = new StringBuilder();
        // SSE splits on CR and LF: one "data:" per console line, never a raw CR inside one.
        foreach (var line in text.Split('\n')) sb.Append("data: ").Append(line.Replace("\r", "")).Append("\n\n");
        await res.WriteAsync(sb.ToString(), ct);
        await res.Body.FlushAsync(ct);
    }

    /// <summary>What a growing file holds from <paramref name="offset"/> (at most <paramref name="max"/> bytes), read beside its writer; empty when there is nothing new.</summary>
    public static async Task<byte[]> ReadFromAsync(string path, long offset, int max, CancellationToken ct)
    {
        if (!File.Exists(path)) return [];
        await using var f = Open(path);
        if (f.Length <= offset) return [];
        f.Seek(offset, SeekOrigin.Begin);
        var buf = new byte[Math.Min(f.Length - offset, max)];
        int n = await f.ReadAtLeastAsync(buf, buf.Length, throwOnEndOfStream: false, ct).ConfigureAwait(false);
        return n == buf.Length ? buf : buf[..n];
    }

    static FileStream Open(string path) => new(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16, useAsync: true);
}
