using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Farm.Jobs.Spec;

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

    public void Report(SpecPosition at, string path, string message) => errors.Add(new SpecError(at, path, message));
    public void Report(YamlNode node, string path, string message) => Report(At(node), path, message);

    internal void Remember(string path, YamlNode node) => positions[path] = At(node);

    /// <summary>The file's top-level mapping, or null once the reason there is none has been reported.</summary>
    public SpecMapping? Root(string yaml, IReadOnlyCollection<string> knownKeys)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            var message = SyntaxMessage(e);
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
        return Mapping(stream.Documents[0].RootNode, "", knownKeys);
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
