using Farm.Boards.Spec;
using Farm.Deploy;
using Farm.Ssh;

namespace Farm.Boards.Qemu;

/// <summary>What one deploy of a QEMU board needs besides the board itself: the images, the kernel's extra arguments, where the board's files go, and its SSH forward.</summary>
internal sealed record QemuLaunchInputs(ArtifactSet Artifacts, IReadOnlyList<string> KernelArguments, string BoardDirectory, SshEndpoint Ssh);

/// <summary>
/// QEMU's command line for one deploy (before Farm adds its console and QMP sockets), and the
/// files it names that deploy must create: the NVMe disk, the TFTP root U-Boot loads from.
/// </summary>
internal sealed record QemuLaunchPlan(IReadOnlyList<string> Arguments, string? NvmeDisk, string? TftpDirectory, IReadOnlyList<string>? UBootCommands,
    string? NicPeerScript = null);

/// <summary>
/// The QEMU argv of a board, from data alone: no file is read or written, so every board file's
/// command line is a golden test (tests/Golden/qemu-argv). The values follow
/// /work/shared/xen-on-qemu's boot.sh: the PCI devices under test on the virt machine's PCIe
/// bus, the management NIC and the artifact share on virtio-mmio so they stay off PCI.
/// </summary>
internal static class QemuCommandLine
{
    /// <summary>Where QEMU's user network serves TFTP, and the address it gives the guest.</summary>
    const string UserNetServer = "10.0.2.2", UserNetGuest = "10.0.2.15";

    public static QemuLaunchPlan Build(QemuBoardConfig c, QemuLaunchInputs inputs)
    {
        var a = inputs.Artifacts;
        var args = new List<string>
        {
            "-machine", c.Iommu == IommuModel.None ? c.Machine : $"{c.Machine},iommu=smmuv3",
            "-cpu", c.Cpu, "-smp", c.Smp.ToString(), "-m", c.MemoryMb.ToString(), "-no-reboot",
        };
        // QEMU 10's SMMUv3 can translate at stage 2 (QEMU 7.2 rejects the property and exits at start).
        if (c.Iommu == IommuModel.SmmuV3Stage2) args.AddRange(["-global", "arm-smmuv3.stage=2"]);
        var linux = string.Join(' ', new[] { c.LinuxCmdline }.Concat(inputs.KernelArguments));
        string? tftp = null;
        IReadOnlyList<string>? uboot = null;
        switch (c.Firmware)
        {
            case QemuFirmware.UBoot:
                // As on a physical board: U-Boot from flash, images over TFTP from a per-run directory, then booti.
                tftp = Path.Combine(inputs.BoardDirectory, "tftp");
                args.AddRange(["-bios", c.UBootBinary]);
                uboot = UBootScript.For(new UBootBoot(c.Mode == BoardMode.Xen, Path.GetFileName(a.Xen),
                    Path.GetFileName(a.Kernel), Path.GetFileName(a.Initrd), c.XenCmdline, linux, UserNetServer, UserNetGuest, UBootLayout.QemuVirt,
                    // The management NIC is the first virtio-mmio device, which QEMU's virt machine puts in the last transport slot.
                    Interface: "virtio-net#31"));
                break;
            case QemuFirmware.Direct when c.Mode == BoardMode.Xen:
                // guest-loader options are QemuOpts: a comma inside a value is written ",,".
                args.AddRange([
                    "-kernel", a.Xen, "-append", c.XenCmdline ?? "",
                    "-device", $"guest-loader,addr=0x49000000,kernel={a.Kernel},bootargs={linux.Replace(",", ",,")}",
                    "-device", $"guest-loader,addr=0x50000000,initrd={a.Initrd}",
                ]);
                break;
            case QemuFirmware.Direct:
                args.AddRange(["-kernel", a.Kernel, "-initrd", a.Initrd, "-append", linux]);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(c), c.Firmware, "unknown firmware");
        }
        string? disk = null, nicPeer = null;
        foreach (var device in c.Devices)
        {
            switch (device)
            {
                case QemuDevice.Nvme:
                    disk = Path.Combine(inputs.BoardDirectory, "nvme.img");
                    args.AddRange(["-drive", $"file={disk},if=none,id=nv0,format=raw", "-device", "nvme,drive=nv0,serial=farm0"]);
                    break;
                case QemuDevice.E1000e:
                    // romfile= : no iPXE ROM (absent without ipxe-qemu); restrict=on: no way out of QEMU but to the
                    // NIC probe's peer (NicPeer), whose script the board writes beside its console log.
                    nicPeer = Path.Combine(inputs.BoardDirectory, NicPeer.ScriptFile);
                    args.AddRange(["-netdev", $"user,id=n0,restrict=on,{NicPeer.GuestForward(nicPeer)}", "-device", "e1000e,netdev=n0,romfile="]);
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(c), device, "unknown QEMU device");
            }
        }
        var ssh = inputs.Ssh;
        args.AddRange(["-netdev", $"user,id=mgmt,restrict=on,hostfwd=tcp:{ssh.Host}:{ssh.Port}-:22{(tftp is null ? "" : $",tftp={tftp}")}", "-device", "virtio-net-device,netdev=mgmt"]);
        // A mounted 9p share blocks migration: boards meant for snapshots go without it.
        if (c.ShareArtifacts)
            args.AddRange(["-fsdev", $"local,id=art,path={a.Directory},security_model=none,readonly=on", "-device", "virtio-9p-device,fsdev=art,mount_tag=artifacts"]);
        return new QemuLaunchPlan(args, disk, tftp, uboot, nicPeer);
    }
}
