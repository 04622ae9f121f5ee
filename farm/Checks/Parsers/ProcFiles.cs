using System.Text.RegularExpressions;

namespace Farm.Checks.Parsers;

internal sealed record InterruptRow(string Id, IReadOnlyList<long> PerCpu, string Chip, string HwIrq, string Name, string Line)
{
    public long Total => PerCpu.Sum();
}

/// <summary>One <c>/proc/iomem</c> entry; <see cref="Depth"/> is its nesting (two spaces per level).</summary>
internal sealed record IomemEntry(AddressRange Range, string Name, int Depth, string Line);

/// <summary>
/// <c>/proc/interrupts</c> (kernel/irq/proc.c show_interrupts: a CPU header, then per IRQ the
/// per-CPU counts, the chip name, hwirq, trigger and action names) and <c>/proc/iomem</c>
/// (kernel/resource.c r_show: "%*s%0*llx-%0*llx : %s").
/// </summary>
internal static partial class ProcParsers
{
    public static IReadOnlyList<InterruptRow> Interrupts(string? text)
    {
        var rows = new List<InterruptRow>();
        int cpus = 0;
        foreach (var line in LogText.Lines(text))
        {
            var t = line.Trim();
            if (t.StartsWith("CPU", StringComparison.Ordinal))
            {
                cpus = t.Split(' ', StringSplitOptions.RemoveEmptyEntries).Count(w => w.StartsWith("CPU", StringComparison.Ordinal));
                continue;
            }
            int colon = t.IndexOf(':');
            if (colon <= 0) continue;
            var id = t[..colon];
            // An excerpt without the CPU header row (grep nvme /proc/interrupts, a pasted fragment): take every
            // leading count, but only on rows whose id looks like one (a number, or NMI/LOC/IPI0-style names).
            if (cpus == 0 && !RowId().IsMatch(id)) continue;
            var words = t[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var counts = new List<long>();
            int i = 0;
            for (; i < words.Length && (cpus == 0 ? counts.Count < 4096 : counts.Count < cpus) && long.TryParse(words[i], out var n); i++) counts.Add(n);
            if (counts.Count == 0) continue;
            var rest = words.Skip(i).ToList();
            string chip = "", hw = "", name;
            if (int.TryParse(id, out _) && rest.Count >= 3)
            {
                chip = rest[0];
                int k = 1;
                // show_interrupts prints the chip name, the hwirq, the trigger, then "-%-8s" with the flow
                // handler's name: Xen event channels read "xen-dyn    -event" or "xen-dyn  Edge  -event".
                if (k < rest.Count && IsHandlerName(rest[k])) chip += rest[k++];
                if (k < rest.Count && HwIrq().Match(rest[k]) is { Success: true } h) { hw = h.Groups[1].Value; k++; }
                if (k < rest.Count && rest[k] is "Edge" or "Level") k++;
                if (k < rest.Count && IsHandlerName(rest[k]) && k < rest.Count - 1) chip += rest[k++];
                name = string.Join(' ', rest.Skip(k));
            }
            else name = string.Join(' ', rest);
            rows.Add(new InterruptRow(id, counts, chip, hw, name, line));
        }
        return rows;
    }

    static bool IsHandlerName(string w) => w.Length > 1 && w[0] == '-' && !char.IsAsciiDigit(w[1]);

    public static IReadOnlyList<IomemEntry> Iomem(string? text)
    {
        var list = new List<IomemEntry>();
        foreach (var line in LogText.Lines(text))
        {
            if (IomemLine().Match(line) is not { Success: true } m) continue;
            if (!LogText.TryHex(m.Groups["s"].Value, out var s) || !LogText.TryHex(m.Groups["e"].Value, out var e) || e < s) continue;
            list.Add(new IomemEntry(new AddressRange(s, e), m.Groups["name"].Value, m.Groups["indent"].Value.Length / 2, line));
        }
        return list;
    }

    [GeneratedRegex(@"^(?:\d{1,7}|[A-Z][A-Za-z]{1,5}\d{0,3})$")]
    private static partial Regex RowId();

    // x86 MSI rows glue the trigger to the hwirq: "327680-edge".
    [GeneratedRegex(@"^(\d+)(?:-\w+)?$")]
    private static partial Regex HwIrq();

    [GeneratedRegex(@"^(?<indent> *)(?<s>[0-9a-f]+)-(?<e>[0-9a-f]+) : (?<name>.*)$")]
    private static partial Regex IomemLine();
}
