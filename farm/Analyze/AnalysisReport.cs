using System.Text.Json;
using System.Text.Json.Serialization;
using Farm.Checks;

namespace Farm.Analyze;

/// <summary>
/// What <c>farm analyze</c> found: the files and their kinds, the facts (typed, numbers as numbers),
/// the check results in the same form as a run's <c>checks</c> in run.json, and the verdict the exit code follows.
/// </summary>
internal sealed record AnalysisReport(IReadOnlyList<AnalyzedFile> Files, AnalysisFacts Facts, IReadOnlyList<CheckResult> Checks, Verdict Verdict)
{
    public string ToJson() => JsonSerializer.Serialize(this, AnalysisJsonContext.Default.AnalysisReport);
}

internal sealed record AnalysisFacts(
    VersionFacts Versions,
    IReadOnlyList<HostBridgeFact> HostBridges,
    IReadOnlyList<AcpiBridgeFact> AcpiHostBridges,
    IReadOnlyList<WindowFact> RootWindows,
    IReadOnlyList<BridgeWindowFact> BridgeWindows,
    IReadOnlyList<BarFact> Bars,
    IReadOnlyList<BarRefusalFact> XenBarRefusals,
    IReadOnlyList<DeviceFact> Devices,
    IReadOnlyList<InterruptFact> Interrupts,
    IReadOnlyList<IommuGroupFact> IommuGroups,
    IReadOnlyList<SmmuFaultFact> SmmuFaults,
    IReadOnlyList<SmmuGlobalFaultFact> SmmuGlobalFaults,
    IReadOnlyList<ToolstackErrorFact> ToolstackErrors,
    IReadOnlyList<CrashFact> Crashes);

internal sealed record VersionFacts(string? Xen, string? Linux, string? XenCommandLine, bool? XenIommuEnabled);

internal sealed record HostBridgeFact(string Device, ulong EcamStart, ulong EcamEnd, int BusStart, int BusEnd, string Line);

internal sealed record AcpiBridgeFact(string Name, int Segment, int BusStart, int BusEnd, string Line);

internal sealed record WindowFact(string Bus, string Kind, ulong Start, ulong End, string Line);

internal sealed record BridgeWindowFact(string Bridge, string Kind, ulong Start, ulong End, bool Prefetchable, string Line);

internal sealed record BarFact(string Bdf, int Index, string Kind, ulong Start, ulong End, ulong Size, bool Is64, bool Prefetchable, string Source, string Line);

internal sealed record BarRefusalFact(string Sbdf, ulong Start, ulong End, string Line);

internal sealed record MsiFact(bool Enabled, int Count);

internal sealed record DeviceFact(string Bdf, string Path, string Class, string Name, string? Driver, string InterruptMode, int? Irq,
    int? MsiIrqFirst, int? MsiIrqLast, int? IommuGroup, MsiFact? Msi, MsiFact? MsiX);

internal sealed record InterruptFact(string Id, string Chip, string HwIrq, string Name, long Total, IReadOnlyList<long> PerCpu);

internal sealed record IommuGroupFact(string Bdf, int Group);

internal sealed record SmmuFaultFact(string Source, string Line);

internal sealed record SmmuGlobalFaultFact(string Source, string Device, uint Status, IReadOnlyList<string> Causes, string Line);

internal sealed record ToolstackErrorFact(string Kind, int? Domain, string? Device, string? Reason, string Line);

internal sealed record CrashFact(string Kind, ulong? Gpa, string Line);

// The same options as run.json (camelCase, verdicts by their wire names), so "checks" reads like a run's.
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, UseStringEnumConverter = true)]
[JsonSerializable(typeof(AnalysisReport))]
internal sealed partial class AnalysisJsonContext : JsonSerializerContext;
