using Farm.Boards.Spec;
using Farm.Jobs;
using Farm.Jobs.Spec;

namespace Farm.Tests.Spec;

/// <summary>QEMU boards in lab files: which QEMU a board runs, and which SMMU Xen may be given.</summary>
public class QemuLabFileTests
{
    const string Lab = """
        board-types:
          xen-smmu:
            kind: qemu
            mode: xen
            qemu:
              binary: .cache/qemu-10/usr/bin/qemu-system-aarch64
              machine: virt,virtualization=on,gic-version=3
              iommu: smmuv3-stage2
            xen-cmdline: console=dtuart
            linux-cmdline: console=hvc0
        boards:
          - name: smmu
            type: xen-smmu
            tags: [xen]
        """;

    static JobSpec Job(string board) => new()
    {
        Name = "j", BoardName = board, SourcePath = "jobs/j.yaml", Artifacts = "bookworm",
        Expect = new ConsoleExpectations { Dom0Prompt = new System.Text.RegularExpressions.Regex("# $") },
    };

    [Test]
    public void TheLabsSmmuBoardsRunQemu10FromTheCheckoutWithAStage2Smmu()
    {
        var lab = LabFile.Load(Checkout.File("boards"));
        foreach (var name in new[] { "qemu-xen-smmu", "qemu-xen-vpci-smmu" })
        {
            var board = lab.Find(name)!;
            Assert.That(board.TypeName, Is.EqualTo("qemu-virt-xen-smmu"));
            Assert.That(((Farm.Boards.Qemu.QemuSpec)board.Hardware).Binary, Is.EqualTo(Checkout.File(".cache/qemu-10/usr/bin/qemu-system-aarch64")), "relative to the checkout, not the working directory");
            Assert.That(((Farm.Boards.Qemu.QemuSpec)board.Hardware).Iommu, Is.EqualTo(IommuModel.SmmuV3Stage2));
        }
        Assert.That(lab.Find("qemu-xen-vpci-smmu")!.XenCmdline!.Split(' '), Does.Contain("pci-passthrough=on"));
        Assert.That(lab.Find("qemu-xen-smmu")!.XenCmdline!.Split(' '), Does.Not.Contain("pci-passthrough=on"), "Debian's Xen as Debian ships it");
        Assert.That(((Farm.Boards.Qemu.QemuSpec)lab.Find("qemu-xen")!.Hardware).Binary, Is.EqualTo("qemu-system-aarch64"), "the other boards keep the system QEMU");
    }

    [Test]
    public void QemusStage1SmmuIsRefusedForXenWithTheReasonAndTheWayOut()
    {
        var e = Assert.Throws<ConfigurationException>(() => LabFile.Parse(Lab.Replace("iommu: smmuv3-stage2", "iommu: smmuv3"), "lab/q.yaml"))!;
        Assert.That(e.Verdict, Is.EqualTo(Verdict.Error));
        Assert.That(e.Evidence, Has.Count.EqualTo(1));
        Assert.That(e.Evidence[0], Does.StartWith("lab/q.yaml:").And.Contain("qemu.iommu: smmuv3 is QEMU's stage-1 SMMU, which hangs a Xen boot")
            .And.Contain("needs stage-2").And.Contain("smmuv3-stage2").And.Contain("ci/setup-qemu10.sh"));
        Assert.That(LabFile.Parse(Lab.Replace("mode: xen", "mode: native").Replace("    xen-cmdline: console=dtuart\n", "")
            .Replace("iommu: smmuv3-stage2", "iommu: smmuv3").Replace("virtualization=on,", ""), "lab/q.yaml").Find("smmu")!.Hardware is Farm.Boards.Qemu.QemuSpec { Iommu: var iommu } ? iommu : (IommuModel?)null,
            Is.EqualTo(IommuModel.SmmuV3), "native Linux drives the stage-1 SMMU itself");
    }

    [Test]
    public void AMissingPrivateQemuMakesTheBoardRefuseJobsNamingItsLineAndTheSetUp()
    {
        var root = Path.Combine(Path.GetTempPath(), $"farm-lab-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path.Combine(root, "boards"));
        try
        {
            File.WriteAllText(Path.Combine(root, "Farm.sln"), "");
            var labFile = Path.Combine(root, "boards", "q.yaml");
            File.WriteAllText(labFile, Lab);
            var lab = LabFile.Load(labFile);
            var board = lab.Find("smmu")!;
            var missing = Path.Combine(root, ".cache/qemu-10/usr/bin/qemu-system-aarch64");
            Assert.That(((Farm.Boards.Qemu.QemuSpec)board.Hardware).Binary, Is.EqualTo(missing));
            Assert.That(board.Rejects(Job("smmu")), Is.EqualTo(
                $"{labFile}:6:15: qemu.binary: {missing} does not exist; run ci/setup-qemu10.sh (ci/setup.sh runs it) to unpack QEMU 10 there"));
            var e = Assert.Throws<ConfigurationException>(() => lab.Resolve(Job("smmu")))!;
            Assert.That(e.Verdict, Is.EqualTo(Verdict.Error), "bad set-up, not a lab fault");
            Assert.That(e.Message, Does.Contain("ci/setup-qemu10.sh"));

            Directory.CreateDirectory(Path.GetDirectoryName(missing)!);
            File.WriteAllText(missing, "");
            Assert.That(LabFile.Load(labFile).Find("smmu")!.Rejects(Job("smmu")), Is.Null, "once unpacked, the board runs jobs");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [TestCase("../qemu/qemu-system-aarch64")]
    [TestCase(".cache/../../qemu-system-aarch64")]
    [TestCase("")]
    public void AQemuPathLeavingTheCheckoutIsRefusedAtItsPosition(string binary)
    {
        var e = Assert.Throws<ConfigurationException>(() =>
            LabFile.Parse(Lab.Replace("binary: .cache/qemu-10/usr/bin/qemu-system-aarch64", $"binary: '{binary}'"), "lab/q.yaml"))!;
        Assert.That(e.Evidence, Has.Some.StartsWith("lab/q.yaml:6:15: board-types.xen-smmu.qemu.binary:").And.Some.Contains("is not a QEMU program"));
    }

    [Test]
    public void DevicesAreTheEnumsQemuKnowsAndAnUnknownOneIsNamedAtItsOwnLine()
    {
        var lab = LabFile.Parse(Lab.Replace("iommu: smmuv3-stage2", "iommu: smmuv3-stage2\n      devices: [e1000e, nvme]"), "lab/q.yaml");
        Assert.That(((Farm.Boards.Qemu.QemuSpec)lab.Find("smmu")!.Hardware).Devices, Is.EqualTo(new[] { QemuDevice.E1000e, QemuDevice.Nvme }), "in the order written: it is QEMU's PCI slot order");
        var e = Assert.Throws<ConfigurationException>(() => LabFile.Parse(Lab.Replace("iommu: smmuv3-stage2", "iommu: smmuv3-stage2\n      devices:\n        - nvme\n        - e1000"), "lab/q.yaml"))!;
        Assert.That(e.Evidence, Has.Count.EqualTo(1));
        Assert.That(e.Evidence[0], Does.StartWith("lab/q.yaml:11:11: board-types.xen-smmu.qemu.devices[1]:").And.Contain("unknown QEMU device \"e1000\"").And.Contain("e1000e"));
    }
}
