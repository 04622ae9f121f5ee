using Farm.Boards.Spec;

namespace Farm.Boards.Qemu;

/// <summary>What a QEMU board is, as data (from the lab file, validated there): the enums of the board spec, not strings.</summary>
internal sealed record QemuBoardConfig(
    string Name,
    BoardMode Mode,
    string Binary,
    string Machine,
    string Cpu,
    int Smp,
    int MemoryMb,
    IommuModel Iommu,
    IReadOnlyList<QemuDevice> Devices,
    string? XenCmdline,
    string LinuxCmdline,
    bool ShareArtifacts = true,
    QemuFirmware Firmware = QemuFirmware.Direct,
    string UBootBinary = "/usr/lib/u-boot/qemu_arm64/u-boot.bin") : IBoardConfig
{
    /// <summary>A QEMU process for the run, resuming a saved boot when the run keeps snapshots.</summary>
    public Board Create(BoardContext context)
    {
        var qemu = new QemuBoard(this, context.Directory, context.Time, context.SnapshotDirectory is { } d ? new SnapshotStore(d) : null);
        return new Board(Name, qemu.Power, qemu.Console, qemu.Deployer, qemu.Ssh, qemu, qemu.Snapshots, qemu.Bootloader,
            () => qemu.Machine?.Version is { } v ? [new("qemu-version", v)] : []);
    }

    /// <summary>The board as the lab file describes it.</summary>
    public static QemuBoardConfig From(BoardSpec board)
    {
        var q = board.Hardware as QemuSpec ?? throw new ArgumentException($"board {board.Name} is not a QEMU board", nameof(board));
        return new QemuBoardConfig(board.Name, board.Mode, q.Binary, q.Machine, q.Cpu, q.Smp, q.MemoryMb,
            q.Iommu, q.Devices, board.XenCmdline, board.LinuxCmdline, q.ShareArtifacts, q.Firmware);
    }
}
