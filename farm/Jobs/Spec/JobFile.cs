using System.Text.RegularExpressions;
using Farm.Spec;
using Farm.Serial;

namespace Farm.Jobs.Spec;

/// <summary>
/// Loads job files (<c>jobs/*.yaml</c>). Everything is checked before anything runs, and a
/// file with mistakes throws one <see cref="ConfigurationException"/> listing all of them
/// (<c>file:line:column: field.path: what is wrong</c>), one per line.
/// </summary>
internal static partial class JobFile
{
    static readonly string[] Keys = ["name", "description", "board", "tags", "artifacts", "boot", "timeouts", "expect", "commands", "checks", "metadata", "crash-patterns", "guests"];
    // Every stage Farm knows (StageKinds), guest stages included, and the whole job.
    static readonly string[] TimeoutKeys = [.. StageKinds.All.Select(k => k.Name), "job"];
    static readonly string[] ExpectKeys = ["xen-banner", "dom0-prompt"];

    /// <summary>Reads and validates a job file; a missing file is a <see cref="ConfigurationException"/> naming the path.</summary>
    public static JobSpec Load(string path) => Parse(SpecReader.ReadSource(path, "job file"), path);

    /// <summary>Validates job YAML; <paramref name="sourceName"/> prefixes every error (usually the path).</summary>
    public static JobSpec Parse(string yaml, string sourceName)
    {
        var reader = new SpecReader(sourceName);
        var job = reader.Root(yaml, Keys) is { } root ? Read(root) : null;
        if (reader.Errors.Count > 0 || job is null) throw SpecError.Combine(reader.Errors);
        return job;
    }

    static readonly Dictionary<string, BootMode> BootModes = new() { ["cold"] = BootMode.Cold, ["snapshot"] = BootMode.Snapshot };

    static JobSpec? Read(SpecMapping root)
    {
        var name = root.Text("name", required: true);
        if (name is not null && !SpecName.Rule().IsMatch(name)) root.Report("name", $"\"{name}\" is not a valid name ({SpecName.RuleText})");

        var board = root.Text("board");
        var tagList = root.TextList("tags", "tag", duplicateReason: "listed twice");
        var tags = tagList ?? [];
        if (board is null && !root.Has("tags"))
            root.Missing("board", "a board name, or tags: [...] to match any board carrying all of them");
        else if (board is null && tagList is { Count: 0 })
            root.Report("tags", "an empty tag list would match every board; name a board or at least one tag");

        var artifacts = root.Text("artifacts", required: true, "an artifact set name such as bookworm, or a directory");
        var boot = root.Choice("boot", BootModes) ?? BootMode.Cold;
        var timeouts = ReadTimeouts(root.Mapping("timeouts", TimeoutKeys));
        var expect = ReadExpect(root);
        var commands = root.TextList("commands", "command",
            duplicateReason: "evidence is stored per command line, so the second output would overwrite the first") ?? [];
        var checks = root.TextList("checks", "check", duplicateReason: "it would run twice") ?? [];
        var metadata = root.TextMap("metadata") ?? new Dictionary<string, string>();
        var crashPatterns = root.CrashPatternMap("crash-patterns");
        var guests = GuestFile.Read(root);

        if (name is null || artifacts is null || expect is null || timeouts is null) return null;
        return new JobSpec
        {
            Name = name,
            Description = root.Text("description") ?? "",
            BoardName = board,
            Tags = tags,
            Artifacts = artifacts,
            Boot = boot,
            StageTimeouts = timeouts,
            Expect = expect,
            Commands = commands,
            Checks = checks,
            Metadata = metadata,
            CrashPatterns = crashPatterns,
            Guests = guests,
            SourcePath = root.Reader.Source,
            Positions = new Dictionary<string, SpecPosition>(root.Reader.Positions),
        };
    }

    static StageTimeouts? ReadTimeouts(SpecMapping? map)
    {
        if (map is null) return StageTimeouts.Default;
        var set = new Dictionary<string, TimeSpan>(StringComparer.Ordinal);
        foreach (var kind in StageKinds.All)
            if (map.Duration(kind.Name) is { } d) set[kind.Name] = d;
        var t = new StageTimeouts(set, map.Duration("job"));
        // LAVA refuses an action timeout above the job timeout: the job would be killed first,
        // and the report would blame the wrong stage.
        foreach (var (key, timeout) in set)
            if (timeout > t.Job)
                map.Report(key, $"{Duration.Format(timeout)} is longer than the whole job ({Duration.Format(t.Job)}, timeouts.job)");
        return t;
    }

    static ConsoleExpectations? ReadExpect(SpecMapping root)
    {
        const string hint = "a regex for the shell prompt, e.g. 'root@farm:~# '";
        if (root.Mapping("expect", ExpectKeys) is not { } map)
        {
            if (!root.Has("expect")) root.Reader.Report(root.At, "expect.dom0-prompt", $"required field is missing ({hint})");
            return null;
        }
        var banner = map.Pattern("xen-banner");
        var prompt = map.Pattern("dom0-prompt", required: true, hint);
        return prompt is null ? null : new ConsoleExpectations { XenBanner = banner, Dom0Prompt = prompt };
    }
}
