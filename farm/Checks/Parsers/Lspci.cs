using System.Text.RegularExpressions;

namespace Farm.Checks.Parsers;

internal sealed record LspciRegion(int Index, string Kind, ulong? Address, ulong Size, bool Is64, bool Prefetchable, bool Disabled, string Line)
{
    public AddressRange? Range => Address is { } a && Size > 0 ? new AddressRange(a, a + Size - 1) : null;
}

/// <summary>An MSI or MSI-X capability: <c>MSI-X: Enable+ Count=65 Masked-</c>, <c>MSI: Enable- Count=1/1 Maskable- 64bit+</c>.</summary>
internal sealed record LspciMsi(bool Enabled, int Count, string Line);

internal sealed record LspciDevice(
    string Bdf, string ClassName, string Name, string Header,
    IReadOnlyList<LspciRegion> Regions, LspciMsi? Msi, LspciMsi? MsiX,
    string? Driver, int? Irq, string? InterruptLine)
{
    /// <summary>The interrupt mode the device is using now: MSI-X, MSI or INTx (legacy).</summary>
    public string InterruptMode => MsiX is { Enabled: true } ? "MSI-X" : Msi is { Enabled: true } ? "MSI" : MsiIrqs is not null ? "MSI(X)" : "INTx";

    /// <summary>The slot as lspci -P/-PP printed it (<c>0000:00:00.0/01:00.0</c>); equal to <see cref="Bdf"/> without -P.</summary>
    public string Path { get; init; } = Bdf;

    /// <summary>Newer lspci: <c>Interrupts: pin B disabled, MSI(X) routed to IRQ 193-200</c> (first and last IRQ).</summary>
    public (int First, int Last)? MsiIrqs { get; init; }

    /// <summary>The INTx pin of the <c>Interrupt: pin %c</c> line, 1 (INTA) to 4 (INTD); null when lspci printed <c>?</c> or no line.</summary>
    public int? InterruptPin { get; init; }

    /// <summary><c>IOMMU group: N</c> (lspci.c, Linux only).</summary>
    public int? IommuGroup { get; init; }

    /// <summary>A bridge's forwarding windows: <c>Memory behind bridge: 3c300000-3c4fffff [size=2M]</c>.</summary>
    public IReadOnlyList<(string Kind, AddressRange Range, string Line)> BridgeWindows { get; init; } = [];
}

/// <summary>
/// <c>lspci -vvv</c> output (pciutils lib/ and ls-caps.c: "Region %d: Memory at %08x (%s, %s)
/// [size=%s]", "MSI: Enable%c Count=%d/%d", "MSI-X: Enable%c Count=%d Masked%c", "Kernel
/// driver in use: %s", "Interrupt: pin %c routed to IRQ %d", "IOMMU group: %s", show_slot_path
/// "/%02x:%02x.%d" for -PP). Newer lspci also prints "Interrupts: pin B disabled, MSI(X) routed to IRQ
/// 193-200" (seen in posted lspci -vvv output; not in the pciutils tree read, 0f5b941). A capability
/// line cut after its Enable flag (<c>MSI: Enable+</c>) still counts. Domain-less BDFs get 0000:.
/// </summary>
internal static partial class LspciParser
{
    public static IReadOnlyList<LspciDevice> Parse(string? text)
    {
        var devices = new List<LspciDevice>();
        LspciDevice? current = null;
        var regions = new List<LspciRegion>();
        var windows = new List<(string, AddressRange, string)>();
        foreach (var line in LogText.Lines(text))
        {
            if (Header().Match(line) is { Success: true } h)
            {
                Flush();
                var path = h.Groups["bdf"].Value;
                var domain = path.Length >= 8 && path[4] == ':' && path[7] == ':' ? path[..5] : "0000:";
                // -PP names the device by the last hop of its path; -P prints only dev.fn for hops, so keep the path.
                var last = path[(path.LastIndexOf('/') + 1)..];
                var bdf = last.Count(c => c == ':') switch { 2 => last, 1 => domain + last, _ => path };
                current = new LspciDevice(bdf, h.Groups["class"].Value, h.Groups["name"].Value, line, [], null, null, null, null, null) { Path = path };
                regions = [];
                windows = [];
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
            else if (MsiX().Match(t) is { Success: true } x && (!x.Groups["n"].Success || LogText.TryInt(x.Groups["n"].Value, out _)))
                current = current with { MsiX = new LspciMsi(x.Groups["en"].Value == "+", x.Groups["n"].Success && LogText.TryInt(x.Groups["n"].Value, out var xn) ? xn : 0, line) };
            else if (Msi().Match(t) is { Success: true } m && (!m.Groups["n"].Success || LogText.TryInt(m.Groups["n"].Value, out _)))
                current = current with { Msi = new LspciMsi(m.Groups["en"].Value == "+", m.Groups["n"].Success && LogText.TryInt(m.Groups["n"].Value, out var mn) ? mn : 0, line) };
            else if (t.StartsWith("Kernel driver in use: ", StringComparison.Ordinal))
                current = current with { Driver = t["Kernel driver in use: ".Length..].Trim() };
            else if (Irq().Match(t) is { Success: true } q && LogText.TryInt(q.Groups["irq"].Value, out var irq))
            {
                current = current with { Irq = irq, InterruptLine = line, InterruptPin = q.Groups["pin"].Value[0] is >= 'A' and <= 'D' and var p ? p - 'A' + 1 : null };
                if (q.Groups["msi"].Success)
                    current = current with { MsiIrqs = (irq, q.Groups["last"].Success && LogText.TryInt(q.Groups["last"].Value, out var l) && l >= irq ? l : irq) };
            }
            else if (t.StartsWith("IOMMU group: ", StringComparison.Ordinal) && LogText.TryInt(t["IOMMU group: ".Length..].Trim(), out var grp))
                current = current with { IommuGroup = grp };
            else if (Behind().Match(t) is { Success: true } w && LogText.TryHex(w.Groups["s"].Value, out var ws) && LogText.TryHex(w.Groups["e"].Value, out var we) && we >= ws)
                windows.Add((w.Groups["kind"].Value switch { "I/O" => "io", "Memory" => "mem", _ => "pref" }, new AddressRange(ws, we), line));
        }
        Flush();
        return devices;

        void Flush()
        {
            if (current is not null) devices.Add(current with { Regions = regions, BridgeWindows = windows });
            current = null;
        }
    }

    [GeneratedRegex(@"^(?<bdf>(?:[0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-7](?:/(?:[0-9a-f]{2}:)?[0-9a-f]{2}\.[0-7]){0,16}) (?<class>[^:]+): (?<name>.*)$")]
    private static partial Regex Header();

    [GeneratedRegex(@"^Region (?<i>\d+): (?<kind>Memory at|I/O ports at) (?<addr>[0-9a-f]+|<unassigned>|<ignored>)(?: \((?<attrs>[^)]*)\))?.*?(?:\[size=(?<size>\d+[KMGT]?)\])?$")]
    private static partial Regex Region();

    [GeneratedRegex(@"^(?:Capabilities: \[[0-9a-f]+\] )?MSI-X: Enable(?<en>[+-])(?: Count=(?<n>\d+))?")]
    private static partial Regex MsiX();

    [GeneratedRegex(@"^(?:Capabilities: \[[0-9a-f]+\] )?MSI: Enable(?<en>[+-])(?: Count=\d+/(?<n>\d+))?")]
    private static partial Regex Msi();

    [GeneratedRegex(@"^Interrupts?: pin (?<pin>[A-D?]) (?:routed to IRQ |disabled, (?<msi>MSI\(X\)) routed to IRQ )(?<irq>\d+)(?:-(?<last>\d+))?")]
    private static partial Regex Irq();

    [GeneratedRegex(@"^(?<kind>I/O|Memory|Prefetchable memory) behind bridge: (?<s>[0-9a-f]{1,16})-(?<e>[0-9a-f]{1,16})")]
    private static partial Regex Behind();
}
