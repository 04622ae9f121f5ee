using System.Text.RegularExpressions;

namespace Farm.Checks.Parsers;

/// <summary>What Xen's console (or <c>xl dmesg</c>) says about itself.</summary>
internal sealed record XenLog(
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
    IReadOnlyList<string> Panics)
{
    /// <summary>BARs vPCI refused to map for a domain (xen/drivers/vpci/header.c).</summary>
    public IReadOnlyList<XenBarRefusal> BarRefusals { get; init; } = [];

    /// <summary>Stage-2 aborts Xen injected into a domain, with the guest physical address (xen/arch/arm/traps.c).</summary>
    public IReadOnlyList<XenDataAbort> DataAborts { get; init; } = [];

    /// <summary><c>Assertion '...' failed at file:line</c> (xen/common/bug.c).</summary>
    public IReadOnlyList<string> Assertions { get; init; } = [];

    /// <summary>The first line of each <c>Xen call trace:</c> (xen/arch/{arm,x86}/traps.c), with the frame lines after it.</summary>
    public IReadOnlyList<string> CallTraces { get; init; } = [];

    /// <summary><c>domain_crash called from ...</c> and <c>Domain N (vcpu#M) crashed on cpu#K:</c>.</summary>
    public IReadOnlyList<string> DomainCrashes { get; init; } = [];

    /// <summary>SMMUv1/v2 global faults (GFSR decoded) and SMMUv3 global errors (GERROR).</summary>
    public IReadOnlyList<SmmuGlobalFault> SmmuGlobalFaults { get; init; } = [];

    /// <summary>SMMUv3 events with the record words Xen printed after each.</summary>
    public IReadOnlyList<SmmuV3Event> SmmuEvents { get; init; } = [];

    /// <summary>Everything that means Xen or a domain died: panics, assertions, domain crashes.</summary>
    public IReadOnlyList<string> Crashes => [.. Panics, .. Assertions, .. DomainCrashes];
}

/// <summary>
/// <c>0000:02:00.0: not mapping BAR [fea00, fea03] invalid position</c>: vPCI would not map the BAR
/// (frame numbers, inclusive) because it is not inside a host bridge window or overlaps reserved memory.
/// </summary>
internal sealed record XenBarRefusal(string Sbdf, ulong StartFrame, ulong EndFrame, string Line)
{
    public AddressRange Range => new(StartFrame << 12, ((EndFrame + 1) << 12) - 1);
}

/// <summary>A data abort Xen could not handle for a guest: the vCPU (<c>d0v0</c>) and the guest physical address.</summary>
internal sealed record XenDataAbort(string? Vcpu, ulong Gpa, string Line);

/// <summary>
/// An SMMU global fault: the raw GFSR and the causes its bits name (SMMU architecture v2, GFSR:
/// ICF bit 0, USF 1 (unidentified stream), SMCF 2 (stream match conflict), UCBF 3, UCIF 4, CAF 5,
/// EF 6, PF 7, MULTI 31), or for SMMUv3 the GERROR value.
/// </summary>
internal sealed record SmmuGlobalFault(string Device, uint Status, IReadOnlyList<string> Causes, string Line)
{
    static readonly (int Bit, string Name)[] GfsrBits =
    [
        (0, "invalid context"), (1, "unidentified stream"), (2, "stream match conflict"), (3, "unimplemented context bank"),
        (4, "unimplemented context interrupt"), (5, "configuration access"), (6, "external"), (7, "permission"), (31, "multiple"),
    ];

    public static IReadOnlyList<string> DecodeGfsr(uint gfsr) => GfsrBits.Where(b => (gfsr & (1u << b.Bit)) != 0).Select(b => b.Name).ToList();
}

/// <summary>
/// An SMMUv3 event as Xen prints it (xen/drivers/passthrough/arm/smmu-v3.c arm_smmu_evtq_thread: "event 0x%02x
/// received:", then the record's 64-bit words, one "\t0x%016llx" line each): word 0 holds the event id (bits 7:0)
/// and the StreamID (bits 63:32), word 2 the input address of a translation-related fault (SMMUv3 spec, event
/// records F_TRANSLATION 0x10 to F_PERMISSION 0x13).
/// </summary>
internal sealed record SmmuV3Event(string Line, IReadOnlyList<ulong> Words, IReadOnlyList<string> WordLines)
{
    /// <summary><c>event 0x10 (F_TRANSLATION) from StreamID 0x8, input address 0x80000000</c>; null with fewer than 3 words.</summary>
    public string? Summary
    {
        get
        {
            if (Words.Count < 3) return null;
            var id = Words[0] & 0xff;
            var name = id switch { 0x10 => "F_TRANSLATION", 0x11 => "F_ADDR_SIZE", 0x12 => "F_ACCESS", 0x13 => "F_PERMISSION", _ => null };
            return $"event 0x{id:x2}{(name is null ? "" : $" ({name})")} from StreamID 0x{Words[0] >> 32:x}" + (name is null ? "" : $", input address 0x{Words[2]:x}");
        }
    }
}

/// <summary>
/// Xen's own log lines, with or without the <c>(XEN) </c> prefix. Strings from
/// xen/drivers/char/console.c ("Xen version %d.%d%s"), xen/common/kernel.c ("Command line: %s",
/// "parameter \"%s\" has invalid value \"%s\", rc=%d!"), xen/drivers/passthrough/iommu.c
/// ("I/O virtualisation %sabled"), xen/arch/arm/gic-v3-its.c ("GICv3: Found ITS @0x%lx"),
/// xen/drivers/passthrough/arm/smmu*.c ("smmu: ..." / "SMMUv3:"; "Unhandled context fault"),
/// xen/drivers/vpci and xen/arch/arm/pci ("PCI", "vPCI"). Crash and vPCI lines:
/// xen/drivers/vpci/header.c ("%pp: not mapping BAR [%lx, %lx] invalid position"),
/// xen/arch/arm/traps.c ("HSR=%#"PRIregister" pc=%#"PRIregister" gva=%#"PRIvaddr" gpa=%#"PRIpaddr),
/// xen/common/bug.c ("Assertion '%s' failed at %s%s:%d"), xen/arch/{arm,x86}/traps.c ("Xen call trace:"),
/// xen/drivers/char/console.c ("Panic on CPU %d:"), xen/include/xen/sched.h ("domain_crash called from %s:%d"),
/// xen/common/domain.c ("Domain %d (vcpu#%d) crashed on cpu#%d:"), xen/drivers/passthrough/arm/smmu.c
/// ("Unexpected global fault, this could be serious", "\tGFSR 0x%08x, GFSYNR0 0x%08x, GFSYNR1 0x%08x, GFSYNR2 0x%08x"),
/// xen/drivers/passthrough/arm/smmu-v3.c ("unexpected global error reported (0x%08x), this could be serious").
/// </summary>
internal static partial class XenLogParser
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
        var refusals = new List<XenBarRefusal>();
        var aborts = new List<XenDataAbort>();
        var assertions = new List<string>();
        var traces = new List<string>();
        var crashes = new List<string>();
        var global = new List<SmmuGlobalFault>();
        var events = new List<(string Line, List<ulong> Words, List<string> WordLines)>();
        bool inEvent = false;
        string? globalFaultDevice = null;
        foreach (var raw in LogText.Lines(text))
        {
            int x = raw.IndexOf("(XEN) ", StringComparison.Ordinal);
            if (x < 0) continue;
            var line = raw[x..];
            // console_timestamps= puts the time between the prefix and the message (console.c: "[%016"PRIx64"] "
            // raw, "[%5"PRIu64".%06"PRIu64"] " boot, "[%04u-%02u-%02u %02u:%02u:%02u(.%03u)] " date).
            var msg = XenStamp().Match(line, 6) is { Success: true } st && st.Index == 6 ? line[(6 + st.Length)..] : line[6..];
            lines.Add(line);
            // An event's record words follow its header line directly (at most 4).
            if (inEvent && events[^1].Words.Count < 4 && EventWord().Match(msg) is { Success: true } word)
            {
                events[^1].Words.Add(ulong.Parse(word.Groups[1].Value, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture));
                events[^1].WordLines.Add(line);
            }
            else inEvent = false;
            if (EventHeader().IsMatch(msg))
            {
                events.Add((line, [], []));
                inEvent = true;
            }
            if (BarRefusal().Match(msg) is { Success: true } br && LogText.TryHex(br.Groups["s"].Value, out var bs) && LogText.TryHex(br.Groups["e"].Value, out var be)
                && be >= bs && be < (1UL << 52))
                refusals.Add(new XenBarRefusal(br.Groups["sbdf"].Value, bs, be, line));
            if (DataAbort().Match(msg) is { Success: true } da && LogText.TryHex(da.Groups["gpa"].Value, out var gpa))
                aborts.Add(new XenDataAbort(da.Groups["v"].Success ? da.Groups["v"].Value : null, gpa, line));
            if (msg.StartsWith("Assertion '", StringComparison.Ordinal) && msg.Contains("' failed at ", StringComparison.Ordinal)) assertions.Add(line);
            if (msg.StartsWith("Xen call trace:", StringComparison.Ordinal)) traces.Add(line);
            if (msg.StartsWith("domain_crash called from ", StringComparison.Ordinal) || DomainCrashed().IsMatch(msg)) crashes.Add(line);
            if (GlobalFaultHeader().Match(msg) is { Success: true } gh) globalFaultDevice = gh.Groups["dev"].Value;
            if (Gfsr().Match(msg) is { Success: true } gf && LogText.TryHex(gf.Groups["v"].Value, out var gv) && gv <= uint.MaxValue)
                global.Add(new SmmuGlobalFault(gf.Groups["dev"].Success ? gf.Groups["dev"].Value : globalFaultDevice ?? "", (uint)gv, SmmuGlobalFault.DecodeGfsr((uint)gv), line));
            else if (Gerror().Match(msg) is { Success: true } ge && LogText.TryHex(ge.Groups["v"].Value, out var gev) && gev <= uint.MaxValue)
                global.Add(new SmmuGlobalFault(ge.Groups["dev"].Value, (uint)gev, ["global error (GERROR)"], line));
            if (version is null && Version().Match(msg) is { Success: true } v) (version, versionLine) = (v.Groups[1].Value, line);
            if (cmdline is null && msg.StartsWith("Command line: ", StringComparison.Ordinal)) cmdline = msg["Command line: ".Length..];
            if (Iommu().Match(msg) is { Success: true } i) (iommu, iommuLine) = (i.Groups[1].Value == "en", line);
            if (Pci().IsMatch(msg)) pci.Add(line);
            if (msg.Contains("ITS", StringComparison.Ordinal)) its.Add(line);
            if (msg.Contains("SMMU", StringComparison.OrdinalIgnoreCase)) smmu.Add(line);
            if (msg.Contains("Unhandled context fault", StringComparison.Ordinal) || SmmuV3Event().IsMatch(msg)
                || msg.Contains("Unexpected global fault", StringComparison.Ordinal) || Gfsr().IsMatch(msg) || Gerror().IsMatch(msg)) faults.Add(line);
            if (msg.StartsWith("parameter \"", StringComparison.Ordinal) && msg.Contains("has invalid value", StringComparison.Ordinal)) invalid.Add(line);
            if (msg.Contains("Panic on CPU", StringComparison.Ordinal)) panics.Add(line);
        }
        return new XenLog(lines, version, versionLine, cmdline, iommu, iommuLine, pci, its, smmu, faults, invalid, panics)
        {
            BarRefusals = refusals, DataAborts = aborts, Assertions = assertions, CallTraces = traces, DomainCrashes = crashes, SmmuGlobalFaults = global,
            SmmuEvents = [.. events.Select(e => new SmmuV3Event(e.Line, e.Words, e.WordLines))],
        };
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

    [GeneratedRegex(@"SMMUv3: \S+: event 0x[0-9a-f]{2} received:")]
    private static partial Regex EventHeader();

    [GeneratedRegex(@"SMMUv3: \S+:\s+0x([0-9a-f]{16})$")]
    private static partial Regex EventWord();

    [GeneratedRegex(@"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")]
    private static partial Regex Sbdf();

    [GeneratedRegex(@"\G\[(?:[0-9a-f]{16}|\s*\d{1,12}\.\d{6}|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{3})?)\]\s+")]
    private static partial Regex XenStamp();

    // "invalid position" may be cut off or wrapped onto the next line of a pasted log.
    [GeneratedRegex(@"^(?<sbdf>[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]): not mapping BAR \[(?<s>[0-9a-f]{1,16}), (?<e>[0-9a-f]{1,16})\]")]
    private static partial Regex BarRefusal();

    [GeneratedRegex(@"(?:(?<v>d\d+v\d+) )?HSR=0x[0-9a-f]+ pc=0x[0-9a-f]+ gva=0x[0-9a-f]+ gpa=0x(?<gpa>[0-9a-f]{1,16})|[Dd]ata abort.*?\bgpa[=: ]+(?:0x)?(?<gpa>[0-9a-f]{1,16})")]
    private static partial Regex DataAbort();

    [GeneratedRegex(@"^Domain \d+ \(vcpu#\d+\) crashed on cpu#\d+")]
    private static partial Regex DomainCrashed();

    [GeneratedRegex(@"^(?:smmu: )?(?<dev>\S+): Unexpected global fault")]
    private static partial Regex GlobalFaultHeader();

    [GeneratedRegex(@"(?:^(?:smmu: )?(?<dev>\S+):\s+)?GFSR 0x(?<v>[0-9a-f]{1,8}), GFSYNR0")]
    private static partial Regex Gfsr();

    [GeneratedRegex(@"^(?:SMMUv3: )?(?<dev>\S+): unexpected global error reported \(0x(?<v>[0-9a-f]{1,8})\)")]
    private static partial Regex Gerror();
}
