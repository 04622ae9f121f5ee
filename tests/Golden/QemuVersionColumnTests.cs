using Farm.Reports;

namespace Farm.Tests.Golden;

/// <summary>The matrix says which QEMU each column ran on (7.2 for most boards, 10.0 for the SMMU boards).</summary>
public class QemuVersionColumnTests
{
    static RunRecord Run(string board, string? qemu, Dictionary<string, string>? packages = null) =>
        new("20261202-030000-x-abc123", "xen-smoke", board, Verdict.Pass, DateTimeOffset.UnixEpoch, TimeSpan.Zero, [], [],
            new Provenance(new Dictionary<string, string>(), packages ?? [], qemu, "4.17.7"), new Dictionary<string, double>());

    [Test]
    public void TheColumnNamesTheQemuVersionWithoutDebiansPackageSuffix()
    {
        Assert.That(CheckMatrix.Column(Run("qemu-xen-smmu", "10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)")),
            Is.EqualTo("xen-smoke@qemu-xen-smmu (Xen 4.17.7, QEMU 10.0.2)"));
        Assert.That(CheckMatrix.Column(Run("qemu-xen-vpci-smmu", "10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)", new() { ["xen_build"] = "xen-1" })),
            Is.EqualTo("xen-smoke@qemu-xen-vpci-smmu (Xen 4.17.7, self-built, PCI passthrough on, QEMU 10.0.2)"));
        Assert.That(CheckMatrix.Column(Run("rpi4-1", null)), Is.EqualTo("xen-smoke@rpi4-1 (Xen 4.17.7)"), "a physical board has no QEMU");
        Assert.That(CheckMatrix.Column(Run("qemu-xen-vpci", "7.2.19", new() { ["xen_build"] = "xen-1", ["xen_tools"] = "self-built 4.17.5 (Debian 4.17.5+72-g01140da4e8-1)" })),
            Is.EqualTo("xen-smoke@qemu-xen-vpci (Xen 4.17.7, self-built, tools self-built, PCI passthrough on, QEMU 7.2.19)"), "dom0's xl from the same tree");
        Assert.That(CheckMatrix.Column(Run("qemu-xen-vpci", "7.2.19", new() { ["xen_build"] = "xen-1", ["xen_tools"] = "debian xen-utils-4.17:arm64=4.17.7" })),
            Is.EqualTo("xen-smoke@qemu-xen-vpci (Xen 4.17.7, self-built, PCI passthrough on, QEMU 7.2.19)"), "Debian's toolstack says nothing new");
    }

    [Test]
    public void FarmsDomUVpciPatchSetHasAColumnOfItsOwn()
    {
        var built = new Dictionary<string, string> { ["xen_build"] = "xen-1", ["xen_tools"] = "self-built 4.17.5 (Debian 4.17.5+72-g01140da4e8-1)",
            ["xen_build_patches"] = "xen-4.17-arm-pci-passthrough.patch 0123456789ab, xen-4.17-arm-vpci-guest.patch 0123456789ab, xen-4.17-arm-vpci-guestbars.patch 0123456789ab" };
        var run = Run("qemu-xen-vpci-smmu", "10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)", built) with { Provenance = Run("x", null, built).Provenance with { QemuVersion = "10.0.2", XenVersion = "4.17.5" } };
        Assert.That(CheckMatrix.Column(run), Is.EqualTo("xen-smoke@qemu-xen-vpci-smmu (Xen 4.17.5 + Farm domU vPCI, tools self-built, QEMU 10.0.2)"));
        built["xen_build_patches"] = "xen-4.17-arm-pci-passthrough.patch 0123456789ab, xen-4.17-arm-vpci-guest-toolstack.patch 0123456789ab";
        Assert.That(CheckMatrix.Column(Run("qemu-xen-vpci", "7.2.19", built)), Does.Contain("self-built, tools self-built, PCI passthrough on"), "the toolstack patch alone is not domU vPCI");
    }
}
