using System.Text.RegularExpressions;
using Farm.Spec;

namespace Farm.Boards.Spec;

/// <summary>
/// Loads lab files (<c>boards/*.yaml</c>): board types and the boards built from them. All files
/// are read before anything is judged, because a board may use a type from another file and a
/// name may clash across files; then every mistake in every file is thrown as one
/// <see cref="ConfigurationException"/>, one line each.
/// </summary>
internal static partial class LabFile
{
    /// <summary>Where <c>farm</c> looks when given no lab paths.</summary>
    public const string DefaultDirectory = "boards";

    static readonly string[] FileKeys = ["board-types", "boards"];
    static readonly Dictionary<string, BoardMode> Modes = new() { ["xen"] = BoardMode.Xen, ["native"] = BoardMode.Native };

    /// <summary>Keys every board type and board may have, whatever its kind; the rest belong to the kinds (<see cref="BoardKinds"/>).</summary>
    internal static readonly string[] CommonKeys = ["name", "type", "tags", "kind", "mode", "xen-cmdline", "linux-cmdline", "expected-pci", "crash-patterns"];

    /// <summary>What a board type takes: the common settings with each kind's shared sections (<c>qemu</c>, <c>uboot</c>).</summary>
    static string[] SettingKeys(IReadOnlyList<BoardKindEntry> kinds) =>
        ["kind", "mode", .. kinds.SelectMany(k => k.Sections).Where(s => !s.BoardOnly).Select(s => s.Key), "xen-cmdline", "linux-cmdline", "expected-pci", "crash-patterns"];

    /// <summary>What a board takes: its name, type and tags, the kinds' board-only sections (<c>power</c>...), and the settings.</summary>
    static string[] BoardKeys(IReadOnlyList<BoardKindEntry> kinds) =>
        ["name", "type", "tags", .. kinds.SelectMany(k => k.Sections).Where(s => s.BoardOnly).Select(s => s.Key), .. SettingKeys(kinds)];

    [GeneratedRegex(@"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$", RegexOptions.CultureInvariant)]
    private static partial Regex Bdf();

    /// <summary>
    /// Loads lab files; each path is a file or a directory whose <c>*.yaml</c> files are all read
    /// (in name order). With no paths, reads <see cref="DefaultDirectory"/>.
    /// </summary>
    public static LabSpec Load(params string[] paths)
    {
        if (paths.Length == 0) paths = [DefaultDirectory];
        var files = new List<(string SourceName, string Yaml)>();
        foreach (var path in paths)
        {
            if (Directory.Exists(path))
            {
                var found = Directory.GetFiles(path, "*.yaml").Concat(Directory.GetFiles(path, "*.yml")).Order(StringComparer.Ordinal).ToList();
                if (found.Count == 0) throw new ConfigurationException($"no *.yaml lab files in {path}", [Path.GetFullPath(path)]);
                files.AddRange(found.Select(f => (f, SpecReader.ReadSource(f, "lab file"))));
            }
            else
            {
                files.Add((path, SpecReader.ReadSource(path, "lab file")));
            }
        }
        return Parse(files);
    }

    public static LabSpec Parse(string yaml, string sourceName) => Parse([(sourceName, yaml)]);

    /// <summary>Validates several lab files as one lab; names must be unique across all of them.</summary>
    public static LabSpec Parse(IEnumerable<(string SourceName, string Yaml)> files)
    {
        var kinds = BoardKinds.All;
        var errors = new List<SpecError>();
        var types = new Dictionary<string, BoardTypeSpec>(StringComparer.Ordinal);
        var entries = new List<BoardEntry>();
        foreach (var (sourceName, yaml) in files)
        {
            var reader = new SpecReader(sourceName);
            if (reader.Root(yaml, FileKeys) is { } root)
            {
                foreach (var type in ReadTypes(root, kinds))
                {
                    if (types.TryGetValue(type.Name, out var first))
                        errors.Add(new SpecError(type.At, $"board-types.{type.Name}", $"duplicate board type (first defined at {first.At})"));
                    else
                        types[type.Name] = type;
                }
                entries.AddRange(ReadBoards(root, kinds));
            }
            errors.AddRange(reader.Errors);
        }

        var boards = new List<BoardSpec>();
        var seen = new Dictionary<string, BoardEntry>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            if (seen.TryGetValue(entry.Name, out var first))
            {
                errors.Add(new SpecError(entry.NameAt, $"{entry.Path}.name", $"duplicate board \"{entry.Name}\" (first defined at {first.NameAt})"));
                continue;
            }
            seen[entry.Name] = entry;
            if (!types.TryGetValue(entry.TypeName, out var type))
            {
                var known = types.Count == 0 ? "none are defined" : "known: " + string.Join(", ", types.Keys);
                errors.Add(new SpecError(entry.TypeAt, $"{entry.Path}.type",
                    $"unknown board type \"{entry.TypeName}\"{NearMiss.Hint(entry.TypeName, types.Keys)}; {known}"));
                continue;
            }
            if (Build(entry, type, errors) is { } board) boards.Add(board);
        }

        if (errors.Count > 0) throw SpecError.Combine(errors);
        return new LabSpec { BoardTypes = types, Boards = boards };
    }

    /// <summary>A board as written, before its type is known (the type may be in a later file).</summary>
    sealed record BoardEntry(string Name, string TypeName, IReadOnlyList<string> Tags, BoardSettings Overrides,
        string Path, SpecPosition At, SpecPosition NameAt, SpecPosition TypeAt);

    static IEnumerable<BoardTypeSpec> ReadTypes(SpecMapping root, IReadOnlyList<BoardKindEntry> kinds)
    {
        if (root.Mapping("board-types", null) is not { } map) yield break;
        foreach (var (name, key, value) in map.Entries)
        {
            var path = map.PathOf(name);
            if (!SpecName.Rule().IsMatch(name))
                root.Reader.Report(key, path, $"\"{name}\" is not a valid name ({SpecName.RuleText})");
            if (root.Reader.Mapping(value, path, SettingKeys(kinds)) is not { } fields) continue;
            var at = root.Reader.At(key);
            yield return new BoardTypeSpec
            {
                Name = name,
                Settings = ReadSettings(fields, kinds, boardOnly: false),
                SourcePath = at.Source,
                Line = at.Line,
                Column = at.Column,
            };
        }
    }

    static IEnumerable<BoardEntry> ReadBoards(SpecMapping root, IReadOnlyList<BoardKindEntry> kinds)
    {
        if (root.Value("boards") is not { } node) yield break;
        if (node is not YamlDotNet.RepresentationModel.YamlSequenceNode list)
        {
            root.Reader.Report(node, "boards", $"expected a list of boards ('- name: ...'), got {SpecReader.Describe(node)}");
            yield break;
        }
        for (var i = 0; i < list.Children.Count; i++)
        {
            var path = $"boards[{i}]";
            if (root.Reader.Mapping(list.Children[i], path, BoardKeys(kinds)) is not { } board) continue;
            var name = board.Text("name", required: true);
            if (name is not null && !SpecName.Rule().IsMatch(name))
                board.Report("name", $"\"{name}\" is not a valid name ({SpecName.RuleText})");
            var type = board.Text("type", required: true, "a key of board-types");
            var tags = board.TextList("tags", "tag", duplicateReason: "listed twice") ?? [];
            var overrides = ReadSettings(board, kinds, boardOnly: true);
            if (name is null || type is null) continue;
            yield return new BoardEntry(name, type, tags, overrides, path, board.At,
                board.Reader.At(board.Value("name")!), board.Reader.At(board.Value("type")!));
        }
    }

    /// <summary>The common settings, and every kind's sections written here (the kind may be decided by a type in another file).</summary>
    static BoardSettings ReadSettings(SpecMapping m, IReadOnlyList<BoardKindEntry> kinds, bool boardOnly)
    {
        var kind = m.Text("kind");
        if (kind is not null && !kinds.Any(k => k.Name == kind))
            m.Report("kind", $"unknown value \"{kind}\"{NearMiss.Hint(kind, kinds.Select(k => k.Name))}; expected one of: {string.Join(", ", kinds.Select(k => k.Name))}");
        var xen = m.Text("xen-cmdline");
        var settings = new BoardSettings
        {
            Kind = kinds.Any(k => k.Name == kind) ? kind : null,
            Mode = m.Choice("mode", Modes),
            XenCmdline = xen,
            LinuxCmdline = m.Text("linux-cmdline"),
            ExpectedPci = m.TextList("expected-pci", "BDF", duplicateReason: "listed twice",
                check: bdf => Bdf().IsMatch(bdf) ? null : $"\"{bdf}\" is not a PCI address like 0000:00:01.0 (lower-case hex)"),
            CrashPatterns = m.CrashPatternMap("crash-patterns"),
        };
        var sections = new Dictionary<string, object>(StringComparer.Ordinal);
        var written = new HashSet<string>(StringComparer.Ordinal);
        foreach (var section in kinds.SelectMany(k => k.Sections).Where(s => boardOnly || !s.BoardOnly))
        {
            if (!m.Has(section.Key)) continue;
            written.Add(section.Key);
            if (section.Read(m) is { } value) sections[section.Key] = value;
        }
        return settings with { Sections = sections, Written = written };
    }

    /// <summary>The type with the board's overrides laid over it, checked as a whole: first what every board needs, then what its kind does.</summary>
    static BoardSpec? Build(BoardEntry entry, BoardTypeSpec type, List<SpecError> errors)
    {
        var s = entry.Overrides.Over(type.Settings);
        var before = errors.Count;
        void Problem(string field, string message) =>
            errors.Add(new SpecError(entry.At, $"{entry.Path}.{field}", $"{message} (board {entry.Name}, type {type.Name})"));
        string Origin(Func<BoardSettings, object?> field) =>
            field(entry.Overrides) is not null ? "set on the board" : $"from board type {type.Name} at {type.At}";
        const string where = "required field is missing; set it on the board type or the board";

        if (s.Kind is null) Problem("kind", where);
        if (s.Mode is null) Problem("mode", where);
        if (s.LinuxCmdline is null) Problem("linux-cmdline", where);
        if (s.Mode == BoardMode.Xen && s.XenCmdline is null) Problem("xen-cmdline", "required in xen mode; set it on the board type or the board");
        if (s.Mode == BoardMode.Native && s.XenCmdline is not null)
            Problem("xen-cmdline", $"set, but mode is native and Xen is not booted; remove it ({Origin(x => x.XenCmdline)})");

        var hardware = s.Kind is { } name && BoardKinds.Find(name) is { } kind
            ? kind.Build(new BoardKindBuild(kind, s, entry.Overrides, type, entry.Name, entry.Path, entry.At, errors))
            : null;
        if (errors.Count > before || hardware is null) return null;
        return new BoardSpec
        {
            Name = entry.Name,
            TypeName = type.Name,
            Mode = s.Mode!.Value,
            Hardware = hardware,
            XenCmdline = s.XenCmdline,
            LinuxCmdline = s.LinuxCmdline!,
            ExpectedPci = s.ExpectedPci ?? [],
            CrashPatterns = Farm.Serial.CrashPatterns.Merge(Farm.Serial.CrashPatterns.Defaults, s.CrashPatterns, $"board type {type.Name} / board {entry.Name}"),
            Tags = entry.Tags,
            SourcePath = entry.At.Source,
            Line = entry.At.Line,
        };
    }
}
