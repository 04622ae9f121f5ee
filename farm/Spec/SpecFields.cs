namespace Farm.Spec;

/// <summary>
/// The keys one plug-in owns in a mapping that names it (a power backend under <c>power:</c>, a
/// console transport under <c>serial:</c>): typed reads that report at the value's own position,
/// and every key it does not take reported at its line.
/// </summary>
/// <param name="owner">The plug-in as messages name it: <c>the snmp backend</c>.</param>
/// <param name="selector">The key that names the plug-in (<c>backend</c>), which is nobody's field.</param>
internal class SpecFields(SpecMapping mapping, string owner, string selector, IReadOnlyList<string> keys)
{
    public SpecMapping Mapping => mapping;

    public string? Text(string key) => mapping.Text(key);

    public int? Integer(string key, int min = 0) => mapping.Integer(key, min);

    /// <summary>A closed set of words (<c>mode: raw | telnet</c>); unknown words get a suggestion.</summary>
    public T? Choice<T>(string key, IReadOnlyDictionary<string, T> choices) where T : struct => mapping.Choice(key, choices);

    /// <summary><c>host:port</c>; the port may be left out only where there is a <paramref name="defaultPort"/>.</summary>
    public (string Host, int Port)? HostAndPort(string key, int? defaultPort) => mapping.Endpoint(key, defaultPort);

    public void Report(string key, string message) => mapping.Report(key, message);

    /// <summary>Reports each of <paramref name="needed"/> that is absent; true when all are there.</summary>
    public bool Require(params string[] needed)
    {
        var missing = needed.Where(k => !mapping.Has(k)).ToList();
        foreach (var key in missing)
            mapping.Missing(key, $"{owner} needs {string.Join(", ", needed)}");
        return missing.Count == 0;
    }

    /// <summary>Keys this plug-in does not take, each reported at its line.</summary>
    internal void RejectForeignKeys()
    {
        foreach (var (name, _, _) in mapping.Entries.Where(e => e.Name != selector && !keys.Contains(e.Name)).ToList())
            mapping.Report(name, $"unknown key for {owner}{NearMiss.Hint(name, keys)}; it takes: {string.Join(", ", keys)}");
    }
}
