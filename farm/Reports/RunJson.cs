using System.Text.Json;
using Farm.Jobs;

namespace Farm.Reports;

/// <summary>
/// <c>run.json</c>: the machine-readable record of one run (camelCase, durations in seconds,
/// verdicts as their wire names). Written when the run starts (verdict incomplete) and again
/// when it ends, each time atomically, so a reader or a crash never sees half a file.
/// </summary>
internal sealed class RunJsonSink : IRunSink
{
    public const string FileName = "run.json";

    /// <summary>run.json's serialiser settings (<see cref="RunRecordJson"/>, beside the record in Core).</summary>
    public static JsonSerializerOptions Options => RunRecordJson.Options;

    public Task StartedAsync(RunRecord pending, CancellationToken ct) => WriteAsync(pending, ct);

    public Task FinishedAsync(RunRecord final, CancellationToken ct) => WriteAsync(final, ct);

    public static async Task WriteAsync(RunRecord record, CancellationToken ct)
    {
        if (record.RunDirectory is not { } dir) return;
        await AtomicFile.WriteAsync(Path.Combine(dir, FileName), s => JsonSerializer.SerializeAsync(s, record, RunJsonContext.Default.RunRecord, ct), ct).ConfigureAwait(false);
    }

    /// <summary>Reads a run.json back; a missing or garbled file is a <see cref="ConfigurationException"/> naming it.</summary>
    public static async Task<RunRecord> ReadAsync(string path, CancellationToken ct)
    {
        try
        {
            await using var s = File.OpenRead(path);
            return await JsonSerializer.DeserializeAsync(s, RunJsonContext.Default.RunRecord, ct).ConfigureAwait(false)
                ?? throw new ConfigurationException($"{path}: empty run record");
        }
        catch (Exception e) when (e is JsonException or IOException or NotSupportedException)
        {
            throw new ConfigurationException($"{path}: not a readable run record: {e.Message}", null, e);
        }
    }
}

/// <summary>Write to a temporary file beside the target, then rename over it.</summary>
internal static class AtomicFile
{
    public static async Task WriteAsync(string path, Func<Stream, Task> write, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var tmp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            await using (var s = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024, useAsync: true))
            {
                await write(s).ConfigureAwait(false);
                await s.FlushAsync(ct).ConfigureAwait(false);
            }
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    public static Task WriteTextAsync(string path, string text, CancellationToken ct) =>
        WriteAsync(path, s => s.WriteAsync(System.Text.Encoding.UTF8.GetBytes(text), ct).AsTask(), ct);
}
