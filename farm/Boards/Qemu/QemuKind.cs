using System.Text.RegularExpressions;
using Farm.Boards.Spec;
using Farm.Spec;

namespace Farm.Boards.Qemu;

/// <summary>
/// QEMU settings for one board (<c>kind: qemu</c>), defaults already applied. The values map one-to-one onto
/// <c>boot.sh</c>'s knobs (<c>CPU SMP MEM IOMMU NVME NIC</c>) and onto its command line.
/// </summary>
internal sealed record QemuSpec : BoardKindSpec
{
    public override string Kind => "qemu";

    /// <summary>Each run is its own QEMU: nothing to lease.</summary>
    public override bool Physical => false;

    public override string PowerSummary => "QMP query-status";

    public override string ConsoleSummary => "QEMU serial socket";

    public override string? Problem => BinaryProblem;

    internal override IBoardConfig Config(BoardSpec board) => QemuBoardConfig.From(board);

    /// <summary>A program on PATH, or an absolute path (a lab file's checkout-relative path is resolved on load).</summary>
    public string Binary { get; init; } = "qemu-system-aarch64";

    /// <summary>Why <see cref="Binary"/> cannot run, with its lab-file position and the set-up that provides it; null when it exists.</summary>
    public string? BinaryProblem { get; init; }

    /// <summary><c>-machine</c> without the IOMMU, which comes from <see cref="Iommu"/>.</summary>
    public required string Machine { get; init; }

    public string Cpu { get; init; } = "cortex-a57";
    public int Smp { get; init; } = 2;
    public int MemoryMb { get; init; } = 2048;
    public IommuModel Iommu { get; init; } = IommuModel.None;

    /// <summary>PCI devices under test.</summary>
    public IReadOnlyList<QemuDevice> Devices { get; init; } = [];

    /// <summary>Whether the artifact directory is shared with the guest over 9p (<c>share: artifacts | none</c>);
    /// a mounted share blocks QEMU snapshots.</summary>
    public bool ShareArtifacts { get; init; } = true;

    /// <summary><c>firmware: direct | u-boot</c>.</summary>
    public QemuFirmware Firmware { get; init; } = QemuFirmware.Direct;
}

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


/// <summary>
/// <c>kind: qemu</c>: a QEMU instance Farm starts for each run. Owns the <c>qemu:</c> key (board
/// types and boards, merged key by key), the checks that need QEMU's facts (EL2 for Xen, the SMMU's
/// stages, the UART Xen can print on), and the factory (<see cref="QemuBoardConfig"/> → <see cref="QemuBoard"/>).
/// </summary>
internal static partial class QemuKind
{
    static readonly string[] Keys = ["binary", "machine", "cpu", "smp", "memory-mb", "iommu", "devices", "share", "firmware"];
    static readonly Dictionary<string, QemuFirmware> Firmwares = new() { ["direct"] = QemuFirmware.Direct, ["u-boot"] = QemuFirmware.UBoot };
    static readonly Dictionary<string, bool> Shares = new() { ["artifacts"] = true, ["none"] = false };
    static readonly Dictionary<string, QemuDevice> Devices = new() { ["nvme"] = QemuDevice.Nvme, ["e1000e"] = QemuDevice.E1000e };
    static readonly Dictionary<string, IommuModel> Iommus = new() { ["none"] = IommuModel.None, ["smmuv3"] = IommuModel.SmmuV3, ["smmuv3-stage2"] = IommuModel.SmmuV3Stage2 };

    internal static readonly BoardKindSection<QemuSettings> Section = new("qemu", m => m.Mapping("qemu", Keys) is { } q ? Read(q) : null, (upper, lower) => upper.Over(lower));

    internal static readonly BoardKindEntry Entry = new("qemu", "QEMU", [Section], Build);

    const string Where = "required field is missing; set it on the board type or the board";

    static QemuSettings? Read(SpecMapping q)
    {
        var machine = q.Text("machine");
        // The IOMMU is a separate field so a board can switch it without restating the machine.
        if (machine is not null && machine.Contains("iommu=", StringComparison.Ordinal))
            q.Report("machine", "set the IOMMU with qemu.iommu, not iommu= in the machine string");
        var binary = q.Text("binary");
        // A path is the checkout's (.cache/qemu-10/...): it must stay inside it.
        if (binary is not null && (binary.Length == 0 || binary.Split('/').Contains("..") || binary.Any(char.IsControl)))
            q.Report("binary", $"\"{binary}\" is not a QEMU program: give a name on PATH, an absolute path, or a path relative to the checkout without '..'");
        var settings = new QemuSettings
        {
            Binary = binary,
            BinaryAt = q.Value("binary") is { } b ? q.Reader.At(b) : null,
            Machine = machine,
            Cpu = q.Text("cpu"),
            Smp = q.Integer("smp", min: 1),
            MemoryMb = q.Integer("memory-mb", min: 64),
            Iommu = q.Choice("iommu", Iommus),
            Devices = q.TextList("devices", "device", duplicateReason: "listed twice",
                check: d => Devices.ContainsKey(d) ? null : $"unknown QEMU device \"{d}\"{NearMiss.Hint(d, Devices.Keys)}; known: {string.Join(", ", Devices.Keys)}")
                ?.Where(Devices.ContainsKey).Select(d => Devices[d]).ToList(),
            ShareArtifacts = q.Choice("share", Shares),
            Firmware = q.Choice("firmware", Firmwares),
        };
        // Nothing that read: as if unwritten (a board of another kind is not told twice about it).
        return settings == QemuSettings.Empty ? null : settings;
    }

    static QemuSpec? Build(BoardKindBuild b)
    {
        var before = b.Errors;
        var q = b.Section(Section) ?? QemuSettings.Empty;
        var onBoard = b.SectionOnBoard(Section) ?? QemuSettings.Empty;
        var s = b.Settings;
        if (q.Machine is null) b.Problem("qemu.machine", Where);
        if (s.Mode == BoardMode.Xen)
        {
            // Xen runs at EL2; without virtualization=on QEMU's virt machine has none.
            if (q.Machine is { } m && !m.Split(',').Contains("virtualization=on"))
                b.Problem("qemu.machine", $"Xen needs EL2: add virtualization=on to \"{m}\" ({b.Origin(onBoard.Machine is not null)})");
            // QEMU's default SMMUv3 translates at stage 1 only. A Xen with an SMMUv3 driver needs stage 2
            // (xen/drivers/passthrough/arm/smmu-v3.c: "no stage-2 translation support!") and declines
            // it; one without (Debian's 4.17) leaves the SMMU to dom0. Either way nothing gives dom0's
            // DMA a translation: NVMe and e1000e DMA faults until the boot times out (xen-on-qemu
            // README, gotchas). QEMU 10's arm-smmuv3.stage=2 gives Xen's driver the stage it needs.
            if (q.Iommu == IommuModel.SmmuV3)
                b.Problem("qemu.iommu", "smmuv3 is QEMU's stage-1 SMMU, which hangs a Xen boot: Xen's SMMUv3 driver needs stage-2 translation and declines it, " +
                    "leaving dom0's DMA to fault; use smmuv3-stage2 with QEMU 10 (binary: .cache/qemu-10/usr/bin/qemu-system-aarch64, from ci/setup-qemu10.sh), " +
                    $"or smmuv3 in native mode only ({b.Origin(onBoard.Iommu is not null)})");
        }
        // Verified on Xen 4.17 under QEMU's virt machine: the board boots and powers off normally but
        // the UART stays silent (its tree has no serial0 alias), so every console stage would time out.
        if (s.XenCmdline is { } xc && xc.Split(' ').Contains("dtuart=serial0"))
            b.Problem("xen-cmdline", $"dtuart=serial0 makes Xen print nothing on QEMU's UART; use dtuart=/pl011@9000000 (or just console=dtuart) ({b.Origin(b.OnBoard.XenCmdline is not null)})");
        // What a physical kind needs to reach a board (power, serial, network): Farm does all of that for QEMU.
        foreach (var f in b.Foreign.Where(f => f.Section.BoardOnly))
            b.Problem(f.Section.Key, $"set, but kind is qemu: Farm powers, watches and reaches a QEMU board itself; use kind: {f.Owner.Name} for a physical board");
        if (b.Errors > before) return null;

        var defaults = new QemuSpec { Machine = "" };
        var (binary, binaryProblem) = QemuBinary(q, defaults.Binary);
        return new QemuSpec
        {
            Binary = binary,
            BinaryProblem = binaryProblem,
            Machine = q.Machine!,
            Cpu = q.Cpu ?? defaults.Cpu,
            Smp = q.Smp ?? defaults.Smp,
            MemoryMb = q.MemoryMb ?? defaults.MemoryMb,
            Iommu = q.Iommu ?? defaults.Iommu,
            Devices = q.Devices ?? defaults.Devices,
            ShareArtifacts = q.ShareArtifacts ?? defaults.ShareArtifacts,
            Firmware = q.Firmware ?? defaults.Firmware,
        };
    }

    /// <summary>
    /// The QEMU a board runs, resolved: a name is looked up on PATH when QEMU starts; a relative
    /// path is the checkout's (the directory with Farm.sln above the lab file, else the lab file's
    /// directory), so a lab file can name a private QEMU such as <c>.cache/qemu-10/usr/bin/qemu-system-aarch64</c>.
    /// A missing file makes the board refuse jobs with its position and the script that provides it
    /// (<c>.cache/qemu-N/</c> comes from <c>ci/setup-qemuN.sh</c>), while the rest of the lab stays usable.
    /// </summary>
    static (string Binary, string? Problem) QemuBinary(QemuSettings q, string fallback)
    {
        if (q.Binary is not { } written || !written.Contains('/')) return (q.Binary ?? fallback, null);
        var root = q.BinaryAt is { Source: var source } ? CheckoutOf(source) : Directory.GetCurrentDirectory();
        var path = Path.GetFullPath(written, root);
        if (File.Exists(path)) return (path, null);
        var private10 = PrivateQemu().Match(written);
        var hint = private10.Success
            ? $"run ci/setup-qemu{private10.Groups[1].Value}.sh (ci/setup.sh runs it) to unpack QEMU {private10.Groups[1].Value} there"
            : "install that QEMU or correct qemu.binary";
        return (path, $"{q.BinaryAt}: qemu.binary: {path} does not exist; {hint}");
    }

    static string CheckoutOf(string labFile)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(labFile))!;
        for (var d = new DirectoryInfo(dir); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Farm.sln"))) return d.FullName;
        return dir;
    }

    [GeneratedRegex(@"(?:^|/)\.cache/qemu-(\d+)/")]
    private static partial Regex PrivateQemu();
}
