using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Farm.Guests;

/// <summary>One <c>pci = [ 'SBDF,key=value,...' ]</c> entry (xl-pci-configuration(5)).</summary>
internal sealed record PciDevice(string Sbdf, IReadOnlyDictionary<string, string> Options)
{
    public string Render() => Options.Count == 0 ? Sbdf : Sbdf + "," + string.Join(",", Options.Select(o => $"{o.Key}={o.Value}"));
}

/// <summary>
/// A domU's xl.cfg: the keys Farm writes, typed, with the PCI devices requested for passthrough
/// (<c>pci = [...]</c>, <c>passthrough = ...</c>). <see cref="Parse"/> and <see cref="Render"/> round-trip;
/// every mistake is a <see cref="ConfigurationException"/> naming the key.
/// </summary>
internal sealed partial record XlConfig
{
    /// <summary>Per-device options xl knows (docs/man/xl-pci-configuration.5.pod); backend= is the proposed vPCI selector.</summary>
    public static readonly IReadOnlySet<string> PciOptionKeys = new HashSet<string>(StringComparer.Ordinal)
        { "permissive", "seize", "msitranslate", "rdm_policy", "power_mgmt", "vslot", "name", "backend" };

    public static readonly IReadOnlySet<string> PassthroughModes = new HashSet<string>(StringComparer.Ordinal)
        { "enabled", "disabled", "share_pt", "sync_pt" };

    static readonly HashSet<string> Keys = ["name", "type", "kernel", "ramdisk", "memory", "vcpus", "extra", "pci", "passthrough"];

    public required string Name { get; init; }
    public required string Kernel { get; init; }
    public string? Ramdisk { get; init; }
    public int MemoryMb { get; init; } = 256;
    public int Vcpus { get; init; } = 1;
    public string? Extra { get; init; }
    public IReadOnlyList<PciDevice> Pci { get; init; } = [];
    public string? Passthrough { get; init; }

    /// <summary>Checks the config against what xl accepts (and what <paramref name="xenVersion"/> offers, when known).</summary>
    public XlConfig Validate(Version? xenVersion = null)
    {
        var errors = new List<string>();
        if (!SafeName().IsMatch(Name)) errors.Add($"name: '{Name}' is not a valid domain name");
        if (MemoryMb <= 0) errors.Add($"memory: {MemoryMb} MiB must be positive");
        if (Vcpus <= 0) errors.Add($"vcpus: {Vcpus} must be positive");
        if (Passthrough is { } p && !PassthroughModes.Contains(p))
            errors.Add($"passthrough: '{p}' is not one of {string.Join(", ", PassthroughModes)}");
        if (Passthrough == "disabled" && Pci.Count > 0) errors.Add("passthrough: 'disabled' contradicts the pci = [...] devices");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var d in Pci)
        {
            if (!Sbdf().IsMatch(d.Sbdf)) errors.Add($"pci: '{d.Sbdf}' is not an SBDF (DDDD:BB:DD.F)");
            else if (!seen.Add(Normalize(d.Sbdf))) errors.Add($"pci: {d.Sbdf} is listed twice");
            foreach (var (k, v) in d.Options)
            {
                if (!PciOptionKeys.Contains(k)) errors.Add($"pci: {d.Sbdf}: unknown option '{k}' (known: {string.Join(", ", PciOptionKeys.Order())})");
                else if (k is "permissive" or "seize" or "msitranslate" or "power_mgmt" && v is not ("0" or "1"))
                    errors.Add($"pci: {d.Sbdf}: {k}={v} must be 0 or 1");
                else if (k == "backend" && v is not ("vpci" or "pciback"))
                    errors.Add($"pci: {d.Sbdf}: backend={v} must be vpci or pciback");
                else if (k == "backend" && xenVersion is not null && xenVersion < new Version(4, 21))
                    errors.Add($"pci: {d.Sbdf}: backend= is not understood by Xen {xenVersion} (proposed for Arm vPCI, 4.21+)");
            }
        }
        if (errors.Count > 0) throw new ConfigurationException($"xl.cfg for {Name}: " + string.Join("; ", errors), errors);
        return this;
    }

    public string Render()
    {
        Validate();
        var b = new StringBuilder();
        b.Append($"name = \"{Name}\"\ntype = \"pvh\"\nkernel = \"{Kernel}\"\n");
        if (Ramdisk is not null) b.Append($"ramdisk = \"{Ramdisk}\"\n");
        b.Append(CultureInfo.InvariantCulture, $"memory = {MemoryMb}\nvcpus = {Vcpus}\n");
        if (Extra is not null) b.Append($"extra = \"{Extra}\"\n");
        if (Passthrough is not null) b.Append($"passthrough = \"{Passthrough}\"\n");
        if (Pci.Count > 0) b.Append("pci = [ ").AppendJoin(", ", Pci.Select(p => $"'{p.Render()}'")).Append(" ]\n");
        return b.ToString();
    }

    /// <summary>Reads the keys Farm writes back from xl.cfg text; unknown keys and malformed values are errors naming the line.</summary>
    public static XlConfig Parse(string text, string source = "xl.cfg")
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var errors = new List<string>();
        int n = 0;
        foreach (var raw in text.Split('\n'))
        {
            n++;
            var line = raw.Split('#')[0].Trim();
            if (line.Length == 0) continue;
            var m = Assignment().Match(line);
            if (!m.Success) { errors.Add($"{source}:{n}: expected key = value"); continue; }
            var key = m.Groups["k"].Value;
            if (!Keys.Contains(key)) { errors.Add($"{source}:{n}: unknown key '{key}'"); continue; }
            if (!values.TryAdd(key, m.Groups["v"].Value.Trim())) errors.Add($"{source}:{n}: '{key}' set twice");
        }
        string? Str(string k) => values.TryGetValue(k, out var v) ? v.Trim('"', '\'') : null;
        int Int(string k, int fallback)
        {
            if (!values.TryGetValue(k, out var v)) return fallback;
            if (int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i)) return i;
            errors.Add($"{source}: {k}: '{v}' is not a number");
            return fallback;
        }
        var pci = new List<PciDevice>();
        if (values.TryGetValue("pci", out var list))
        {
            if (!list.StartsWith('[') || !list.EndsWith(']')) errors.Add($"{source}: pci: expected [ 'SBDF,...', ... ]");
            else
                foreach (Match item in Quoted().Matches(list))
                {
                    var parts = item.Groups[1].Value.Split(',', StringSplitOptions.TrimEntries);
                    var options = new Dictionary<string, string>(StringComparer.Ordinal);
                    foreach (var o in parts.Skip(1))
                    {
                        var kv = o.Split('=', 2);
                        if (kv.Length != 2) errors.Add($"{source}: pci: {parts[0]}: option '{o}' is not key=value");
                        else options[kv[0]] = kv[1];
                    }
                    pci.Add(new PciDevice(parts[0], options));
                }
        }
        int memory = Int("memory", 256), vcpus = Int("vcpus", 1);
        if (Str("name") is not { } name) errors.Add($"{source}: name is required");
        if (Str("kernel") is not { } kernel) errors.Add($"{source}: kernel is required");
        if (errors.Count > 0) throw new ConfigurationException(string.Join("; ", errors), errors);
        return new XlConfig
        {
            Name = Str("name")!, Kernel = Str("kernel")!, Ramdisk = Str("ramdisk"), MemoryMb = memory, Vcpus = vcpus,
            Extra = Str("extra"), Pci = pci, Passthrough = Str("passthrough"),
        }.Validate();
    }

    static string Normalize(string sbdf) => sbdf.ToLowerInvariant();

    [GeneratedRegex(@"^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-1][0-9a-fA-F]\.[0-7]$")]
    private static partial Regex Sbdf();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    private static partial Regex SafeName();

    [GeneratedRegex(@"^(?<k>[a-z_]+)\s*=\s*(?<v>.+)$")]
    private static partial Regex Assignment();

    [GeneratedRegex(@"'([^']*)'|""([^""]*)""")]
    private static partial Regex Quoted();
}
