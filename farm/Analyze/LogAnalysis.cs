using System.Text;
using System.Text.RegularExpressions;
using Farm.Checks;
using Farm.Checks.Parsers;

namespace Farm.Analyze;

/// <summary>What a captured file holds, as <c>farm analyze --kind</c> names it.</summary>
internal enum LogKind
{
    /// <summary>A serial console: Xen's lines, dom0's boot, whatever else was typed (all parsers read it).</summary>
    XenConsole,
    Dmesg,
    Lspci,
    Interrupts,
    Iomem,
    /// <summary>xl/libxl output (errors, <c>xl info</c>, <c>xl dmesg</c>).</summary>
    Xl,
}

/// <summary>One input to <see cref="LogAnalysis.Analyze"/>: a file's name, its text and the kind the user gave (null: detect).</summary>
internal sealed record LogInput(string Name, string Text, LogKind? Kind);

internal sealed record AnalyzedFile(string Path, string Kind, bool Detected, int Lines);

/// <summary>
/// Judges logs captured outside Farm (a serial capture from a board on a desk, a log pasted into a mail):
/// detects each file's kind, builds one target from all of them, extracts the facts and runs the check
/// suite. Pure and total: any text in, a report out, never an exception.
/// </summary>
internal static partial class LogAnalysis
{
    public static IReadOnlyList<string> KindNames { get; } = ["xen-console", "dmesg", "lspci", "interrupts", "iomem", "xl", "auto"];

    public static string Wire(LogKind k) => k switch
    {
        LogKind.XenConsole => "xen-console",
        LogKind.Dmesg => "dmesg",
        LogKind.Lspci => "lspci",
        LogKind.Interrupts => "interrupts",
        LogKind.Iomem => "iomem",
        _ => "xl",
    };

    /// <summary>A --kind value: a kind, or null for "auto"; false for anything else.</summary>
    public static bool TryParseKind(string? name, out LogKind? kind)
    {
        kind = null;
        if (name is null or "auto") return true;
        foreach (var k in Enum.GetValues<LogKind>())
            if (Wire(k) == name) { kind = k; return true; }
        return false;
    }

    /// <summary>
    /// The kind a text most looks like, by counting lines each parser would take. A text with both Xen and
    /// kernel lines is a console; a text with nothing recognisable is read as a console too (every parser sees it).
    /// </summary>
    public static (LogKind Kind, bool Recognised) Detect(string text)
    {
        int xen = 0, kernel = 0, lspci = 0, irq = 0, iomem = 0, xl = 0, cpuHeader = 0, n = 0;
        foreach (var line in LogText.Lines(text))
        {
            if (++n > 20_000) break;
            if (line.Contains("(XEN) ", StringComparison.Ordinal)) xen++;
            if (KernelLine().IsMatch(line)) kernel++;
            if (LspciHeader().IsMatch(line)) lspci += 5;
            else if (LspciDetail().IsMatch(line)) lspci++;
            if (line.TrimStart().StartsWith("CPU0", StringComparison.Ordinal)) cpuHeader++;
            if (IrqRow().IsMatch(line)) irq++;
            if (IomemRow().IsMatch(line)) iomem++;
            if (line.Contains("libxl", StringComparison.Ordinal) || XlLine().IsMatch(line)) xl += 2;
        }
        if (xen > 0 && kernel > 0) return (LogKind.XenConsole, true);
        var scores = new (LogKind Kind, int Score)[]
        {
            (LogKind.XenConsole, xen), (LogKind.Dmesg, kernel), (LogKind.Lspci, lspci), (LogKind.Interrupts, irq + 10 * cpuHeader),
            (LogKind.Iomem, iomem), (LogKind.Xl, xl),
        };
        var best = scores.MaxBy(s => s.Score);
        return best.Score > 0 ? (best.Kind, true) : (LogKind.XenConsole, false);
    }

    public static AnalysisReport Analyze(IReadOnlyList<LogInput> inputs)
    {
        var files = new List<AnalyzedFile>();
        var console = new StringBuilder();
        var commands = new Dictionary<string, string>(StringComparer.Ordinal);
        void Append(string key, string text) => commands[key] = commands.TryGetValue(key, out var s) ? s + "\n" + text : text;

        foreach (var input in inputs)
        {
            // Logs pasted into a reply arrive quoted; read them as the console printed them.
            var text = LogText.Unquote(input.Text);
            var (kind, recognised) = input.Kind is { } given ? (given, true) : Detect(text);
            files.Add(new AnalyzedFile(input.Name, Wire(kind), input.Kind is null && recognised, LogText.Lines(text).Count));
            switch (kind)
            {
                case LogKind.Lspci: Append("lspci -vvv", text); break;
                case LogKind.Interrupts: Append("cat /proc/interrupts", text); break;
                case LogKind.Iomem: Append("cat /proc/iomem", text); break;
                case LogKind.Xl:
                    if (text.Contains("xen_version", StringComparison.Ordinal)) Append("xl info", text);
                    console.Append(text).Append('\n');
                    break;
                default: console.Append(text).Append('\n'); break;
            }
        }
        var target = new Target(new EvidenceBundle("analyze", console.ToString(), commands));
        var checks = CheckRunner.Run(target, CheckSuite.All);
        return new AnalysisReport(files, Facts(target), checks, checks.Any(c => c.Unexpected) ? Verdict.Fail : Verdict.Pass);
    }

    static AnalysisFacts Facts(Target t)
    {
        var d = t.Dmesg;
        var x = t.Xen;
        const int Cap = 2000; // bound what a huge log can make us print
        var bars = d.AssignedBars.Select(b => new BarFact(b.Bdf, b.Index, b.Kind, b.Range.Start, b.Range.End, b.Range.Size, b.Is64, b.Prefetchable, "dmesg", b.Line))
            .Concat(t.Lspci.SelectMany(dev => dev.Regions.Where(r => r.Range is not null)
                .Select(r => new BarFact(dev.Bdf, r.Index, r.Kind, r.Range!.Value.Start, r.Range.Value.End, r.Size, r.Is64, r.Prefetchable, "lspci", r.Line.Trim()))))
            .Take(Cap).ToList();
        var crashes = new List<CrashFact>();
        crashes.AddRange(x.Panics.Select(l => new CrashFact("xen-panic", null, l)));
        crashes.AddRange(x.Assertions.Select(l => new CrashFact("xen-assertion", null, l)));
        crashes.AddRange(x.DomainCrashes.Select(l => new CrashFact("domain-crash", null, l)));
        crashes.AddRange(x.DataAborts.Select(a => new CrashFact("data-abort", a.Gpa, a.Line)));
        crashes.AddRange(x.CallTraces.Select(l => new CrashFact("xen-call-trace", null, l)));
        crashes.AddRange(d.Oopses.Select(l => new CrashFact("kernel-oops", null, l)));
        return new AnalysisFacts(
            new VersionFacts(x.Version, d.Version, x.CommandLine, x.IommuEnabled),
            d.Bridges.Select(b => new HostBridgeFact(b.Device, b.Ecam.Start, b.Ecam.End, b.BusStart, b.BusEnd, b.Line)).Take(Cap).ToList(),
            d.AcpiBridges.Select(b => new AcpiBridgeFact(b.Name, b.Segment, b.BusStart, b.BusEnd, b.Line)).Take(Cap).ToList(),
            d.Windows.Select(w => new WindowFact(w.Bus, w.Kind, w.Range.Start, w.Range.End, w.Line)).Take(Cap).ToList(),
            d.BridgeWindows.Select(w => new BridgeWindowFact(w.Bdf, w.Kind, w.Range.Start, w.Range.End, w.Prefetchable, w.Line)).Take(Cap).ToList(),
            bars,
            x.BarRefusals.Select(r => new BarRefusalFact(r.Sbdf, r.Range.Start, r.Range.End, r.Line)).Take(Cap).ToList(),
            t.Lspci.Select(dev => new DeviceFact(dev.Bdf, dev.Path, dev.ClassName, dev.Name, dev.Driver, dev.InterruptMode, dev.Irq,
                dev.MsiIrqs?.First, dev.MsiIrqs?.Last, dev.IommuGroup,
                dev.Msi is { } m ? new MsiFact(m.Enabled, m.Count) : null, dev.MsiX is { } mx ? new MsiFact(mx.Enabled, mx.Count) : null)).Take(Cap).ToList(),
            t.Interrupts.Select(r => new InterruptFact(r.Id, r.Chip, r.HwIrq, r.Name, r.Total, r.PerCpu)).Take(Cap).ToList(),
            d.IommuGroups.Select(g => new IommuGroupFact(g.Bdf, g.Group)).Take(Cap).ToList(),
            [.. d.SmmuFaults.Select(l => new SmmuFaultFact("linux", l)).Take(Cap), .. x.SmmuFaults.Select(l => new SmmuFaultFact("xen", l)).Take(Cap)],
            [.. d.SmmuGlobalFaults.Select(g => new SmmuGlobalFaultFact("linux", g.Device, g.Status, g.Causes, g.Line)),
             .. x.SmmuGlobalFaults.Select(g => new SmmuGlobalFaultFact("xen", g.Device, g.Status, g.Causes, g.Line))],
            t.Toolstack.Select(e => new ToolstackErrorFact(ToolstackWire(e.Kind), e.Domain, e.Device, e.Reason, e.Line)).Take(Cap).ToList(),
            crashes.Take(Cap).ToList());
    }

    public static string ToolstackWire(ToolstackErrorKind k) => k switch
    {
        ToolstackErrorKind.PassthroughUnsupported => "passthrough-unsupported",
        ToolstackErrorKind.PciAddFailed => "pci-add-failed",
        ToolstackErrorKind.AssignFailed => "assign-failed",
        ToolstackErrorKind.AddPciDevicesFailed => "add-pci-devices-failed",
        ToolstackErrorKind.QuarantineFailed => "quarantine-failed",
        _ => "qemu-msi-mapping",
    };

    [GeneratedRegex(@"^\[\s*\d+\.\d+\] ")]
    private static partial Regex KernelLine();

    [GeneratedRegex(@"^(?:[0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-7](?:/\S+)? [^:]+: ")]
    private static partial Regex LspciHeader();

    [GeneratedRegex(@"^\s+(?:Region \d+:|Capabilities:|Kernel driver in use:|Control:|Status:|Interrupts?: pin|IOMMU group:)")]
    private static partial Regex LspciDetail();

    [GeneratedRegex(@"^\s*(?:\d{1,7}|[A-Z]{2,5}\d{0,3}):(?:\s+\d+)+\s+\S")]
    private static partial Regex IrqRow();

    [GeneratedRegex(@"^ *[0-9a-f]{4,16}-[0-9a-f]{4,16} : \S")]
    private static partial Regex IomemRow();

    [GeneratedRegex(@"^(?:xen_version|xen_caps|host|nr_cpus|free_memory)\s+: |^\s*xl |msi_msix_setup: ")]
    private static partial Regex XlLine();
}
