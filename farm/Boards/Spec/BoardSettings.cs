using Farm.Jobs.Spec;

namespace Farm.Boards.Spec;

/// <summary>
/// QEMU fields as written in one place (a board type, or a board's overrides): null means "not
/// set here", so layers merge field by field. Lists are replaced, not appended, so a board can
/// also remove a device.
/// </summary>
internal sealed record QemuSettings
{
    public string? Binary { get; init; }

    /// <summary>Where <see cref="Binary"/> was written (its problems are reported there).</summary>
    public SpecPosition? BinaryAt { get; init; }

    public string? Machine { get; init; }
    public string? Cpu { get; init; }
    public int? Smp { get; init; }
    public int? MemoryMb { get; init; }
    public IommuModel? Iommu { get; init; }
    public IReadOnlyList<QemuDevice>? Devices { get; init; }
    public bool? ShareArtifacts { get; init; }
    public QemuFirmware? Firmware { get; init; }

    public static QemuSettings Empty { get; } = new();

    /// <summary>These settings laid over <paramref name="lower"/>: set fields win.</summary>
    public QemuSettings Over(QemuSettings lower) => new()
    {
        Binary = Binary ?? lower.Binary,
        BinaryAt = Binary is null ? lower.BinaryAt : BinaryAt,
        Machine = Machine ?? lower.Machine,
        Cpu = Cpu ?? lower.Cpu,
        Smp = Smp ?? lower.Smp,
        MemoryMb = MemoryMb ?? lower.MemoryMb,
        Iommu = Iommu ?? lower.Iommu,
        Devices = Devices ?? lower.Devices,
        ShareArtifacts = ShareArtifacts ?? lower.ShareArtifacts,
        Firmware = Firmware ?? lower.Firmware,
    };
}

/// <summary>Every board field that a board type sets and a board may override; null means "not set here".</summary>
internal sealed record BoardSettings
{
    public BoardKind? Kind { get; init; }
    public BoardMode? Mode { get; init; }
    public QemuSettings Qemu { get; init; } = QemuSettings.Empty;
    public string? XenCmdline { get; init; }
    public string? LinuxCmdline { get; init; }
    public IReadOnlyList<string>? ExpectedPci { get; init; }
    public UBootSpec? UBoot { get; init; }

    /// <summary>crash-patterns: id → regex, or null to drop that id; a board's entries lie over its type's.</summary>
    public IReadOnlyDictionary<string, System.Text.RegularExpressions.Regex?>? CrashPatterns { get; init; }

    public static BoardSettings Empty { get; } = new();

    /// <summary>These settings laid over <paramref name="lower"/>; <c>qemu</c> merges key by key.</summary>
    public BoardSettings Over(BoardSettings lower) => new()
    {
        Kind = Kind ?? lower.Kind,
        Mode = Mode ?? lower.Mode,
        Qemu = Qemu.Over(lower.Qemu),
        XenCmdline = XenCmdline ?? lower.XenCmdline,
        LinuxCmdline = LinuxCmdline ?? lower.LinuxCmdline,
        ExpectedPci = ExpectedPci ?? lower.ExpectedPci,
        UBoot = UBoot ?? lower.UBoot,
        CrashPatterns = CrashPatterns is null ? lower.CrashPatterns : lower.CrashPatterns is null ? CrashPatterns
            : lower.CrashPatterns.Where(p => !CrashPatterns.ContainsKey(p.Key)).Concat(CrashPatterns).ToDictionary(),
    };
}

/// <summary>A board type from a lab file (LAVA's device type): the shared settings of a family of boards.</summary>
internal sealed record BoardTypeSpec
{
    public required string Name { get; init; }
    public required BoardSettings Settings { get; init; }
    public string SourcePath { get; init; } = "";
    public int Line { get; init; }
    public int Column { get; init; }
    public SpecPosition At => new(SourcePath, Line, Column);
}
