using System.Text.RegularExpressions;

namespace Farm.Checks.Parsers;

internal sealed record DtNode(string Path, IReadOnlyDictionary<string, string> Properties)
{
    public string? Get(string name) => Properties.TryGetValue(name, out var v) ? v : null;

    /// <summary>A cell list property (<c>&lt;0x00 0x10000000 ...&gt;</c>) as numbers; empty when absent or garbled.</summary>
    public IReadOnlyList<ulong> Cells(string name)
    {
        if (Get(name) is not { } v) return [];
        var cells = new List<ulong>();
        foreach (var w in v.Replace("<", " ").Replace(">", " ").Split([' ', ','], StringSplitOptions.RemoveEmptyEntries))
        {
            if (LogText.TryHex(w, out var n) || (ulong.TryParse(w, out n))) cells.Add(n);
            else return [];
        }
        return cells;
    }
}

/// <summary>
/// Device tree source as printed by <c>dtc -I fs -O dts /proc/device-tree</c> (or
/// <c>dtc -I dtb -O dts</c>): nested <c>name { prop = value; };</c> blocks. Used for the guest's
/// virtual host bridge that libxl adds (tools/libs/light/libxl_arm.c make_vpci_node:
/// <c>pcie@10000000</c>, compatible "pci-host-ecam-generic", device_type "pci", reg, ranges, bus-range).
/// </summary>
internal static partial class DeviceTreeParser
{
    public static IReadOnlyList<DtNode> Parse(string? text)
    {
        var nodes = new List<DtNode>();
        var stack = new Stack<(string Path, Dictionary<string, string> Props)>();
        foreach (var raw in LogText.Lines(text))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith("/dts-v1/", StringComparison.Ordinal) || line.StartsWith("//", StringComparison.Ordinal)) continue;
            if (NodeOpen().Match(line) is { Success: true } n)
            {
                var name = n.Groups["name"].Value;
                var parent = stack.Count > 0 ? stack.Peek().Path : "";
                var path = name == "/" ? "/" : (parent is "" or "/" ? "/" : parent + "/") + name;
                stack.Push((path, new Dictionary<string, string>(StringComparer.Ordinal)));
            }
            else if (line.StartsWith("};", StringComparison.Ordinal))
            {
                if (stack.Count == 0) continue;
                var (p, props) = stack.Pop();
                nodes.Add(new DtNode(p, props));
            }
            else if (stack.Count > 0 && Property().Match(line) is { Success: true } pr)
                stack.Peek().Props[pr.Groups["name"].Value] = pr.Groups["value"].Success ? pr.Groups["value"].Value.Trim() : "";
        }
        while (stack.Count > 0)
        {
            var (p, props) = stack.Pop();
            nodes.Add(new DtNode(p, props));
        }
        return nodes;
    }

    /// <summary>PCI host bridges: nodes whose device_type is "pci" or compatible names an ECAM bridge.</summary>
    public static IReadOnlyList<DtNode> HostBridges(IReadOnlyList<DtNode> nodes) =>
        nodes.Where(n => n.Get("device_type") == "\"pci\"" || (n.Get("compatible")?.Contains("ecam", StringComparison.Ordinal) ?? false)).ToList();

    [GeneratedRegex(@"^(?:[\w-]+: )?(?<name>/|[\w,.+@-]+) \{$")]
    private static partial Regex NodeOpen();

    [GeneratedRegex(@"^(?<name>[\w,.+#-]+)(?: = (?<value>.*))?;$")]
    private static partial Regex Property();
}
