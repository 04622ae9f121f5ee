using Docker.DotNet;
using Docker.DotNet.Models;
using Farm.Build;

namespace Farm.Scenarios;

/// <summary>
/// The build stage against the real engine and toolchain image from ci/setup-docker.sh, on a small
/// fake Xen tree whose Makefile speaks the same targets (defconfig, olddefconfig, the default build)
/// and cross-compiles one C file for arm64: outputs copied out, cache hits, a dropped Kconfig option,
/// a compiler error, a cancelled build — and no container left behind by any of them.
/// </summary>
[Category("Container")]
[NonParallelizable]
public class BuildScenarios
{
    DockerClient _docker = null!;
    string _dir = "";

    [OneTimeSetUp]
    public async Task Engine() => _docker = await DockerEngine.ConnectAsync(DockerEngine.Locate(), default);

    [OneTimeTearDown]
    public void Dispose() => _docker.Dispose();

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("farm-build-").FullName;

    [TearDown]
    public async Task TearDown()
    {
        Assert.That(await FarmContainersAsync(), Is.Empty, "a build container was left behind");
        Directory.Delete(_dir, recursive: true);
    }

    async Task<IList<ContainerListResponse>> FarmContainersAsync() => await _docker.Containers.ListContainersAsync(new ContainersListParameters
    {
        All = true,
        Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { ["farm.build"] = true } },
    });

    /// <summary>A tree with xen/Makefile: defconfig writes a .config, olddefconfig drops FARM_FAKE_UNKNOWN_* options, the build compiles main.c.</summary>
    string FakeTree(string mainC, string buildRecipe = "$(CROSS_COMPILE)gcc -c -O2 -o xen main.c")
    {
        var tree = Path.Combine(_dir, "tree");
        Directory.CreateDirectory(Path.Combine(tree, "xen"));
        File.WriteAllText(Path.Combine(tree, "xen", "Makefile"), $"""
            export XEN_VERSION       = 4
            export XEN_SUBVERSION    = 99
            export XEN_EXTRAVERSION ?= -fake$(XEN_VENDORVERSION)
            .DEFAULT_GOAL := xen
            defconfig:
            	printf 'CONFIG_ARM_64=y\n# CONFIG_HAS_PCI is not set\n' > .config
            olddefconfig:
            	grep -v '^CONFIG_FARM_FAKE_UNKNOWN' .config > .config.new; mv .config.new .config
            xen: main.c
            	{buildRecipe}

            """.Replace("\r", ""));
        File.WriteAllText(Path.Combine(tree, "xen", "main.c"), mainC);
        return tree;
    }

    string Fragment(params string[] lines)
    {
        var path = Path.Combine(_dir, $"fragment-{Guid.NewGuid():N}.config");
        File.WriteAllLines(path, lines);
        return path;
    }

    XenBuildRequest Request(string tree, string fragment) =>
        new(tree, "dir:fake", fragment, [], XenBuild.DefaultImage, Path.Combine(_dir, "cache"), null);

    [Test]
    public async Task BuildsInARealContainerCopiesTheOutputsAndCachesByInputs()
    {
        var tree = FakeTree("int hypervisor_entry(int x) { return x * 2; }\n");
        var fragment = Fragment("CONFIG_HAS_PCI=y", "CONFIG_EXPERT=y");
        var lines = new List<string>();
        var first = await XenBuild.RunAsync(_docker, Request(tree, fragment), lines.Add, TimeProvider.System, default);
        Assert.That(first.CacheHit, Is.False);
        var xen = await File.ReadAllBytesAsync(Path.Combine(first.Directory, "xen"));
        Assert.That(xen[..4], Is.EqualTo(new byte[] { 0x7f, (byte)'E', (byte)'L', (byte)'F' }));
        Assert.That(BitConverter.ToUInt16(xen, 18), Is.EqualTo(183), "e_machine EM_AARCH64: cross-compiled in the container");
        Assert.That(await File.ReadAllTextAsync(Path.Combine(first.Directory, "xen.config")), Does.Contain("CONFIG_HAS_PCI=y"));
        Assert.That(first.Provenance.PciOptions, Is.EquivalentTo(new[] { "CONFIG_HAS_PCI", "CONFIG_EXPERT" }));
        Assert.That(first.Provenance.Version, Is.EqualTo("4.99-fake"));
        Assert.That(lines, Has.Some.StartsWith("FARM: make -j"), "the container's output is streamed");

        var again = await XenBuild.RunAsync(_docker, Request(tree, fragment), _ => { }, TimeProvider.System, default);
        Assert.That((again.CacheHit, again.Directory), Is.EqualTo((true, first.Directory)));

        var changed = await XenBuild.RunAsync(_docker, Request(tree, Fragment("CONFIG_HAS_PCI=y")), _ => { }, TimeProvider.System, default);
        Assert.That(changed.CacheHit, Is.False, "a different fragment is a different build");
        Assert.That(changed.Directory, Is.Not.EqualTo(first.Directory));
    }

    [Test]
    public async Task AnOptionKconfigDropsIsAnErrorNamingIt()
    {
        var tree = FakeTree("int f(void) { return 0; }\n");
        var e = await Assert.ThrowsAsync<ConfigurationException>(() =>
            XenBuild.RunAsync(_docker, Request(tree, Fragment("CONFIG_HAS_PCI=y", "CONFIG_FARM_FAKE_UNKNOWN_VPCI=y")), _ => { }, TimeProvider.System, default));
        Assert.That(e!.Message, Does.Contain("Kconfig dropped CONFIG_FARM_FAKE_UNKNOWN_VPCI=y"));
        Assert.That(e.Message, Does.Not.Contain("CONFIG_HAS_PCI=y"), "only the dropped option is named");
    }

    [Test]
    public async Task ACompilerErrorFailsWithTheCompilersLastLines()
    {
        var tree = FakeTree("int broken(void) { return undeclared_symbol; }\n");
        var e = await Assert.ThrowsAsync<CheckFailedException>(() =>
            XenBuild.RunAsync(_docker, Request(tree, Fragment("CONFIG_HAS_PCI=y")), _ => { }, TimeProvider.System, default));
        Assert.That(e!.Verdict, Is.EqualTo(Verdict.Fail));
        Assert.That(e.Evidence, Has.Some.Contains("error: 'undeclared_symbol' undeclared"));
        var cache = Path.Combine(_dir, "cache");
        Assert.That(Directory.Exists(cache) ? Directory.GetFileSystemEntries(cache) : [], Is.Empty, "nothing is cached from a failed build");
    }

    /// <summary>The fake tree plus what the toolstack script drives: configure, tools/include, tools/Makefile's
    /// subdir-all-/subdir-install- targets, which install arm64 objects as every tool and library (xenconsoled only
    /// when asked), and an xl that needs <paramref name="xlNeeds"/> (a library nothing provides) when given.</summary>
    string FakeToolsTree(bool xenconsoled = false, string? xlNeeds = null)
    {
        var tree = FakeTree("int f(void) { return 0; }\n");
        foreach (var c in new[] { "configure", "tools/configure" })
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(tree, c))!);
            File.WriteAllText(Path.Combine(tree, c), "#!/bin/sh\necho \"configure: WARNING: fake configure $*\"\n");
            File.SetUnixFileMode(Path.Combine(tree, c), (UnixFileMode)0b111_101_101);
        }
        File.WriteAllText(Path.Combine(tree, "config.sub"), "");
        Directory.CreateDirectory(Path.Combine(tree, "tools", "include"));
        File.WriteAllText(Path.Combine(tree, "tools", "include", "Makefile"), "all:\n\t@true\n");
        var o = "$(CROSS_COMPILE)gcc -c -o";
        File.WriteAllText(Path.Combine(tree, "tools", "Makefile"), $"""
            L := $(DESTDIR)/usr/lib/aarch64-linux-gnu
            subdir-all-%:
            	@echo built $*
            subdir-install-xl:
            	mkdir -p $(DESTDIR)/usr/sbin $(DESTDIR)/usr/lib/xen-4.99/bin $(L)
            	{(xlNeeds is null ? $"{o} $(DESTDIR)/usr/sbin/xl ../xen/main.c"
                    : $"$(CROSS_COMPILE)gcc -shared -nostdlib -fPIC -Wl,-soname,{xlNeeds} -o /tmp/needed.so ../xen/main.c && $(CROSS_COMPILE)gcc -shared -nostdlib -fPIC -o $(DESTDIR)/usr/sbin/xl ../xen/main.c -Wl,--no-as-needed /tmp/needed.so")}
            	{(xenconsoled ? $"{o} $(DESTDIR)/usr/sbin/xenconsoled ../xen/main.c" : "@true")}
            	{o} $(DESTDIR)/usr/sbin/xenstored ../xen/main.c
            	{o} $(DESTDIR)/usr/lib/xen-4.99/bin/xenconsole ../xen/main.c
            	{o} $(DESTDIR)/usr/lib/xen-4.99/bin/xen-init-dom0 ../xen/main.c
            	for l in {string.Join(' ', XenTools.RequiredLibraries)}; do $(CROSS_COMPILE)gcc -shared -nostdlib -fPIC -Wl,-soname,$$l.so.4.99 -o $(L)/$$l.so.4.99.0 ../xen/main.c; ln -sf $$l.so.4.99.0 $(L)/$$l.so.4.99; done
            subdir-install-%:
            	@true

            """.Replace("\r", ""));
        return tree;
    }

    [Test]
    public async Task AToolstackBuildThatInstallsNoXenconsoledFailsNamingIt()
    {
        var tree = FakeToolsTree();
        var lines = new List<string>();
        var request = Request(tree, Fragment("CONFIG_HAS_PCI=y")) with { ToolsImage = XenTools.DefaultImage };
        var e = await Assert.ThrowsAsync<CheckFailedException>(() => XenBuild.RunAsync(_docker, request, lines.Add, TimeProvider.System, default));
        Assert.That(e!.Message, Does.Contain("produced no xenconsoled (usr/sbin/xenconsoled)"));
        Assert.That(e.Message, Does.Not.Contain("xl (").And.Not.Contain("libxenlight"), "only what is missing is named");
        Assert.That(lines.Where(l => l.StartsWith("FARM-CONFIGURE: configure: WARNING: fake configure --build=", StringComparison.Ordinal)),
            Has.Some.Contains(" --host=aarch64-linux-gnu ").And.Some.Contains(" --with-libexec-leaf-dir=xen-4.99 "), "configure ran with the toolstack's flags");
        Assert.That(lines, Has.Some.EqualTo("FARM-MISSING: usr/sbin/xenconsoled"));
        Assert.That(Directory.GetDirectories(Path.Combine(_dir, "cache"), "tools-*"), Is.Empty, "nothing is cached from a failed toolstack build");
    }

    /// <summary>A newc cpio of directories and files (what the base set's initramfs is), gzip'ed.</summary>
    static byte[] InitramfsOf(params (string Name, string? Content)[] entries)
    {
        using var raw = new MemoryStream();
        var ino = 0;
        void Entry(string name, int mode, byte[] data)
        {
            var nameBytes = System.Text.Encoding.ASCII.GetBytes(name + "\0");
            var header = $"070701{++ino:X8}{mode:X8}{0:X8}{0:X8}{1:X8}{0:X8}{data.Length:X8}{0:X8}{0:X8}{0:X8}{0:X8}{nameBytes.Length:X8}{0:X8}";
            raw.Write(System.Text.Encoding.ASCII.GetBytes(header));
            raw.Write(nameBytes);
            while (raw.Length % 4 != 0) raw.WriteByte(0);
            raw.Write(data);
            while (raw.Length % 4 != 0) raw.WriteByte(0);
        }
        foreach (var (name, content) in entries)
            Entry(name, content is null ? 0x41ed : 0x81a4, content is null ? [] : System.Text.Encoding.ASCII.GetBytes(content));
        Entry("TRAILER!!!", 0, []);
        using var gz = new MemoryStream();
        using (var z = new System.IO.Compression.GZipStream(gz, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true)) z.Write(raw.ToArray());
        return gz.ToArray();
    }

    /// <summary>A base artifact set whose initramfs has a "Debian" toolstack the self-built one must replace.</summary>
    string FakeBaseSet()
    {
        var set = Path.Combine(_dir, "base");
        Directory.CreateDirectory(set);
        File.WriteAllBytes(Path.Combine(set, "initrd.cpio.gz"), InitramfsOf(
            ("usr", null), ("usr/bin", null), ("usr/sbin", null), ("usr/lib", null), ("usr/lib/aarch64-linux-gnu", null),
            ("usr/lib/aarch64-linux-gnu/libxenctrl.so.4.99", "debian's libxenctrl"), ("usr/lib/xen-4.99", null), ("usr/lib/xen-4.99/bin", null),
            ("usr/lib/xen-4.99/bin/xl", "debian's xl"), ("init", "#!/bin/sh\n")));
        File.WriteAllText(Path.Combine(set, "vmlinuz"), "kernel");
        string Sha(string f) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(Path.Combine(set, f))));
        File.WriteAllLines(Path.Combine(set, "MANIFEST"), ["suite=fake", "xen_utils_pkg=xen-utils-4.99:arm64=1", $"{new string('0', 64)}  xen",
            $"{Sha("vmlinuz")}  vmlinuz", $"{Sha("initrd.cpio.gz")}  initrd.cpio.gz"]);
        return set;
    }

    [Test]
    public async Task TheSelfBuiltToolstackReplacesDebiansInTheInitramfsAndTheManifestSaysSo()
    {
        var request = Request(FakeToolsTree(xenconsoled: true), Fragment("CONFIG_HAS_PCI=y")) with { ToolsImage = XenTools.DefaultImage, BaseArtifacts = FakeBaseSet() };
        var lines = new List<string>();
        var result = await XenBuild.RunAsync(_docker, request, lines.Add, TimeProvider.System, default);
        Assert.That(result.Tools, Is.Not.Null);
        Assert.That(result.ArtifactSet, Does.EndWith("artifacts-tools-" + result.Tools!.Provenance.Key[..16]), "beside, not instead of, the hypervisor-only set");
        Assert.That(lines, Has.Some.EqualTo("FARM: replacing Debian's usr/lib/xen-4.99").And.Some.EqualTo("FARM-INSTALL: xl /usr/lib/xen-4.99/bin/xl"));
        Assert.That(lines, Has.Some.Matches(@"^FARM: every DT_NEEDED of \d+ ELF files resolves in the initramfs$"));

        var set = await Farm.Deploy.ArtifactStore.LoadAsync(result.ArtifactSet!, needXen: true, default);   // the MANIFEST's hashes match the new files
        Assert.That(set.Manifest["xen_tools"], Is.EqualTo("self-built 4.99-fake"));
        Assert.That(set.Manifest["xen_utils_pkg"], Is.EqualTo("self-built"));
        using var gz = new System.IO.Compression.GZipStream(File.OpenRead(Path.Combine(result.ArtifactSet!, "initrd.cpio.gz")), System.IO.Compression.CompressionMode.Decompress);
        using var cpio = new MemoryStream();
        await gz.CopyToAsync(cpio);
        var text = System.Text.Encoding.Latin1.GetString(cpio.ToArray());
        Assert.That(text, Does.Contain("usr/lib/xen-4.99/bin/xenconsoled").And.Contain("usr/bin/xl\0").And.Contain("usr/lib/aarch64-linux-gnu/libxenlight.so.4.99"));
        Assert.That(text, Does.Not.Contain("debian's xl").And.Not.Contain("debian's libxenctrl"), "nothing of Debian's toolstack is left to mix with the tree's");
        Assert.That(text, Does.Contain("#!/bin/sh"), "the rest of the base initramfs is kept");

        var again = await XenBuild.RunAsync(_docker, request, _ => { }, TimeProvider.System, default);
        Assert.That((again.CacheHit, again.Tools!.CacheHit, again.ArtifactSet), Is.EqualTo((true, true, result.ArtifactSet)));
    }

    [Test]
    public async Task AToolThatNeedsALibraryNothingProvidesFailsNamingTheLibraryAndTheTool()
    {
        var request = Request(FakeToolsTree(xenconsoled: true, xlNeeds: "libfarm-nowhere.so.1"), Fragment("CONFIG_HAS_PCI=y"))
            with { ToolsImage = XenTools.DefaultImage, BaseArtifacts = FakeBaseSet() };
        var lines = new List<string>();
        var e = await Assert.ThrowsAsync<CheckFailedException>(() => XenBuild.RunAsync(_docker, request, lines.Add, TimeProvider.System, default), string.Join("\n", lines));
        Assert.That(e!.Message, Does.Contain("cannot run in dom0's initramfs: libfarm-nowhere.so.1 (needed by xl) is in neither the base initramfs nor the image"));
    }

    [Test]
    public async Task CancellingMidBuildRemovesTheContainer()
    {
        var tree = FakeTree("int f(void) { return 0; }\n", "sleep 600");
        using var cts = new CancellationTokenSource();
        var started = new TaskCompletionSource();
        var build = XenBuild.RunAsync(_docker, Request(tree, Fragment("CONFIG_HAS_PCI=y")), l => { if (l.StartsWith("sleep 600", StringComparison.Ordinal)) started.TrySetResult(); },
            TimeProvider.System, cts.Token);
        await started.Task.WaitAsync(TimeSpan.FromMinutes(2));
        Assert.That(await FarmContainersAsync(), Has.Count.EqualTo(1), "the build is running in its container");
        await cts.CancelAsync();
        Assert.That(async () => await build, Throws.InstanceOf<OperationCanceledException>());
        // TearDown asserts that no build container is left.
    }

    [Test]
    public async Task ARefBuildsThatCommitNotTheWorkingTree()
    {
        var tree = FakeTree("int version(void) { return 1; }\n");
        async Task<string> Git(params string[] args)
        {
            var psi = new System.Diagnostics.ProcessStartInfo("git", ["-C", tree, "-c", "user.name=farm", "-c", "user.email=farm@localhost", .. args]) { RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = System.Diagnostics.Process.Start(psi)!;
            var output = await p.StandardOutput.ReadToEndAsync();
            await p.WaitForExitAsync();
            Assert.That(p.ExitCode, Is.Zero, $"git {string.Join(' ', args)}: {await p.StandardError.ReadToEndAsync()}");
            return output.Trim();
        }
        await Git("init", "-q");
        await Git("add", "-A");
        await Git("commit", "-q", "-m", "v1");
        await Git("tag", "v1");
        var v1 = await Git("rev-parse", "HEAD");
        File.WriteAllText(Path.Combine(tree, "xen", "main.c"), "int version(void) { return broken; }\n");   // uncommitted and broken

        var psi = new System.Diagnostics.ProcessStartInfo(FarmCli.Path,
            ["build", "xen", "--source", tree, "--ref", "v1", "--config", Fragment("CONFIG_HAS_PCI=y"), "--cache", Path.Combine(_dir, "cache")])
        { RedirectStandardOutput = true, RedirectStandardError = true };
        using var farm = System.Diagnostics.Process.Start(psi)!;
        var stdout = await farm.StandardOutput.ReadToEndAsync();
        var stderr = await farm.StandardError.ReadToEndAsync();
        await farm.WaitForExitAsync();
        Assert.That(farm.ExitCode, Is.Zero, stdout + stderr);
        var build = Directory.GetDirectories(Path.Combine(_dir, "cache", "xen-builds")).Single();
        var provenance = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(build, "build.json"))).RootElement;
        Assert.That(provenance.GetProperty("commit").GetString(), Is.EqualTo(v1));
        Assert.That(provenance.GetProperty("source").GetString(), Does.EndWith("@v1"));
    }

    [Test]
    public async Task NoEngineIsAnErrorThatSaysHowToStartOne()
    {
        var e = await Assert.ThrowsAsync<ConfigurationException>(() => DockerEngine.ConnectAsync("unix:///tmp/farm-no-such-engine.sock", default));
        Assert.That(e!.Verdict, Is.EqualTo(Verdict.Error));
        Assert.That(e.Message, Does.Contain("unix:///tmp/farm-no-such-engine.sock").And.Contain("ci/setup-docker.sh").And.Contain("DOCKER_HOST"));
    }
}
