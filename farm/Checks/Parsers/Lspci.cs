using System.Text.RegularExpressions;

namespace Farm.Checks.Parsers;

public sealed record LspciRegion(int Index, string Kind, ulong? Address, ulong Size, bool Is64, bool Prefetchable, bool Disabled, string Line)
{
    public AddressRange? Range => Address is { } a && Size > 0 ? new AddressRange(a, a + Size - 1) : null;
}

/// <summary>An MSI or MSI-X capability: <c>MSI-X: Enable+ Count=65 Masked-</c>, <c>MSI: Enable- Count=1/1 Maskable- 64bit+</c>.</summary>
public sealed record LspciMsi(bool Enabled, int Count, string Line);

public sealed record LspciDevice(
    string Bdf, string ClassName, string Name, string Header,
    IReadOnlyList<LspciRegion> Regions, LspciMsi? Msi, LspciMsi? MsiX,
    string? Driver, int? Irq, string? InterruptLine)
{
    /// <summary>The interrupt mode the device is using now: MSI-X, MSI or INTx (legacy).</summary>
    public string InterruptMode => MsiX is { Enabled: true } ? "MSI-X" : Msi is { Enabled: true } ? "MSI" : "INTx";
}

/// <summary>
/// <c>lspci -vvv</c> output (pciutils lib/ and ls-caps.c: "Region %d: Memory at %08x (%s, %s)
/// [size=%s]", "MSI: Enable%c Count=%d/%d", "MSI-X: Enable%c Count=%d Masked%c", "Kernel
/// driver in use: %s", "Interrupt: pin %c routed to IRQ %d"). Domain-less BDFs get 0000:.
/// </summary>
public static partial class LspciParser
{
    public static IReadOnlyList<LspciDevice> Parse(string? text)
    {
        var devices = new List<LspciDevice>();
        LspciDevice? current = null;
        var regions = new List<LspciRegion>();
        foreach (var line in LogText.Lines(text))
        {
            if (Header().Match(line) is { Success: true } h)
            {
                Flush();
                var bdf = h.Groups["bdf"].Value;
                if (bdf.Count(c => c == ':') == 1) bdf = "0000:" + bdf;
                current = new LspciDevice(bdf, h.Groups["class"].Value, h.Groups["name"].Value, line, [], null, null, null, null, null);
                regions = [];
                continue;
            }
            if (current is null) continue;
            var t = line.Trim();
            if (Region().Match(t) is { Success: true } r && LogText.TryInt(r.Groups["i"].Value, out var idx))
            {
                ulong? addr = LogText.TryHex(r.Groups["addr"].Value, out var a) ? a : null;
                LogText.TrySize(r.Groups["size"].Value, out var size);
                var attrs = r.Groups["attrs"].Value;
                regions.Add(new LspciRegion(idx, r.Groups["kind"].Value.StartsWith("Memory", StringComparison.Ordinal) ? "mem" : "io", addr, size,
                    attrs.Contains("64-bit", StringComparison.Ordinal), attrs.Contains(" prefetchable", StringComparison.Ordinal) || attrs.StartsWith("prefetchable", StringComparison.Ordinal),
                    t.Contains("[disabled]", StringComparison.Ordinal), line));
            }
            else if (MsiX().Match(t) is { Success: true } x && LogText.TryInt(x.Groups["n"].Value, out var xn))
                current = current with { MsiX = new LspciMsi(x.Groups["en"].Value == "+", xn, line) };
            else if (Msi().Match(t) is { Success: true } m && LogText.TryInt(m.Groups["n"].Value, out var mn))
                current = current with { Msi = new LspciMsi(m.Groups["en"].Value == "+", mn, line) };
            else if (t.StartsWith("Kernel driver in use: ", StringComparison.Ordinal))
                current = current with { Driver = t["Kernel driver in use: ".Length..].Trim() };
            else if (Irq().Match(t) is { Success: true } q && LogText.TryInt(q.Groups["irq"].Value, out var irq))
                current = current with { Irq = irq, InterruptLine = line };
        }
        Flush();
        return devices;

        void Flush()
        {
            if (current is not null) devices.Add(current with { Regions = regions });
            current = null;
        }
    }

    [GeneratedRegex(@"^(?<bdf>(?:[0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]) (?<class>[^:]+): (?<name>.*)$")]
    private static partial Regex Header();

    [GeneratedRegex(@"^Region (?<i>\d+): (?<kind>Memory at|I/O ports at) (?<addr>[0-9a-f]+|<unassigned>|<ignored>)(?: \((?<attrs>[^)]*)\))?.*?(?:\[size=(?<size>\d+[KMGT]?)\])?$")]
    private static partial Regex Region();

    [GeneratedRegex(@"^Capabilities: \[[0-9a-f]+\] MSI-X: Enable(?<en>[+-]) Count=(?<n>\d+)")]
    private static partial Regex MsiX();

    [GeneratedRegex(@"^Capabilities: \[[0-9a-f]+\] MSI: Enable(?<en>[+-]) Count=\d+/(?<n>\d+)")]
    private static partial Regex Msi();

    [GeneratedRegex(@"^Interrupt: pin [A-D] routed to IRQ (?<irq>\d+)")]
    private static partial Regex Irq();
}
