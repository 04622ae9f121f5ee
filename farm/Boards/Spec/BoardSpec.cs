using Farm.Jobs.Spec;
using Farm.PowerControl;

namespace Farm.Boards.Spec;

/// <summary>How a board is driven: a QEMU instance Farm starts, or a physical board booted by
/// U-Boot over its serial console, powered through a PDU/BMC/relay.</summary>
internal enum BoardKind { Qemu, UBoot }

/// <summary>Whether the board boots Xen with Linux as dom0, or the same Linux on bare metal (the baseline).</summary>
internal enum BoardMode { Xen, Native }

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
/// QEMU settings for one board, defaults already applied. The values map one-to-one onto
/// <c>boot.sh</c>'s knobs (<c>CPU SMP MEM IOMMU NVME NIC</c>) and onto its command line.
/// </summary>
internal sealed record QemuSpec
{
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
/// A board ready to run: its board type with the board's own overrides merged over it, and
/// every cross-field rule checked. Equivalent to a LAVA device dictionary rendered from its
/// device type.
/// </summary>
internal sealed record BoardSpec
{
    public required string Name { get; init; }
    public required string TypeName { get; init; }
    public BoardKind Kind { get; init; } = BoardKind.Qemu;
    public required BoardMode Mode { get; init; }

    /// <summary>Set when <see cref="Kind"/> is <see cref="BoardKind.Qemu"/>.</summary>
    public QemuSpec? Qemu { get; init; }

    /// <summary>Xen's command line; null in native mode.</summary>
    public string? XenCmdline { get; init; }

    /// <summary>Linux's command line (dom0's under Xen).</summary>
    public required string LinuxCmdline { get; init; }

    /// <summary>BDFs (<c>0000:00:01.0</c>) the checks expect to find on this board.</summary>
    public IReadOnlyList<string> ExpectedPci { get; init; } = [];

    /// <summary>Crash patterns watched on this board's console: the defaults with the lab file's crash-patterns: applied.</summary>
    public IReadOnlyList<Farm.Jobs.CrashPattern> CrashPatterns { get; init; } = Farm.Jobs.CrashPatterns.Defaults;

    /// <summary>Set when <see cref="Kind"/> is <see cref="BoardKind.UBoot"/>: a physical board's power, UART, network and U-Boot.</summary>
    public PowerSpec? Power { get; init; }
    public SerialSpec? Serial { get; init; }
    public NetworkSpec? Network { get; init; }
    public UBootSpec? UBoot { get; init; }

    public IReadOnlyList<string> Tags { get; init; } = [];
    public string SourcePath { get; init; } = "";
    public int Line { get; init; }

    /// <summary>
    /// Why this board cannot run <paramref name="job"/>, or null when it can (LAVA's
    /// <c>accepts()</c>: the answer to "why not" is always a sentence).
    /// </summary>
    public string? Rejects(JobSpec job)
    {
        var missing = job.Tags.Where(t => !Tags.Contains(t, StringComparer.Ordinal)).ToList();
        if (missing.Count > 0) return $"lacks tag{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing)}";
        if (Qemu?.BinaryProblem is { } qemu) return qemu;
        if (job.Expect.XenBanner is not null && Mode != BoardMode.Xen)
            return $"boots {Mode.ToString().ToLowerInvariant()} Linux, so the Xen banner the job expects (expect.xen-banner) never appears";
        return null;
    }

    /// <summary>One line for listings and error messages: <c>qemu-xen (qemu-virt-xen, xen) tags: qemu, xen</c>.</summary>
    public string Summary =>
        $"{Name} ({TypeName}, {Mode.ToString().ToLowerInvariant()}) tags: {(Tags.Count == 0 ? "none" : string.Join(", ", Tags))}";
}
