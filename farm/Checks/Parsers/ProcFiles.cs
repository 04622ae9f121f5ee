using System.Text.RegularExpressions;

namespace Farm.Checks.Parsers;

public sealed record InterruptRow(string Id, IReadOnlyList<long> PerCpu, string Chip, string HwIrq, string Name, string Line)
{
    public long Total => PerCpu.Sum();
}

/// <summary>One <c>/proc/iomem</c> entry; <see cref="Depth"/> is its nesting (two spaces per level).</summary>
public sealed record IomemEntry(AddressRange Range, string Name, int Depth, string Line);

/// <summary>
/// <c>/proc/interrupts</c> (kernel/irq/proc.c show_interrupts: a CPU header, then per IRQ the
/// per-CPU counts, the chip name, hwirq, trigger and action names) and <c>/proc/iomem</c>
/// (kernel/resource.c r_show: "%*s%0*llx-%0*llx : %s").
/// </summary>
public static partial class ProcParsers
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
            if (colon <= 0 || cpus == 0) continue;
            var id = t[..colon];
            var words = t[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var counts = new List<long>();
            int i = 0;
            for (; i < words.Length && counts.Count < cpus && long.TryParse(words[i], out var n); i++) counts.Add(n);
            if (counts.Count == 0) continue;
            var rest = words.Skip(i).ToList();
            string chip = "", hw = "", name;
            if (int.TryParse(id, out _) && rest.Count >= 3)
            {
                chip = rest[0];
                int k = 1;
                if (k < rest.Count && (rest[k].All(char.IsAsciiDigit) || rest[k].StartsWith('-'))) hw = rest[k++];
                if (k < rest.Count && rest[k] is "Edge" or "Level") k++;
                name = string.Join(' ', rest.Skip(k));
            }
            else name = string.Join(' ', rest);
            rows.Add(new InterruptRow(id, counts, chip, hw, name, line));
        }
        return rows;
    }

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

    [GeneratedRegex(@"^(?<indent> *)(?<s>[0-9a-f]+)-(?<e>[0-9a-f]+) : (?<name>.*)$")]
    private static partial Regex IomemLine();
}
