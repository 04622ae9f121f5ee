using System.Text.RegularExpressions;

namespace Farm.Checks.Parsers;

/// <summary>What Xen's console (or <c>xl dmesg</c>) says about itself.</summary>
public sealed record XenLog(
    IReadOnlyList<string> Lines,
    string? Version,
    string? VersionLine,
    string? CommandLine,
    bool? IommuEnabled,
    string? IommuLine,
    IReadOnlyList<string> PciLines,
    IReadOnlyList<string> ItsLines,
    IReadOnlyList<string> SmmuLines,
    IReadOnlyList<string> SmmuFaults,
    IReadOnlyList<string> InvalidParameters,
    IReadOnlyList<string> Panics);

/// <summary>
/// Xen's own log lines, with or without the <c>(XEN) </c> prefix. Strings from
/// xen/drivers/char/console.c ("Xen version %d.%d%s"), xen/common/kernel.c ("Command line: %s",
/// "parameter \"%s\" has invalid value \"%s\", rc=%d!"), xen/drivers/passthrough/iommu.c
/// ("I/O virtualisation %sabled"), xen/arch/arm/gic-v3-its.c ("GICv3: Found ITS @0x%lx"),
/// xen/drivers/passthrough/arm/smmu*.c ("smmu: ..." / "SMMUv3:"; "Unhandled context fault"),
/// xen/drivers/vpci and xen/arch/arm/pci ("PCI", "vPCI").
/// </summary>
public static partial class XenLogParser
{
    public static XenLog Parse(string? text)
    {
        var lines = new List<string>();
        string? version = null, versionLine = null, cmdline = null, iommuLine = null;
        bool? iommu = null;
        var pci = new List<string>();
        var its = new List<string>();
        var smmu = new List<string>();
        var faults = new List<string>();
        var invalid = new List<string>();
        var panics = new List<string>();
        foreach (var raw in LogText.Lines(text))
        {
            int x = raw.IndexOf("(XEN) ", StringComparison.Ordinal);
            if (x < 0) continue;
            var line = raw[x..];
            var msg = line[6..];
            lines.Add(line);
            if (version is null && Version().Match(msg) is { Success: true } v) (version, versionLine) = (v.Groups[1].Value, line);
            if (cmdline is null && msg.StartsWith("Command line: ", StringComparison.Ordinal)) cmdline = msg["Command line: ".Length..];
            if (Iommu().Match(msg) is { Success: true } i) (iommu, iommuLine) = (i.Groups[1].Value == "en", line);
            if (Pci().IsMatch(msg)) pci.Add(line);
            if (msg.Contains("ITS", StringComparison.Ordinal)) its.Add(line);
            if (msg.Contains("SMMU", StringComparison.OrdinalIgnoreCase)) smmu.Add(line);
            if (msg.Contains("Unhandled context fault", StringComparison.Ordinal) || SmmuV3Event().IsMatch(msg)) faults.Add(line);
            if (msg.StartsWith("parameter \"", StringComparison.Ordinal) && msg.Contains("has invalid value", StringComparison.Ordinal)) invalid.Add(line);
            if (msg.Contains("Panic on CPU", StringComparison.Ordinal)) panics.Add(line);
        }
        return new XenLog(lines, version, versionLine, cmdline, iommu, iommuLine, pci, its, smmu, faults, invalid, panics);
    }

    /// <summary><c>xl info</c>: "key : value" lines.</summary>
    public static IReadOnlyDictionary<string, string> XlInfo(string? text)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in LogText.Lines(text))
        {
            int c = line.IndexOf(':');
            if (c <= 0) continue;
            var key = line[..c].Trim();
            if (key.Length == 0 || key.Contains(' ')) continue;
            d.TryAdd(key, line[(c + 1)..].Trim());
        }
        return d;
    }

    /// <summary><c>xl pci-assignable-list</c>: one SBDF per line.</summary>
    public static IReadOnlyList<string> PciAssignable(string? text) =>
        LogText.Lines(text).Select(l => l.Trim()).Where(l => Sbdf().IsMatch(l)).ToList();

    [GeneratedRegex(@"^Xen version (\d+\.\d+[^\s]*)")]
    private static partial Regex Version();

    [GeneratedRegex(@"^I/O virtualisation (en|dis)abled")]
    private static partial Regex Iommu();

    [GeneratedRegex(@"\b(PCI|vPCI|pci-passthrough|ECAM)\b")]
    private static partial Regex Pci();

    [GeneratedRegex(@"event 0x[0-9a-f]+ received", RegexOptions.IgnoreCase)]
    private static partial Regex SmmuV3Event();

    [GeneratedRegex(@"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")]
    private static partial Regex Sbdf();
}
