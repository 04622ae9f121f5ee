using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace Farm.Spec;

/// <summary>
/// One YAML mapping being read into a record. Each accessor returns null when the value is
/// absent or wrong, after reporting why, so callers build a record from whatever is valid and
/// the reader still sees every other field.
/// </summary>
internal sealed class SpecMapping
{
    readonly SpecReader reader;
    readonly Dictionary<string, (YamlScalarNode Key, YamlNode Value)> entries = new(StringComparer.Ordinal);

    public SpecMapping(SpecReader reader, YamlMappingNode node, string path, IReadOnlyCollection<string>? knownKeys)
    {
        this.reader = reader;
        Node = node;
        Path = path;
        foreach (var (key, value) in node.Children)
        {
            if (key is not YamlScalarNode { Value: { Length: > 0 } name } scalarKey)
            {
                reader.Report(key, path, $"keys must be plain names, got {SpecReader.Describe(key)}");
                continue;
            }
            if (knownKeys is not null && !knownKeys.Contains(name))
            {
                reader.Report(key, SpecReader.Path(path, name),
                    $"unknown key{NearMiss.Hint(name, knownKeys)}; expected one of: {string.Join(", ", knownKeys)}");
                continue;
            }
            entries[name] = (scalarKey, value);
        }
    }

    public YamlMappingNode Node { get; }
    public string Path { get; }
    public SpecReader Reader => reader;
    public SpecPosition At => reader.At(Node);

    public string PathOf(string key) => SpecReader.Path(Path, key);

    /// <summary>Keys in file order with their values, for mappings keyed by user names (board types, metadata).</summary>
    public IEnumerable<(string Name, YamlScalarNode Key, YamlNode Value)> Entries =>
        entries.Select(e => (e.Key, e.Value.Key, e.Value.Value));

    /// <summary>The value node, or null when the key is absent or set to YAML null.</summary>
    public YamlNode? Value(string key)
    {
        if (!entries.TryGetValue(key, out var e) || SpecReader.IsNull(e.Value)) return null;
        reader.Remember(PathOf(key), e.Value);
        return e.Value;
    }

    public bool Has(string key) => Value(key) is not null;

    public void Missing(string key, string? hint = null)
    {
        var why = hint is null ? "" : $" ({hint})";
        if (entries.TryGetValue(key, out var e))
            reader.Report(e.Value, PathOf(key), "required field is empty" + why);
        else
            reader.Report(reader.At(Node), PathOf(key), "required field is missing" + why);
    }

    public void Report(string key, string message) =>
        reader.Report(Value(key) is { } v ? reader.At(v) : reader.At(Node), PathOf(key), message);

    public string? Text(string key, bool required = false, string? hint = null)
    {
        if (Value(key) is not { } node)
        {
            if (required) Missing(key, hint);
            return null;
        }
        return ScalarText(node, PathOf(key));
    }

    public int? Integer(string key, int min)
    {
        if (Value(key) is not { } node || ScalarText(node, PathOf(key)) is not { } text) return null;
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            reader.Report(node, PathOf(key), $"\"{text}\" is not a whole number");
            return null;
        }
        if (value < min)
        {
            reader.Report(node, PathOf(key), $"{value} is too small (at least {min})");
            return null;
        }
        return value;
    }

    public TimeSpan? Duration(string key)
    {
        if (Value(key) is not { } node || ScalarText(node, PathOf(key)) is not { } text) return null;
        if (Spec.Duration.TryParseSyntax(text, out var value))
        {
            if (value > Spec.Duration.Max)
            {
                reader.Report(node, PathOf(key), $"\"{text}\" is longer than the longest duration Farm takes ({Spec.Duration.MaxText})");
                return null;
            }
            if (value > TimeSpan.Zero) return value;
            reader.Report(node, PathOf(key), $"\"{text}\" must be greater than zero");
            return null;
        }
        reader.Report(node, PathOf(key), $"\"{text}\" is not a duration ({Spec.Duration.Hint})");
        return null;
    }

    /// <summary><c>host:port</c>; the port may be left out only where there is a <paramref name="defaultPort"/>.</summary>
    public (string Host, int Port)? Endpoint(string key, int? defaultPort)
    {
        if (Text(key) is not { } text) return null;
        if (HostPort.TryParse(text, defaultPort, out var host, out var port)) return (host, port);
        Report(key, $"\"{text}\" is not host:port");
        return null;
    }

    /// <summary>
    /// A console pattern, compiled now so a typo fails before a board is powered. The match
    /// timeout bounds a pathological pattern against a noisy console.
    /// </summary>
    public Regex? Pattern(string key, bool required = false, string? hint = null)
    {
        if (Text(key, required, hint) is not { } text) return null;
        try
        {
            return new Regex(text, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        }
        catch (ArgumentException e)
        {
            reader.Report(Value(key)!, PathOf(key), $"\"{text}\" is not a valid .NET regex: {e.Message}");
            return null;
        }
    }

    /// <summary>A closed set of words (<c>mode: xen | native</c>); unknown words get a suggestion.</summary>
    public T? Choice<T>(string key, IReadOnlyDictionary<string, T> choices, bool required = false) where T : struct =>
        OneOf(key, [.. choices.Keys], required) is { } word ? choices[word] : null;

    /// <summary>One of <paramref name="known"/> (a closed set's words, a registry's names); an unknown one gets a suggestion and the list.</summary>
    public string? OneOf(string key, IReadOnlyCollection<string> known, bool required = false)
    {
        if (Text(key, required) is not { } text) return null;
        if (known.Contains(text)) return text;
        reader.Report(Value(key)!, PathOf(key),
            $"unknown value \"{text}\"{NearMiss.Hint(text, known)}; expected one of: {string.Join(", ", known)}");
        return null;
    }

    /// <summary>A list of non-empty strings; each bad item is reported at its own line.</summary>
    /// <param name="duplicateReason">When set, repeated items are mistakes and this says why.</param>
    /// <param name="check">Returns what is wrong with an item, or null when it is fine.</param>
    public IReadOnlyList<string>? TextList(string key, string itemName = "entry", string? duplicateReason = null, Func<string, string?>? check = null)
    {
        if (Value(key) is not { } node) return null;
        if (node is not YamlSequenceNode seq)
        {
            reader.Report(node, PathOf(key), $"expected a list, got {SpecReader.Describe(node)}" +
                (node is YamlScalarNode ? $" (write [{((YamlScalarNode)node).Value}] or one '- item' per line)" : ""));
            return null;
        }
        var items = new List<string>();
        for (var i = 0; i < seq.Children.Count; i++)
        {
            var item = seq.Children[i];
            var path = $"{PathOf(key)}[{i}]";
            reader.Remember(path, item);
            if (item is YamlScalarNode scalar && (SpecReader.IsNull(item) || string.IsNullOrWhiteSpace(scalar.Value)))
            {
                reader.Report(item, path, $"empty {itemName}");
                continue;
            }
            if (item is YamlMappingNode)
            {
                // "- echo a: b" parses as a mapping; the fix is quoting, so say so.
                reader.Report(item, path, $"expected a string, got a mapping (quote {itemName}s that contain ': ')");
                continue;
            }
            if (ScalarText(item, path) is not { } text) continue;
            if (check?.Invoke(text) is { } problem)
            {
                reader.Report(item, path, problem);
                continue;
            }
            if (duplicateReason is not null && items.Contains(text, StringComparer.Ordinal))
                reader.Report(item, path, $"duplicate {itemName} \"{text}\" ({duplicateReason})");
            else
                items.Add(text);
        }
        return items;
    }

    /// <summary>A free-form string-to-string map (metadata).</summary>
    public IReadOnlyDictionary<string, string>? TextMap(string key)
    {
        if (Value(key) is not { } node || reader.Mapping(node, PathOf(key), null) is not { } map) return null;
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, _, value) in map.Entries)
            if (ScalarText(value, map.PathOf(name)) is { } text) result[name] = text;
        return result;
    }

    /// <summary>
    /// A <c>crash-patterns:</c> map: id → regex (compiled now), or <c>off</c> to drop the pattern of
    /// that id from the layers below (the defaults, the board type).
    /// </summary>
    public IReadOnlyDictionary<string, Regex?>? CrashPatternMap(string key)
    {
        if (Value(key) is not { } node || reader.Mapping(node, PathOf(key), null) is not { } map) return null;
        var result = new Dictionary<string, Regex?>(StringComparer.Ordinal);
        foreach (var (name, keyNode, _) in map.Entries)
        {
            if (!Farm.Serial.CrashPatterns.IsValidId(name))
            {
                reader.Report(keyNode, map.PathOf(name), $"\"{name}\" is not a crash pattern id ({Farm.Serial.CrashPatterns.IdHint})");
                continue;
            }
            if (map.Text(name) is not { } text) continue;
            if (text == "off")
            {
                result[name] = null;
                continue;
            }
            if (map.Pattern(name) is { } regex) result[name] = regex;
        }
        return result;
    }

    public SpecMapping? Mapping(string key, IReadOnlyCollection<string>? knownKeys, bool required = false, string? hint = null)
    {
        if (Value(key) is not { } node)
        {
            if (required) Missing(key, hint);
            return null;
        }
        return reader.Mapping(node, PathOf(key), knownKeys);
    }

    string? ScalarText(YamlNode node, string path)
    {
        if (node is YamlScalarNode { Value: { } value } && !SpecReader.IsNull(node)) return value;
        reader.Report(node, path, $"expected a string, got {SpecReader.Describe(node)}");
        return null;
    }
}
