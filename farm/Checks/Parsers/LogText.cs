using System.Globalization;
using System.Text.RegularExpressions;

namespace Farm.Checks.Parsers;

/// <summary>
/// Turns captured text into clean lines: CR and ANSI escapes removed, Farm's transcript
/// timestamps (<c>[2026-11-25T01:02:03.456Z] </c>) and Linux's (<c>[    1.234567] </c>) kept
/// apart from the message. Never throws, whatever the input.
/// </summary>
internal static partial class LogText
{
    public static IReadOnlyList<string> Lines(string? text)
    {
        if (string.IsNullOrEmpty(text)) return [];
        var lines = new List<string>();
        foreach (var raw in text.Split('\n'))
        {
            var line = Ansi().Replace(raw, "").Replace("\r", "").Replace("\0", "");
            if (FarmStamp().Match(line) is { Success: true } m) line = line[m.Length..];
            // The reference initramfs replays the kernel log on the console with this prefix.
            if (line.StartsWith("FARM-DMESG: ", StringComparison.Ordinal)) line = line["FARM-DMESG: ".Length..];
            SplitInterleaved(line, lines);
        }
        return lines;
    }

    /// <summary>
    /// A serial line carries whatever Xen and dom0 wrote, and the two do not wait for each other's
    /// newline: <c>[    2.81] virtio-pci ...(XEN) 0000:00:00.0: not mapping BAR ...</c> or a kernel stamp
    /// in the middle of a Xen line. Split those into one line per writer. A prefix that only labels the
    /// Xen line (a date stamp, <c>FARM-XL: xl-dmesg: </c>) ends in a space and is left alone.
    /// </summary>
    static void SplitInterleaved(string line, List<string> into)
    {
        // Bounded: at most 64 pieces per line, whatever the input.
        for (int guard = 0; guard < 64; guard++)
        {
            int x = line.Length > 1 ? line.IndexOf(XenPrefix, 1, StringComparison.Ordinal) : -1;
            if (x > 0 && line[..x].Trim().Length > 0
                && (!char.IsWhiteSpace(line[x - 1]) || KernelStamp().Match(line) is { Success: true } ks && line[ks.Length..x].Trim().Length > 0))
            {
                into.Add(line[..x]);
                line = line[x..];
                continue;
            }
            if (line.StartsWith(XenPrefix, StringComparison.Ordinal) && line.Length > XenPrefix.Length + 1
                && MidLineKernelStamp().Match(line, XenPrefix.Length + 1) is { Success: true } k
                && !char.IsWhiteSpace(line[k.Index - 1]))
            {
                into.Add(line[..k.Index]);
                line = line[k.Index..];
                continue;
            }
            break;
        }
        into.Add(line);
    }

    const string XenPrefix = "(XEN) ";

    /// <summary>
    /// A log pasted into a mail or a bug report: every line quoted with <c>&gt; </c> (once per reply
    /// level). Returns the text without the quote marks, so the lines parse as the console printed them.
    /// </summary>
    public static string Unquote(string? text)
    {
        if (string.IsNullOrEmpty(text)) return "";
        return MailQuote().Replace(text, "");
    }

    /// <summary>The message of a Linux log line, without its <c>[ seconds]</c> prefix.</summary>
    public static string Message(string line) => KernelStamp().Match(line) is { Success: true } m ? line[m.Length..] : line;

    /// <summary>Parses hex with or without 0x; false (never an exception) on anything else.</summary>
    public static bool TryHex(string? s, out ulong value)
    {
        value = 0;
        if (string.IsNullOrEmpty(s)) return false;
        var t = s.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? s[2..] : s;
        return t.Length is > 0 and <= 16 && ulong.TryParse(t, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
    }

    public static bool TryInt(string? s, out int value) => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out value);

    /// <summary>lspci-style sizes: <c>16K</c>, <c>128K</c>, <c>1M</c>, <c>32</c>.</summary>
    public static bool TrySize(string? s, out ulong bytes)
    {
        bytes = 0;
        if (string.IsNullOrEmpty(s)) return false;
        ulong mult = char.ToUpperInvariant(s[^1]) switch { 'K' => 1UL << 10, 'M' => 1UL << 20, 'G' => 1UL << 30, 'T' => 1UL << 40, _ => 1 };
        var digits = mult == 1 ? s : s[..^1];
        if (!ulong.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n > (ulong.MaxValue / mult)) return false;
        bytes = n * mult;
        return true;
    }

    [GeneratedRegex(@"\x1B(\[[0-9;?]*[ -/]*[@-~]|[@-Z\\-_])")]
    private static partial Regex Ansi();

    [GeneratedRegex(@"^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\] ")]
    private static partial Regex FarmStamp();

    [GeneratedRegex(@"^\[\s*\d+\.\d+\]\s?")]
    private static partial Regex KernelStamp();

    [GeneratedRegex(@"\[\s*\d+\.\d{6}\] ")]
    private static partial Regex MidLineKernelStamp();

    [GeneratedRegex(@"^(?:[ \t]?>)+[ \t]?", RegexOptions.Multiline)]
    private static partial Regex MailQuote();
}

/// <summary>A range of addresses, inclusive at both ends as Linux prints them.</summary>
internal readonly record struct AddressRange(ulong Start, ulong End)
{
    public ulong Size => End >= Start ? End - Start + 1 : 0;

    public bool Contains(AddressRange r) => r.Start >= Start && r.End <= End;

    public bool Overlaps(AddressRange r) => r.Start <= End && Start <= r.End;

    public override string ToString() => $"0x{Start:x}-0x{End:x}";
}
