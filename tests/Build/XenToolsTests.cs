using Farm.Build;

namespace Farm.Tests.Build;

/// <summary>The toolstack build's request, install manifest, output check and provenance, without a container.</summary>
public class XenToolsTests
{
    string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("farm-tools-test-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void ToolsIsOptInAndAToolsImageWithoutItIsRefused()
    {
        Assert.That(new Farm.Cli.BuildCommand.Settings { What = "xen" }.Validate().Successful, Is.True, "without --tools, the hypervisor only, as before");
        Assert.That(new Farm.Cli.BuildCommand.Settings { What = "xen", Tools = true }.Validate().Successful, Is.True);
        Assert.That(new Farm.Cli.BuildCommand.Settings { What = "xen", Tools = true, ToolsImage = "mine:1" }.Validate().Successful, Is.True);
        var refused = new Farm.Cli.BuildCommand.Settings { What = "xen", ToolsImage = "mine:1" }.Validate();
        Assert.That((refused.Successful, refused.Message), Is.EqualTo((false, "--tools-image needs --tools (the image the toolstack is built in)")));
        Assert.That(new Farm.Cli.BuildCommand.Settings().ToolsImage, Is.EqualTo("farm-xen-builder-tools:bookworm"), "its own tag: the hypervisor image stays as it is");
        Assert.That(XenTools.DefaultImage, Is.Not.EqualTo(XenBuild.DefaultImage));
    }

    [Test]
    public void TheLibexecLeafIsDebiansForTheTreesMajorMinor()
    {
        Assert.That(XenTools.LeafDir("4.17.5 (Debian 4.17.5+72-g01140da4e8-1)"), Is.EqualTo("xen-4.17"));
        Assert.That(XenTools.LeafDir("4.21-unstable"), Is.EqualTo("xen-4.21"));
        var e = Assert.Throws<ConfigurationException>(() => XenTools.LeafDir("?.?"));
        Assert.That(e!.Message, Does.Contain("?.?").And.Contain("XEN_VERSION"));
    }

    [Test]
    public void ConfigureCrossBuildsForArm64WithDebiansPathsAndNothingThatNeedsTheNetwork()
    {
        var flags = XenTools.ConfigureFlags("xen-4.17");
        Assert.That(flags, Does.Contain("--host=aarch64-linux-gnu"));
        Assert.That(flags, Does.Contain("--prefix=/usr").And.Contain("--libdir=/usr/lib/aarch64-linux-gnu"));
        Assert.That(flags, Does.Contain("--with-libexec-leaf-dir=xen-4.17"), "LIBEXEC_BIN = /usr/lib/xen-4.17/bin, where the base initramfs has Debian's");
        Assert.That(flags, Does.Contain("--with-xenstored=xenstored"), "the C xenstored: no ocaml in the image");
        // qemu-xen would be cloned and built (network, glib, pixman): a system QEMU path turns it off.
        Assert.That(flags.Single(f => f.StartsWith("--with-system-qemu=", StringComparison.Ordinal)), Does.StartWith("--with-system-qemu=/"));
        foreach (var off in new[] { "stubdom", "docs", "qemu-traditional", "rombios", "seabios", "ipxe", "ovmf", "pvshim", "ocamltools", "golang", "xsmpolicy", "monitors", "systemd" })
            Assert.That(flags, Does.Contain("--disable-" + off));
        Assert.That(flags, Is.Unique);
        var script = XenTools.Script("xen-4.17");
        foreach (var f in flags) Assert.That(script, Does.Contain($"'{f}'"), "every flag reaches configure, quoted");
        Assert.That(script, Does.Contain("XEN_TARGET_ARCH=arm64").And.Contain("CROSS_COMPILE=aarch64-linux-gnu-"));
        foreach (var d in XenTools.Subdirectories) Assert.That(script, Does.Contain(d));
        Assert.That(XenTools.Subdirectories, Does.Not.Contain("python").And.Not.Contain("pygrub").And.Not.Contain("ocaml"));
    }

    [Test]
    public void TheInstallManifestPutsEveryToolWhereTheDom0InitAndXlLookForIt()
    {
        var files = XenTools.Files("xen-4.17");
        Assert.That(files.Select(f => f.Name), Is.EquivalentTo(new[] { "xl", "xenstored", "xenconsoled", "xenconsole", "xen-init-dom0" }));
        Assert.That(files.Select(f => f.InInitramfs), Is.All.StartsWith("usr/lib/xen-4.17/bin/"));
        Assert.That(files.Single(f => f.Name == "xl").Installed, Is.EqualTo("usr/sbin/xl"), "where Xen's make install puts it");
        Assert.That(files.Single(f => f.Name == "xenconsole").Installed, Is.EqualTo("usr/lib/xen-4.17/bin/xenconsole"), "LIBEXEC_BIN, which xl console execs");
        var list = XenTools.InstallList("xen-4.17").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(list, Does.Contain("xl usr/sbin/xl usr/lib/xen-4.17/bin/xl"));
        Assert.That(list.Select(l => l.Split(' ').Length), Is.All.EqualTo(3), "name installed in-initramfs, as the initramfs script reads it");
    }

    void Output(params string[] files)
    {
        foreach (var f in files)
        {
            var path = Path.Combine(_dir, f);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, "\u007fELF");
        }
    }

    static readonly string[] Libraries = XenTools.RequiredLibraries.Select(l => $"{XenTools.LibDir}/{l}.so.1.0").ToArray();

    [Test]
    public void ACompleteBuildOutputLacksNothing()
    {
        Output([.. XenTools.Files("xen-4.17").Select(f => f.Installed), .. Libraries]);
        Assert.That(XenTools.MissingFrom(_dir, "xen-4.17"), Is.Empty);
    }

    [Test]
    public void AToolMissingFromTheBuildOutputIsNamedWithWhereItShouldBe()
    {
        Output([.. XenTools.Files("xen-4.17").Where(f => f.Name != "xenconsoled").Select(f => f.Installed), .. Libraries.Where(l => !l.Contains("libxenlight"))]);
        Assert.That(XenTools.MissingFrom(_dir, "xen-4.17"), Is.EqualTo(new[] { "xenconsoled (usr/sbin/xenconsoled)", "libxenlight (usr/lib/aarch64-linux-gnu/libxenlight.so.*)" }));
    }

    [Test]
    public void AnEmptyBuildOutputNamesEveryToolAndLibrary()
    {
        var missing = XenTools.MissingFrom(Path.Combine(_dir, "nothing"), "xen-4.17");
        Assert.That(missing, Has.Count.EqualTo(XenTools.Files("xen-4.17").Count + XenTools.RequiredLibraries.Count));
        Assert.That(missing, Has.Some.StartsWith("xl ").And.Some.StartsWith("libxenctrl ").And.Some.StartsWith("libxenguest "));
    }

    [Test]
    public async Task TheToolsKeyFollowsTheTreeAndPatchesButNotTheKconfigFragment()
    {
        var tree = Path.Combine(_dir, "tree");
        Directory.CreateDirectory(Path.Combine(tree, "xen"));
        await File.WriteAllTextAsync(Path.Combine(tree, "xen", "Makefile"), "export XEN_VERSION = 4\nexport XEN_SUBVERSION = 17\n");
        var frag1 = Path.Combine(_dir, "a.config"); await File.WriteAllTextAsync(frag1, "CONFIG_HAS_PCI=y\n");
        var frag2 = Path.Combine(_dir, "b.config"); await File.WriteAllTextAsync(frag2, "CONFIG_HAS_PCI=n\n");
        var patch = Path.Combine(_dir, "p.patch"); await File.WriteAllTextAsync(patch, "--- a\n+++ b\n");
        XenBuildRequest R(string frag, params string[] patches) => new(tree, "dir:" + tree, frag, patches, "img", _dir, null);

        var k1 = await XenTools.KeyAsync(R(frag1), "xen-4.17", "sha256:1", default);
        Assert.That(await XenTools.KeyAsync(R(frag2), "xen-4.17", "sha256:1", default), Is.EqualTo(k1), "a new fragment rebuilds the hypervisor only");
        Assert.That(await XenTools.KeyAsync(R(frag1, patch), "xen-4.17", "sha256:1", default), Is.Not.EqualTo(k1), "a patch can change libxl");
        Assert.That(await XenTools.KeyAsync(R(frag1), "xen-4.17", "sha256:2", default), Is.Not.EqualTo(k1), "another image, another build");
        await File.WriteAllTextAsync(Path.Combine(tree, "xen", "Makefile"), "export XEN_VERSION = 4\nexport XEN_SUBVERSION = 17\n# changed\n");
        Assert.That(await XenTools.KeyAsync(R(frag1), "xen-4.17", "sha256:1", default), Is.Not.EqualTo(k1), "another tree, another build");
    }

    static readonly string[] BaseManifest =
    [
        "suite=bookworm",
        "xen_pkg=xen-hypervisor-4.17-arm64:arm64=4.17.7+13-g2445b30a44-0+deb12u1",
        "xen_utils_pkg=xen-utils-4.17:arm64=4.17.7+13-g2445b30a44-0+deb12u1",
        "xen_libs_pkg=libxenmisc4.17:arm64=4.17.7+13-g2445b30a44-0+deb12u1",
        "lib_pkgs=libc6:arm64=2.36-9+deb12u14 libfdt1:arm64=1.6.1-4+b1 libxencall1:arm64=4.17.7 libxenstore4:arm64=4.17.7 libyajl2:arm64=2.1.0-3+deb12u2",
        new string('a', 64) + "  xen",
        new string('b', 64) + "  vmlinuz",
        new string('c', 64) + "  initrd.cpio.gz",
    ];

    static readonly XenBuildProvenance Hypervisor = new(new string('k', 64), "debian:bookworm xen-4.17.5", "4.17.5", null, new string('f', 64),
        ["CONFIG_HAS_PCI"], ["xen-4.17-arm-pci-passthrough.patch 2643be050021"], "farm-xen-builder:bookworm", "sha256:0123456789abcdef0123", DateTimeOffset.UnixEpoch, 60);

    static readonly XenToolsProvenance Tools = new(new string('t', 64), "debian:bookworm xen-4.17.5", "4.17.5 (Debian 4.17.5+72-g01140da4e8-1)", "0a1b2c",
        ["xen-4.17-arm-pci-passthrough.patch 2643be050021"], XenTools.ConfigureFlags("xen-4.17"), ["xl 111111111111", "xenstored 222222222222"],
        ["libxenctrl.so.4.17.0", "libxenlight.so.4.17.0"], XenTools.DefaultImage, "sha256:64aca1316d59aaaaaaaa", DateTimeOffset.UnixEpoch, 900);

    static Dictionary<string, string> Keys(IEnumerable<string> lines) =>
        lines.Where(l => l.Contains('=') && !l.Contains("  ")).ToDictionary(l => l[..l.IndexOf('=')], l => l[(l.IndexOf('=') + 1)..]);

    [Test]
    public void WithoutToolsTheManifestSaysDom0sToolstackIsDebiansPackage()
    {
        var lines = XenBuild.ManifestLines(BaseManifest, new string('x', 64), new string('c', 64), Hypervisor, null, []);
        var keys = Keys(lines);
        Assert.That(keys["xen_tools"], Is.EqualTo("debian xen-utils-4.17:arm64=4.17.7+13-g2445b30a44-0+deb12u1"));
        Assert.That(keys["xen_utils_pkg"], Does.StartWith("xen-utils-4.17"), "Debian's toolstack is still the one in the initramfs");
        Assert.That(keys["xen_pkg"], Is.EqualTo("self-built"));
        Assert.That(lines, Does.Contain(new string('x', 64) + "  xen").And.Contain(new string('c', 64) + "  initrd.cpio.gz"));
        Assert.That(keys.Keys, Has.None.StartsWith("xen_tools_"));
    }

    [Test]
    public void WithToolsTheManifestNamesTheTreesToolstackAndNoLongerClaimsDebiansPackages()
    {
        var lines = XenBuild.ManifestLines(BaseManifest, new string('x', 64), new string('d', 64), Hypervisor, Tools, ["libncursesw.so.6 libncursesw6:arm64=6.4-4"]);
        var keys = Keys(lines);
        Assert.That(keys["xen_tools"], Is.EqualTo("self-built 4.17.5 (Debian 4.17.5+72-g01140da4e8-1) @ 0a1b2c"));
        Assert.That(keys["xen_tools_build"], Is.EqualTo(new string('t', 16)));
        Assert.That(keys["xen_tools_source"], Is.EqualTo("debian:bookworm xen-4.17.5"));
        Assert.That(keys["xen_tools_commit"], Is.EqualTo("0a1b2c"));
        Assert.That(keys["xen_tools_patches"], Is.EqualTo("xen-4.17-arm-pci-passthrough.patch 2643be050021"));
        Assert.That(keys["xen_tools_files"], Is.EqualTo("xl 111111111111, xenstored 222222222222"));
        Assert.That(keys["xen_tools_libs"], Is.EqualTo("libxenctrl.so.4.17.0 libxenlight.so.4.17.0"));
        Assert.That(keys["xen_tools_configure"], Does.Contain("--host=aarch64-linux-gnu"));
        Assert.That(keys["xen_tools_image"], Is.EqualTo("farm-xen-builder-tools:bookworm sha256:64aca1316d59"));
        Assert.That(keys["xen_tools_libs_from_image"], Is.EqualTo("libncursesw.so.6 libncursesw6:arm64=6.4-4"));
        Assert.That(keys["xen_utils_pkg"], Is.EqualTo("self-built"));
        Assert.That(keys["xen_libs_pkg"], Is.EqualTo("self-built"));
        Assert.That(keys["lib_pkgs"], Is.EqualTo("libc6:arm64=2.36-9+deb12u14 libfdt1:arm64=1.6.1-4+b1 libyajl2:arm64=2.1.0-3+deb12u2"), "Debian's libxen* are not in this initramfs");
        Assert.That(lines, Does.Contain(new string('d', 64) + "  initrd.cpio.gz"), "the new initramfs's hash, so every boot verifies it");
        Assert.That(keys["xen_build"], Is.EqualTo(new string('k', 16)), "the hypervisor's provenance is there too");
    }

    [Test]
    public void RebuildingASetFromABuiltSetsManifestKeepsOneProvenance()
    {
        var once = XenBuild.ManifestLines(BaseManifest, new string('x', 64), new string('d', 64), Hypervisor, Tools, []);
        var twice = XenBuild.ManifestLines(once, new string('x', 64), new string('d', 64), Hypervisor, null, []);
        Assert.That(twice.Count(l => l.StartsWith("xen_tools=", StringComparison.Ordinal)), Is.EqualTo(1));
        Assert.That(twice.Where(l => l.StartsWith("xen_tools_", StringComparison.Ordinal)), Is.Empty);
        Assert.That(twice.Count(l => l.StartsWith("xen_build=", StringComparison.Ordinal)), Is.EqualTo(1));
    }
}
