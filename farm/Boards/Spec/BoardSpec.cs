using Farm.Spec;

namespace Farm.Boards.Spec;

/// <summary>
/// The emulated IOMMU QEMU gives the virt machine (<c>-machine ...,iommu=smmuv3</c>).
/// <see cref="SmmuV3"/> is QEMU's default SMMUv3, stage-1 only; <see cref="SmmuV3Stage2"/> adds
/// <c>-global arm-smmuv3.stage=2</c> (QEMU 10 and later), the stage Xen's SMMUv3 driver translates with.
/// </summary>
internal enum IommuModel { None, SmmuV3, SmmuV3Stage2 }

/// <summary>A PCI device under test that QEMU gives the board (<c>qemu.devices</c>).</summary>
internal enum QemuDevice { Nvme, E1000e }

/// <summary>How QEMU starts the board: direct kernel boot, or U-Boot loading images over TFTP like a physical board.</summary>
internal enum QemuFirmware { Direct, UBoot }

/// <summary>
/// A board ready to run: its board type with the board's own overrides merged over it, and
/// every cross-field rule checked. Equivalent to a LAVA device dictionary rendered from its
/// device type.
/// </summary>
internal sealed record BoardSpec
{
    public required string Name { get; init; }
    public required string TypeName { get; init; }
    public required BoardMode Mode { get; init; }

    /// <summary>What its kind read and checked: <see cref="QemuSpec"/> for <c>qemu</c>, <c>UBootBoardSpec</c> for <c>uboot</c>, ...</summary>
    public required BoardKindSpec Hardware { get; init; }

    /// <summary>The kind's name in lab files (<c>qemu</c>, <c>uboot</c>).</summary>
    public string Kind => Hardware.Kind;

    /// <summary>Xen's command line; null in native mode.</summary>
    public string? XenCmdline { get; init; }

    /// <summary>Linux's command line (dom0's under Xen).</summary>
    public required string LinuxCmdline { get; init; }

    /// <summary>BDFs (<c>0000:00:01.0</c>) the checks expect to find on this board.</summary>
    public IReadOnlyList<string> ExpectedPci { get; init; } = [];

    /// <summary>Crash patterns watched on this board's console: the defaults with the lab file's crash-patterns: applied.</summary>
    public IReadOnlyList<Farm.Serial.CrashPattern> CrashPatterns { get; init; } = Farm.Serial.CrashPatterns.Defaults;

    public IReadOnlyList<string> Tags { get; init; } = [];
    public string SourcePath { get; init; } = "";
    public int Line { get; init; }

    /// <summary>Power as the lab API and dashboard show it: where it is on a bench, else the kind Farm drives itself.</summary>
    public string SharedPower => Hardware.Physical ? Hardware.PowerSummary : Kind;

    /// <summary>The console as the lab API and dashboard show it.</summary>
    public string SharedConsole => Hardware.Physical ? Hardware.ConsoleSummary : Kind;

    /// <summary>What a run of this board is made from.</summary>
    internal IBoardConfig Config() => Hardware.Config(this);

    /// <summary>One line for listings and error messages: <c>qemu-xen (qemu-virt-xen, xen) tags: qemu, xen</c>.</summary>
    public string Summary =>
        $"{Name} ({TypeName}, {Mode.ToString().ToLowerInvariant()}) tags: {(Tags.Count == 0 ? "none" : string.Join(", ", Tags))}";
}
