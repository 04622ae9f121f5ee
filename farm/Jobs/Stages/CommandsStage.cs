using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace Farm.Jobs.Stages;

/// <summary>
/// Runs the job's commands on the target and keeps each one's output as evidence:
/// <c>evidence/&lt;slug&gt;.txt</c> (stdout exactly), <c>.stderr</c> when not empty, and
/// <c>evidence/commands.json</c> (command, file, exit code, duration). A non-zero exit is
/// evidence for the checks to judge (xl on a native target fails, rightly), not a stage failure.
/// </summary>
internal sealed partial class CommandsStage(IReadOnlyList<string> commands, TimeSpan timeout) : Stage("commands", timeout)
{
    public override async Task RunAsync(RunContext ctx, CancellationToken ct)
    {
        var shell = ctx.Shell ?? throw new InfrastructureException("stage 'commands': no shell on the target");
        Directory.CreateDirectory(ctx.EvidenceDirectory);
        var index = new List<CommandIndexEntry>();
        foreach (var command in commands)
        {
            CommandResult r = null!;
            await ctx.WatchedAsync(Name, async t => r = await shell.RunAsync(command, Timeout, t).ConfigureAwait(false), ct).ConfigureAwait(false);
            var slug = Slug(command);
            await File.WriteAllTextAsync(Path.Combine(ctx.EvidenceDirectory, slug + ".txt"), r.StdOut, ct).ConfigureAwait(false);
            if (r.StdErr.Length > 0)
                await File.WriteAllTextAsync(Path.Combine(ctx.EvidenceDirectory, slug + ".stderr"), r.StdErr, ct).ConfigureAwait(false);
            // Checks judge what the target said on both streams (xl reports errors on stderr).
            ctx.CommandOutputs[command] = r.StdErr.Length == 0 ? r.StdOut : r.StdOut + r.StdErr;
            index.Add(new CommandIndexEntry(command, slug + ".txt", r.ExitCode, r.Duration.TotalSeconds));
            ctx.Metrics[$"command.{slug}.seconds"] = r.Duration.TotalSeconds;
        }
        await File.WriteAllTextAsync(Path.Combine(ctx.EvidenceDirectory, "commands.json"),
            CommandIndexEntry.ToJson(index), new UTF8Encoding(false), ct).ConfigureAwait(false);
    }

    /// <summary>"cat /proc/interrupts" → "cat-proc-interrupts"; "lspci -vvv" → "lspci-vvv".</summary>
    public static string Slug(string command)
    {
        var s = NonWord().Replace(command.Trim(), "-").Trim('-').ToLowerInvariant();
        if (s.Length == 0) return "command";
        if (s.Length <= 80) return s;
        // Long probes share prefixes: keep them apart with a hash of the whole command.
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(command)))[..8];
        return s[..71].TrimEnd('-') + "-" + hash;
    }

    [GeneratedRegex("[^A-Za-z0-9_.]+")]
    private static partial Regex NonWord();
}

/// <summary>One line of <c>evidence/commands.json</c>: a command, the file with its output, its exit code and duration.</summary>
internal sealed record CommandIndexEntry(string Command, string File, int ExitCode, double DurationSeconds)
{
    public static string ToJson(IReadOnlyList<CommandIndexEntry> index) => JsonSerializer.Serialize(index, CommandIndexJsonContext.Default.IReadOnlyListCommandIndexEntry);
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(IReadOnlyList<CommandIndexEntry>))]
internal sealed partial class CommandIndexJsonContext : JsonSerializerContext;
