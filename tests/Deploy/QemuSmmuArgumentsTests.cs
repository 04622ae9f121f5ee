using Farm.Boards.Qemu;
using Farm.Boards;
using Farm.Boards.Spec;
using Farm.Ssh;

namespace Farm.Tests.Deploy;

/// <summary>The QEMU command line each IOMMU, firmware and device setting gives (what QEMU 10's stage-2 SMMU needs).</summary>
internal class QemuSmmuArgumentsTests
{
    static readonly ArtifactSet Artifacts = new("/a", "/a/xen", "/a/vmlinuz", "/a/initrd.cpio.gz", new Dictionary<string, string>(), new Dictionary<string, string>());

    static QemuBoardConfig Config(IommuModel iommu) => new("b", BoardMode.Xen, "qemu-system-aarch64", "virt,virtualization=on,gic-version=3", "cortex-a57", 2, 2048,
        iommu, [], "console=dtuart", "console=hvc0", ShareArtifacts: false);

    static QemuLaunchPlan Plan(QemuBoardConfig config) =>
        QemuCommandLine.Build(config, new QemuLaunchInputs(Artifacts, ["farm.sshkey=K"], "/runs/r/b", new SshEndpoint("127.0.0.1", 2222, "root")));

    static string After(IReadOnlyList<string> args, string flag) => args[args.ToList().IndexOf(flag) + 1];

    [Test]
    public void Stage2SmmuIsTheVirtMachinesSmmuv3WithItsStageSetTo2()
    {
        var args = Plan(Config(IommuModel.SmmuV3Stage2)).Arguments;
        Assert.That(After(args, "-machine"), Is.EqualTo("virt,virtualization=on,gic-version=3,iommu=smmuv3"));
        Assert.That(After(args, "-global"), Is.EqualTo("arm-smmuv3.stage=2"));
    }

    [TestCase(IommuModel.SmmuV3, "virt,virtualization=on,gic-version=3,iommu=smmuv3")]
    [TestCase(IommuModel.None, "virt,virtualization=on,gic-version=3")]
    public void OtherSettingsAddNoStage(IommuModel iommu, string machine)
    {
        var args = Plan(Config(iommu)).Arguments;
        Assert.That(After(args, "-machine"), Is.EqualTo(machine));
        Assert.That(args, Does.Not.Contain("-global"), "QEMU 7.2 has no stage property and would exit");
    }

    [Test]
    public void XenIsLoadedWithDom0AndItsCommandLineEscapedForQemuOpts()
    {
        var plan = Plan(Config(IommuModel.None) with { LinuxCmdline = "console=hvc0 a=1,2" });
        Assert.That(After(plan.Arguments, "-kernel"), Is.EqualTo("/a/xen"));
        Assert.That(plan.Arguments, Does.Contain("guest-loader,addr=0x49000000,kernel=/a/vmlinuz,bootargs=console=hvc0 a=1,,2 farm.sshkey=K"));
        Assert.That(plan.NvmeDisk, Is.Null);
        Assert.That(plan.TftpDirectory, Is.Null);
    }

    [Test]
    public void DevicesUnderTestAreOnPciAndTheManagementNicIsNot()
    {
        var plan = Plan(Config(IommuModel.None) with { Devices = [QemuDevice.Nvme, QemuDevice.E1000e] });
        Assert.That(plan.NvmeDisk, Is.EqualTo("/runs/r/b/nvme.img"), "deploy creates the disk the argv names");
        Assert.That(plan.Arguments, Does.Contain("nvme,drive=nv0,serial=farm0").And.Contain("e1000e,netdev=n0,romfile=").And.Contain("virtio-net-device,netdev=mgmt"));
        Assert.That(plan.Arguments, Does.Contain("user,id=mgmt,restrict=on,hostfwd=tcp:127.0.0.1:2222-:22"));
    }

    [Test]
    public void UBootFirmwareLoadsTheImagesOverTftpFromTheBoardsOwnDirectory()
    {
        var plan = Plan(Config(IommuModel.None) with { Firmware = QemuFirmware.UBoot });
        Assert.That(After(plan.Arguments, "-bios"), Is.EqualTo("/usr/lib/u-boot/qemu_arm64/u-boot.bin"));
        Assert.That(plan.TftpDirectory, Is.EqualTo("/runs/r/b/tftp"));
        Assert.That(plan.Arguments, Does.Contain("user,id=mgmt,restrict=on,hostfwd=tcp:127.0.0.1:2222-:22,tftp=/runs/r/b/tftp"));
        Assert.That(plan.Arguments, Does.Not.Contain("-kernel"));
        Assert.That(plan.UBootCommands, Is.Not.Empty);
    }

    [Test]
    public void TheSnapshotKeyIgnoresThisRunsOwnValuesAndSeesEverythingThatChangesTheMachine()
    {
        var qemu = new QemuBinaryIdentity("/usr/bin/qemu-system-aarch64", 1000, new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        IReadOnlyList<string> Inputs(string runDir, int port, string key, QemuBoardConfig config, string sha = "aa")
        {
            var a = Artifacts with { Sha256 = new Dictionary<string, string> { ["xen"] = sha } };
            var args = QemuCommandLine.Build(config, new QemuLaunchInputs(a, [$"farm.sshkey={key}"], runDir, new SshEndpoint("127.0.0.1", port, "root"))).Arguments;
            return QemuSnapshotInputs.For(qemu, args, runDir, a, port);
        }
        var config = Config(IommuModel.None) with { Devices = [QemuDevice.Nvme] };
        var first = Inputs("/runs/1/b", 2222, "k1", config);
        Assert.That(Inputs("/runs/2/b", 3333, "k2", config), Is.EqualTo(first), "another run of the same board and images resumes the same state");
        Assert.That(Inputs("/runs/1/b", 2222, "k1", config, sha: "bb"), Is.Not.EqualTo(first), "another Xen");
        Assert.That(Inputs("/runs/1/b", 2222, "k1", config with { MemoryMb = 4096 }), Is.Not.EqualTo(first), "another machine");
        Assert.That(QemuSnapshotInputs.For(qemu with { Length = 1001 }, Plan(config).Arguments, "/runs/r/b", Artifacts, 2222),
            Is.Not.EqualTo(QemuSnapshotInputs.For(qemu, Plan(config).Arguments, "/runs/r/b", Artifacts, 2222)), "another QEMU build cannot load the state");
        Assert.That(string.Join(' ', first), Does.Contain("farm.sshkey={run-key}").And.Contain("{board-dir}/nvme.img").And.Contain(":{ssh-port}-"));
    }
}
