using System.Text.Json;
using System.Text.Json.Serialization;
using Farm.Checks;

namespace Farm.Analyze;

/// <summary>
/// What <c>farm analyze</c> found: the files and their kinds, the facts (typed, numbers as numbers),
/// the check results in the same form as a run's <c>checks</c> in run.json, and the verdict the exit code follows.
/// </summary>
public sealed record AnalysisReport(IReadOnlyList<AnalyzedFile> Files, AnalysisFacts Facts, IReadOnlyList<CheckResult> Checks, Verdict Verdict)
{
    public string ToJson() => JsonSerializer.Serialize(this, AnalysisJsonContext.Default.AnalysisReport);
}

public sealed record AnalysisFacts(
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

public sealed record VersionFacts(string? Xen, string? Linux, string? XenCommandLine, bool? XenIommuEnabled);

public sealed record HostBridgeFact(string Device, ulong EcamStart, ulong EcamEnd, int BusStart, int BusEnd, string Line);

public sealed record AcpiBridgeFact(string Name, int Segment, int BusStart, int BusEnd, string Line);

public sealed record WindowFact(string Bus, string Kind, ulong Start, ulong End, string Line);

public sealed record BridgeWindowFact(string Bridge, string Kind, ulong Start, ulong End, bool Prefetchable, string Line);

public sealed record BarFact(string Bdf, int Index, string Kind, ulong Start, ulong End, ulong Size, bool Is64, bool Prefetchable, string Source, string Line);

public sealed record BarRefusalFact(string Sbdf, ulong Start, ulong End, string Line);

public sealed record MsiFact(bool Enabled, int Count);

public sealed record DeviceFact(string Bdf, string Path, string Class, string Name, string? Driver, string InterruptMode, int? Irq,
    int? MsiIrqFirst, int? MsiIrqLast, int? IommuGroup, MsiFact? Msi, MsiFact? MsiX);

public sealed record InterruptFact(string Id, string Chip, string HwIrq, string Name, long Total, IReadOnlyList<long> PerCpu);

public sealed record IommuGroupFact(string Bdf, int Group);

public sealed record SmmuFaultFact(string Source, string Line);

public sealed record SmmuGlobalFaultFact(string Source, string Device, uint Status, IReadOnlyList<string> Causes, string Line);

public sealed record ToolstackErrorFact(string Kind, int? Domain, string? Device, string? Reason, string Line);

public sealed record CrashFact(string Kind, ulong? Gpa, string Line);

// The same options as run.json (camelCase, verdicts by their wire names), so "checks" reads like a run's.
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, UseStringEnumConverter = true)]
[JsonSerializable(typeof(AnalysisReport))]
internal sealed partial class AnalysisJsonContext : JsonSerializerContext;
