using Farm.Checks;
using Spectre.Console;

namespace Farm.Analyze;

/// <summary>The terminal view of an <see cref="AnalysisReport"/>: one table per kind of fact that is there, then the verdicts with their evidence.</summary>
internal static class AnalysisRenderer
{
    public static void Render(IAnsiConsole console, AnalysisReport r)
    {
        var files = Table("file", "kind", "lines");
        foreach (var f in r.Files) files.AddRow(E(f.Path), E(f.Kind + (f.Detected ? " (detected)" : "")), f.Lines.ToString(System.Globalization.CultureInfo.InvariantCulture));
        console.Write(files);

        var f0 = r.Facts;
        var v = f0.Versions;
        if (v.Xen is not null || v.Linux is not null)
            console.MarkupLine($"Xen {E(v.Xen ?? "-")}, Linux {E(v.Linux ?? "-")}" + (v.XenIommuEnabled is { } io ? $", Xen IOMMU {(io ? "enabled" : "disabled")}" : ""));
        Section(console, "host bridges", f0.HostBridges, ["device", "config space", "buses"], b => [b.Device, $"0x{b.EcamStart:x}-0x{b.EcamEnd:x}", $"{b.BusStart:x2}-{b.BusEnd:x2}"]);
        Section(console, "ACPI host bridges", f0.AcpiHostBridges, ["name", "segment", "buses"], b => [b.Name, $"{b.Segment:x4}", $"{b.BusStart:x2}-{b.BusEnd:x2}"]);
        Section(console, "root bus windows", f0.RootWindows, ["bus", "kind", "range"], w => [w.Bus, w.Kind, $"0x{w.Start:x}-0x{w.End:x}"]);
        Section(console, "bridge windows", f0.BridgeWindows, ["bridge", "kind", "range"], w => [w.Bridge, w.Kind + (w.Prefetchable ? " pref" : ""), $"0x{w.Start:x}-0x{w.End:x}"]);
        Section(console, "BARs", f0.Bars, ["device", "BAR", "kind", "range", "from"], b => [b.Bdf, b.Index.ToString(System.Globalization.CultureInfo.InvariantCulture), b.Kind + (b.Is64 ? " 64bit" : "") + (b.Prefetchable ? " pref" : ""), $"0x{b.Start:x}-0x{b.End:x}", b.Source]);
        Section(console, "BARs Xen would not map", f0.XenBarRefusals, ["device", "range", "line"], b => [b.Sbdf, $"0x{b.Start:x}-0x{b.End:x}", b.Line]);
        Section(console, "devices (lspci)", f0.Devices, ["device", "class", "driver", "interrupts", "IOMMU group"],
            d => [d.Path, d.Class, d.Driver ?? "-", d.InterruptMode + (d.MsiIrqFirst is { } a ? $" IRQ {a}-{d.MsiIrqLast}" : d.Irq is { } q ? $" IRQ {q}" : ""), d.IommuGroup?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"]);
        Section(console, "interrupts", f0.Interrupts, ["irq", "chip", "name", "total"], i => [i.Id, i.Chip, i.Name, i.Total.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Section(console, "SMMU global faults", f0.SmmuGlobalFaults, ["from", "device", "status", "causes"], g => [g.Source, g.Device, $"0x{g.Status:x8}", string.Join(", ", g.Causes)]);
        Section(console, "SMMU faults", f0.SmmuFaults, ["from", "line"], s => [s.Source, s.Line]);
        Section(console, "toolstack errors", f0.ToolstackErrors, ["kind", "domain", "device", "reason"], e => [e.Kind, e.Domain?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-", e.Device ?? "-", e.Reason ?? "-"]);
        Section(console, "crashes", f0.Crashes, ["kind", "line"], c => [c.Kind, c.Line]);

        var checks = Table("check", "verdict", "summary / evidence");
        foreach (var c in r.Checks)
        {
            var verdict = Wire(c.Verdict) + (c.Unexpected ? $" (expected {Wire(c.Expected)})" : "");
            var color = c.Unexpected ? "red" : c.Verdict == CheckVerdict.Pass ? "green" : "grey";
            var evidence = string.Join("\n", c.Evidence.Take(c.Verdict == CheckVerdict.Pass ? 1 : 5).Select(l => "  " + l));
            checks.AddRow(E(c.Id), $"[{color}]{E(verdict)}[/]", E(c.Summary + (evidence.Length > 0 ? "\n" + evidence : "")));
        }
        console.Write(checks);
        console.MarkupLine($"verdict: [{(r.Verdict == Verdict.Pass ? "green" : "red")}]{r.Verdict.ToWire()}[/] ({r.Checks.Count(c => c.Verdict == CheckVerdict.Pass)} pass, {r.Checks.Count(c => c.Verdict == CheckVerdict.Fail)} fail, {r.Checks.Count(c => c.Verdict == CheckVerdict.XFail)} xfail, {r.Checks.Count(c => c.Verdict == CheckVerdict.NotApplicable)} n/a)");
    }

    static string Wire(CheckVerdict v) => v switch { CheckVerdict.Pass => "pass", CheckVerdict.Fail => "fail", CheckVerdict.XFail => "xfail", _ => "n/a" };

    static void Section<T>(IAnsiConsole console, string title, IReadOnlyList<T> rows, string[] columns, Func<T, string[]> cells)
    {
        if (rows.Count == 0) return;
        var t = Table(columns);
        t.Title = new TableTitle(title);
        foreach (var row in rows.Take(200)) t.AddRow(cells(row).Select(E).ToArray());
        if (rows.Count > 200) t.Caption = new TableTitle($"... and {rows.Count - 200} more (--json has them all)");
        console.Write(t);
    }

    static Table Table(params string[] columns)
    {
        var t = new Table().Border(TableBorder.Simple);
        foreach (var c in columns) t.AddColumn(E(c));
        return t;
    }

    static string E(string s) => Markup.Escape(s);
}
