using System.ComponentModel;
using System.Text;
using Farm.Analyze;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Farm.Cli;

/// <summary>
/// <c>farm analyze FILE... [--kind K] [--json]</c>: judges logs captured outside Farm (a serial capture
/// from a board on a desk, a log pasted into a bug report) with the same parsers and checks as a run.
/// Exit code follows the verdicts: 0 when every check is as expected, 1 when one is not; a file that
/// cannot be read, is too big or is binary is an error (2) naming it.
/// </summary>
internal sealed class AnalyzeCommand : AsyncCommand<AnalyzeCommand.Settings>
{
    /// <summary>Larger than any boot log (a whole Xen + dom0 boot with loglvl=all is well under 1 MiB).</summary>
    public const long MaxFileBytes = 16L << 20;

    public const int MaxFiles = 64;

    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<file>")]
        [Description("Log files: a serial console, dmesg, lspci -vvv, /proc/interrupts, /proc/iomem or xl output.")]
        public string[] Files { get; init; } = [];

        [CommandOption("--kind <KIND>")]
        [Description("xen-console, dmesg, lspci, interrupts, iomem, xl or auto (default: detect each file's kind).")]
        public string Kind { get; init; } = "auto";

        [CommandOption("--json")]
        [Description("Print one JSON document (files, facts, checks as in run.json, verdict) to stdout.")]
        public bool Json { get; init; }

        public override ValidationResult Validate() =>
            !LogAnalysis.TryParseKind(Kind, out _) ? ValidationResult.Error($"--kind {Kind}: expected one of {string.Join(", ", LogAnalysis.KindNames)}")
            : Files.Length == 0 ? ValidationResult.Error("name at least one log file")
            : Files.Length > MaxFiles ? ValidationResult.Error($"at most {MaxFiles} files at once")
            : ValidationResult.Success();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken ct)
    {
        LogAnalysis.TryParseKind(s.Kind, out var kind);
        var inputs = new List<LogInput>();
        foreach (var file in s.Files) inputs.Add(new LogInput(file, await ReadLogAsync(file, ct), kind));
        var report = LogAnalysis.Analyze(inputs);
        if (s.Json)
        {
            await Console.Out.WriteLineAsync(report.ToJson().AsMemory(), ct);
            await Console.Out.FlushAsync(ct);
        }
        else AnalysisRenderer.Render(Console.IsOutputRedirected ? PlainConsole() : AnsiConsole.Console, report);
        return report.Verdict.ExitCode();
    }

    /// <summary>Piped output gets no colours or cursor codes: a file or a CI log reads it as text.</summary>
    static IAnsiConsole PlainConsole()
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(Console.Out),
        });
        console.Profile.Width = 160;
        return console;
    }

    /// <summary>
    /// Reads one log, bounded: a regular file of at most <see cref="MaxFileBytes"/>, text rather than a
    /// binary (a NUL-heavy or control-character-heavy start), decoded as UTF-8 with bad bytes replaced.
    /// </summary>
    public static async Task<string> ReadLogAsync(string path, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(path) || path.Contains('\0'))
            throw new ConfigurationException("analyze: an empty or NUL-containing file name");
        if (Directory.Exists(path)) throw new ConfigurationException($"{path}: is a directory, not a log file");
        if (!File.Exists(path)) throw new ConfigurationException($"{path}: no such file");
        byte[] bytes;
        try
        {
            await using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 64 * 1024, useAsync: true);
            if (!fs.CanSeek) throw new ConfigurationException($"{path}: not a regular file (a device or a pipe); save the log to a file first");
            if (fs.Length > MaxFileBytes) throw new ConfigurationException($"{path}: {fs.Length} bytes, more than the {MaxFileBytes >> 20} MiB a log may have; cut it to the boot you want judged");
            bytes = new byte[fs.Length];
            int read = 0;
            while (read < bytes.Length && await fs.ReadAsync(bytes.AsMemory(read), ct) is var n && n > 0) read += n;
            if (read < bytes.Length) Array.Resize(ref bytes, read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigurationException($"{path}: cannot read: {e.Message}", null, e);
        }
        if (LooksBinary(bytes)) throw new ConfigurationException($"{path}: a binary file, not a text log (NUL or control bytes at its start)");
        return new UTF8Encoding(false, false).GetString(bytes);
    }

    internal static bool LooksBinary(ReadOnlySpan<byte> bytes)
    {
        var head = bytes[..Math.Min(bytes.Length, 64 * 1024)];
        int odd = 0;
        foreach (var b in head)
            if (b == 0 || (b < 0x20 && b is not ((byte)'\n' or (byte)'\r' or (byte)'\t' or 0x1b or 0x08 or 0x07 or 0x0c))) odd++;
        return head.Length > 0 && odd * 100 > head.Length;
    }
}
