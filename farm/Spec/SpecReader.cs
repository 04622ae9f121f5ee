using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Farm.Spec;

/// <summary>
/// Reads a YAML spec file through YamlDotNet's node model rather than a deserializer, because
/// only the nodes know where each value was written. Every mistake is recorded with its
/// position and field path and reading carries on, so one pass reports the whole file.
/// </summary>
internal sealed partial class SpecReader(string source)
{
    readonly List<SpecError> errors = [];
    readonly Dictionary<string, SpecPosition> positions = new(StringComparer.Ordinal);

    public string Source => source;
    public IReadOnlyList<SpecError> Errors => errors;

    /// <summary>Where each field that was read sits, keyed by field path; later stages cite these.</summary>
    public IReadOnlyDictionary<string, SpecPosition> Positions => positions;

    public SpecPosition At(Mark mark) => new(source, ToInt(mark.Line), ToInt(mark.Column));
    public SpecPosition At(YamlNode node) => At(node.Start);

    /// <summary>Deepest nesting of mappings and lists a spec file may have (real ones have 4).</summary>
    public const int MaxDepth = 64;

    /// <summary>Largest spec file read (real ones are a few kB).</summary>
    public const int MaxBytes = 1 << 20;

    /// <summary>Mistakes kept per file; past this only their number is (a file of a million bad keys is not a million lines).</summary>
    const int MaxKept = SpecError.MaxShown * 2;

    public void Report(SpecPosition at, string path, string message)
    {
        if (errors.Count < MaxKept) errors.Add(new SpecError(at, path, message));
        else if (errors.Count == MaxKept) errors.Add(new SpecError(at, "", "") { Hidden = 1 });
        else errors[^1] = errors[^1] with { Hidden = errors[^1].Hidden + 1 };
    }
    public void Report(YamlNode node, string path, string message) => Report(At(node), path, message);

    internal void Remember(string path, YamlNode node) => positions[path] = At(node);

    /// <summary>The file's top-level mapping, or null once the reason there is none has been reported.</summary>
    public SpecMapping? Root(string yaml, IReadOnlyCollection<string> knownKeys)
    {
        var stream = new YamlStream();
        try
        {
            Load(stream, yaml);
        }
        catch (YamlException e)
        {
            var message = SyntaxMessage(e);
            // YamlDotNet reports a tab in the indentation where the enclosing block began (often 1:1): point at the tab.
            if (TabInIndentation(yaml, e.End.Line) is { } tab)
            {
                Report(tab, "", "a tab in the indentation (YAML indents with spaces only)");
                return null;
            }
            // YamlDotNet stops at a repeated key; say which field it is, as for any other mistake.
            if (DuplicateKey().Match(message) is { Success: true } dup)
                Report(At(e.Start), dup.Groups["key"].Value, "duplicate key (YAML would keep only one of them)");
            else
                Report(At(e.Start), "", "YAML syntax error: " + message);
            return null;
        }
        if (stream.Documents.Count == 0)
        {
            Report(new SpecPosition(source, 1, 1), "", "the file is empty");
            return null;
        }
        if (stream.Documents.Count > 1)
            Report(stream.Documents[1].RootNode, "", $"expected one YAML document, found {stream.Documents.Count} (remove the extra '---')");
        // Not "got \"...\"": a file that is not a mapping may be anything (a key, /etc/passwd); never quote it.
        if (stream.Documents[0].RootNode is not YamlMappingNode)
        {
            Report(stream.Documents[0].RootNode, "", $"expected a mapping (key: value lines), got {(stream.Documents[0].RootNode is YamlSequenceNode ? "a list" : "text")}");
            return null;
        }
        return Mapping(stream.Documents[0].RootNode, "", knownKeys);
    }

    /// <summary>
    /// Loads YAML into <paramref name="stream"/> after checking, on the parser's events (no tree, no
    /// recursion), that it nests at most <see cref="MaxDepth"/> deep: the node loader recurses per
    /// level, and 200,000 levels overflow the stack, which no handler can catch.
    /// </summary>
    internal static void Load(YamlStream stream, string yaml)
    {
        if (yaml.Length > MaxBytes) throw new YamlException(Mark.Empty, Mark.Empty, $"the file has {yaml.Length} characters, more than the {MaxBytes} a spec file may have");
        var parser = new Parser(new StringReader(yaml));
        int depth = 0;
        while (Next(parser))
        {
            switch (parser.Current)
            {
                case YamlDotNet.Core.Events.MappingStart or YamlDotNet.Core.Events.SequenceStart:
                    if (++depth > MaxDepth)
                        throw new YamlException(parser.Current.Start, parser.Current.End, $"nested more than {MaxDepth} levels deep");
                    break;
                case YamlDotNet.Core.Events.MappingEnd or YamlDotNet.Core.Events.SequenceEnd:
                    depth--;
                    break;
            }
        }
        stream.Load(new StringReader(yaml));
    }

    // YamlDotNet's scanner throws InvalidOperationException on some malformed input (found by fuzzing): still a syntax error.
    static bool Next(Parser parser)
    {
        try { return parser.MoveNext(); }
        catch (Exception e) when (e is not YamlException and (InvalidOperationException or ArgumentException or IndexOutOfRangeException))
        {
            var at = parser.Current?.End ?? Mark.Empty;
            throw new YamlException(at, at, "the YAML parser could not read the text after this point", e);
        }
    }

    /// <summary>Reads a spec file named in messages as <paramref name="what"/> (<c>job file</c>, <c>lab file</c>); a missing or unreadable file is a <see cref="ConfigurationException"/> naming the path.</summary>
    internal static string ReadSource(string path, string what)
    {
        try
        {
            return ReadFile(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ConfigurationException($"{what} not found: {path}", [System.IO.Path.GetFullPath(path)], e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigurationException($"cannot read {what} {path}: {e.Message}", null, e);
        }
    }

    /// <summary>Reads a spec file, at most <see cref="MaxBytes"/>: <c>/dev/zero</c> or a huge file is refused, not read into memory.</summary>
    internal static string ReadFile(string path)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.None);
        if (f.CanSeek && f.Length > MaxBytes) throw new IOException($"{f.Length} bytes, more than the {MaxBytes} a spec file may have");
        var buffer = new byte[MaxBytes + 1];
        int n = 0, got;
        while (n < buffer.Length && (got = f.Read(buffer, n, buffer.Length - n)) > 0) n += got;
        if (n > MaxBytes) throw new IOException($"more than the {MaxBytes} bytes a spec file may have");
        return new System.Text.UTF8Encoding(false, false).GetString(buffer, 0, n).TrimStart('\uFEFF');
    }

    SpecPosition? TabInIndentation(string yaml, long untilLine)
    {
        int line = 1;
        foreach (var text in yaml.Split('\n'))
        {
            if (line > untilLine) break;
            for (int i = 0; i < text.Length && text[i] is ' ' or '\t'; i++)
                if (text[i] == '\t' && text.AsSpan(i).Trim().Length > 0) return new SpecPosition(source, line, i + 1);
            line++;
        }
        return null;
    }

    /// <summary>A mapping with its keys checked against <paramref name="knownKeys"/> (null: any key, e.g. metadata).</summary>
    public SpecMapping? Mapping(YamlNode node, string path, IReadOnlyCollection<string>? knownKeys)
    {
        if (node is not YamlMappingNode map)
        {
            Report(node, path, $"expected a mapping (key: value lines), got {Describe(node)}");
            return null;
        }
        return new SpecMapping(this, map, path, knownKeys);
    }

    /// <summary>Plain <c>key:</c> with nothing after it, <c>~</c> and <c>null</c> all mean "not set" in YAML.</summary>
    public static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any, Value: null or "" or "~" or "null" or "Null" or "NULL" };

    public static string Describe(YamlNode node) => node switch
    {
        YamlMappingNode => "a mapping",
        YamlSequenceNode => "a list",
        _ when IsNull(node) => "nothing",
        YamlScalarNode s => $"\"{s.Value}\"",
        _ => "an unsupported YAML node",
    };

    public static string Path(string parent, string key) => parent.Length == 0 ? key : $"{parent}.{key}";

    // YamlDotNet prefixes its message with "(Line: 3, Col: 5, Idx: 20) - (Line: ...): "; we print the position our way.
    [GeneratedRegex(@"^\(Line: \d+, Col: \d+, Idx: \d+\) - \(Line: \d+, Col: \d+, Idx: \d+\): ", RegexOptions.CultureInvariant)]
    private static partial Regex MarkPrefix();

    [GeneratedRegex(@"^Duplicate key (?<key>.+?)\.?$", RegexOptions.CultureInvariant)]
    private static partial Regex DuplicateKey();

    static string SyntaxMessage(YamlException e)
    {
        var message = MarkPrefix().Replace(e.Message, "");
        if (e.InnerException is { } inner && !string.IsNullOrWhiteSpace(inner.Message))
            message = $"{message} {inner.Message}".Trim();
        return message;
    }

    static int ToInt(long value) => value > int.MaxValue ? int.MaxValue : (int)value;
}
