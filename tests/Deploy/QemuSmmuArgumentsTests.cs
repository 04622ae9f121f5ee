using Farm.Boards.Qemu;
using Farm.Boards.Spec;

namespace Farm.Tests.Deploy;

/// <summary>The QEMU command line each IOMMU setting gives (what QEMU 10's stage-2 SMMU needs).</summary>
public class QemuSmmuArgumentsTests
{
    static async Task<IReadOnlyList<string>> ArgumentsAsync(string iommu)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"farm-argv-{Guid.NewGuid():N}");
        var config = new QemuBoardConfig("b", BoardMode.Xen, "qemu-system-aarch64", "virt,virtualization=on,gic-version=3", "cortex-a57", 2, 2048,
            iommu, [], "console=dtuart", "console=hvc0", ShareArtifacts: false);
        await using var board = new QemuBoard(config, dir);
        var artifacts = new ArtifactSet(dir, Path.Combine(dir, "xen"), Path.Combine(dir, "vmlinuz"), Path.Combine(dir, "initrd.cpio.gz"),
            new Dictionary<string, string>(), new Dictionary<string, string>());
        await board.PrepareAsync(new DeployRequest(artifacts, []), CancellationToken.None);
        return board.LaunchArguments!;
    }

    [Test]
    public async Task Stage2SmmuIsTheVirtMachinesSmmuv3WithItsStageSetTo2()
    {
        var args = await ArgumentsAsync("smmuv3-stage2");
        Assert.That(args[args.ToList().IndexOf("-machine") + 1], Is.EqualTo("virt,virtualization=on,gic-version=3,iommu=smmuv3"));
        var global = args.ToList().IndexOf("-global");
        Assert.That(global, Is.GreaterThan(0));
        Assert.That(args[global + 1], Is.EqualTo("arm-smmuv3.stage=2"));
    }

    [TestCase("smmuv3", "virt,virtualization=on,gic-version=3,iommu=smmuv3")]
    [TestCase("none", "virt,virtualization=on,gic-version=3")]
    public async Task OtherSettingsAddNoStage(string iommu, string machine)
    {
        var args = await ArgumentsAsync(iommu);
        Assert.That(args[args.ToList().IndexOf("-machine") + 1], Is.EqualTo(machine));
        Assert.That(args, Does.Not.Contain("-global"), "QEMU 7.2 has no stage property and would exit");
    }
}
