using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Docker.DotNet;

namespace Farm.Build;

/// <summary>One file of the toolstack: where <c>make install</c> puts it, and where dom0's initramfs gets it.</summary>
/// <param name="Name">The command's name (also its /usr/bin link in the initramfs).</param>
/// <param name="Installed">Path under the install tree (DESTDIR), as Xen's Makefiles install it.</param>
/// <param name="InInitramfs">Path in the initramfs: Debian's layout, LIBEXEC_BIN, so the dom0 /init and the
/// <c>/usr/bin</c> links of the base set find it where Debian's was, and <c>xl console</c> finds xenconsole
/// where xl was built to look (LIBEXEC_BIN "/xenconsole").</param>
internal sealed record ToolFile(string Name, string Installed, string InInitramfs);

/// <summary>What the toolstack build made: recorded as tools.json beside it and in every artifact set built with it.</summary>
internal sealed record XenToolsProvenance(
    string Key, string Source, string Version, string? Commit, IReadOnlyList<string> Patches,
    IReadOnlyList<string> Configure, IReadOnlyList<string> Files, IReadOnlyList<string> Libraries,
    string Image, string ImageId, DateTimeOffset Built, double Seconds);

internal sealed record XenToolsResult(string Directory, bool CacheHit, XenToolsProvenance Provenance);

/// <summary>
/// The arm64 toolstack (xl, libxl, libxenctrl/libxenguest, xenstored, xenconsoled, xenconsole,
/// xen-init-dom0) cross-built from the same tree and patches as the hypervisor, in the toolstack image
/// (ci/setup-docker.sh, <see cref="DefaultImage"/>: the hypervisor image plus autoconf, iasl and the arm64
/// -dev libraries Xen's tools/configure requires). Cached on its own key (tree, patches, script, image id),
/// so a new Kconfig fragment does not rebuild the tools. Then <see cref="InitramfsAsync"/> puts it into a
/// copy of the base set's initramfs in place of Debian's xen-utils, and proves that every DT_NEEDED of
/// every ELF there resolves inside the initramfs.
/// </summary>
internal static partial class XenTools
{
    public const string DefaultImage = "farm-xen-builder-tools:bookworm";

    /// <summary>The arm64 multiarch library directory, where Debian's ld.so looks and libxl is installed.</summary>
    public const string LibDir = "usr/lib/aarch64-linux-gnu";

    /// <summary>The libraries the toolstack is: each must be in the build output (as lib&lt;name&gt;.so.*).</summary>
    public static readonly IReadOnlyList<string> RequiredLibraries = ["libxenlight", "libxenctrl", "libxenguest", "libxenstore", "libxentoollog", "libxlutil"];

    /// <summary>Only these tools/ subdirectories: the toolstack dom0 runs. Python bindings, pygrub, ocaml,
    /// golang, qemu, firmware and the monitors would need more -dev packages (or the network) for nothing dom0 uses.</summary>
    public static readonly IReadOnlyList<string> Subdirectories = ["libs", "xenstore", "console", "helpers", "xl"];

    /// <summary>Debian's libexec leaf for this tree's version: "xen-4.17" for 4.17.5.</summary>
    public static string LeafDir(string version) =>
        Regex.Match(version, @"^(\d+)\.(\d+)") is { Success: true } m ? $"xen-{m.Groups[1].Value}.{m.Groups[2].Value}"
            : throw new ConfigurationException($"cannot tell the Xen version's major.minor from \"{version}\" (xen/Makefile XEN_VERSION/XEN_SUBVERSION)");

    /// <summary>The files dom0 needs, for a tree whose libexec leaf is <paramref name="leaf"/>.</summary>
    public static IReadOnlyList<ToolFile> Files(string leaf) =>
    [
        new("xl", "usr/sbin/xl", $"usr/lib/{leaf}/bin/xl"),
        new("xenstored", "usr/sbin/xenstored", $"usr/lib/{leaf}/bin/xenstored"),
        new("xenconsoled", "usr/sbin/xenconsoled", $"usr/lib/{leaf}/bin/xenconsoled"),
        new("xenconsole", $"usr/lib/{leaf}/bin/xenconsole", $"usr/lib/{leaf}/bin/xenconsole"),
        new("xen-init-dom0", $"usr/lib/{leaf}/bin/xen-init-dom0", $"usr/lib/{leaf}/bin/xen-init-dom0"),
    ];

    /// <summary>
    /// tools/configure's flags (each checked against Xen 4.17.5's tools/configure.ac and m4/): Debian's
    /// paths, so LIBEXEC_BIN is /usr/lib/xen-X.Y/bin as in the base initramfs, and everything off that
    /// would need a package the image does not have or the network: stubdom, docs, qemu-traditional,
    /// rombios, seabios, ipxe, ovmf, qemu-xen (system QEMU path instead), pvshim, ocaml (so the C
    /// xenstored), golang, XSM policy, xentop, systemd units. Not -Werror: a new compiler's warning in a
    /// tree under test must not hide the test.
    /// </summary>
    public static IReadOnlyList<string> ConfigureFlags(string leaf) =>
    [
        "--host=aarch64-linux-gnu",
        "--prefix=/usr",
        $"--libdir=/{LibDir}",
        "--sysconfdir=/etc",
        "--localstatedir=/var",
        $"--with-libexec-leaf-dir={leaf}",
        "--with-xenstored=xenstored",
        "--with-system-qemu=/usr/bin/qemu-system-i386",
        "--disable-stubdom",
        "--disable-docs",
        "--disable-qemu-traditional",
        "--disable-rombios",
        "--disable-seabios",
        "--disable-ipxe",
        "--disable-ovmf",
        "--disable-pvshim",
        "--disable-ocamltools",
        "--disable-golang",
        "--disable-xsmpolicy",
        "--disable-monitors",
        "--disable-systemd",
        "--disable-werror",
    ];

    /// <summary>The container script: /src the tree, /farm/patches, /out/tools the install tree of <see cref="Files"/> and the libraries.</summary>
    public static string Script(string leaf) => $$"""
        set -e
        mkdir -p /out/tools /build
        cp -a /src /build/tree
        cd /build/tree
        for p in $(ls /farm/patches/*.patch 2>/dev/null | sort); do echo "FARM: patch $(basename "$p")"; patch -p1 --forward < "$p"; done
        # Debian's source ships no configure (its delta deletes it and config.sub/config.guess)
        if [ ! -x configure ] || [ ! -x tools/configure ]; then echo "FARM: autogen.sh (the tree has no configure)"; ./autogen.sh; fi
        [ -e config.sub ] || cp /usr/share/misc/config.sub /usr/share/misc/config.guess .
        export XEN_TARGET_ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-
        echo "FARM: configure (arm64 tools, $(aarch64-linux-gnu-gcc -dumpversion))"
        if ! ./configure --build="$(gcc -dumpmachine)" {{string.Join(' ', ConfigureFlags(leaf).Select(SupervisedProcess.ShellQuote))}} > /build/configure.log 2>&1; then
            tail -n 25 /build/configure.log; grep -h 'error:' config.log tools/config.log 2>/dev/null | tail -n 5; exit 4
        fi
        grep 'WARNING' /build/configure.log | head -n 20 | sed 's/^/FARM-CONFIGURE: /' || true
        make -s -C tools/include
        for d in {{string.Join(' ', Subdirectories)}}; do
            echo "FARM: make tools/$d -j$(nproc)"
            make -C tools -j"$(nproc)" subdir-all-$d
        done
        for d in {{string.Join(' ', Subdirectories)}}; do make -s -C tools DESTDIR=/build/dest subdir-install-$d > /dev/null; done
        cd /build/dest
        for f in {{string.Join(' ', Files(leaf).Select(f => f.Installed))}}; do
            [ -f "$f" ] || { echo "FARM-MISSING: $f"; continue; }
            install -D -m 0755 "$f" "/out/tools/$f"
            aarch64-linux-gnu-strip --strip-unneeded "/out/tools/$f"
        done
        # Each library under its SONAME, the one name ld.so looks for: a real file, as the build's output is
        # copied out of the container as regular files only.
        mkdir -p /out/tools/{{LibDir}}
        for f in {{LibDir}}/lib*.so.*; do
            [ -f "$f" ] && [ ! -L "$f" ] || continue
            soname=$(aarch64-linux-gnu-readelf -d "$f" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
            [ -n "$soname" ] || { echo "FARM: $f has no SONAME, skipped"; continue; }
            install -m 0755 "$f" "/out/tools/{{LibDir}}/$soname"
            aarch64-linux-gnu-strip --strip-unneeded "/out/tools/{{LibDir}}/$soname"
        done
        echo "FARM: built tools: $(cd /out/tools && find . -type f | wc -l) files, $(du -sk /out/tools | cut -f1) KiB"
        """;

    /// <summary>What a toolstack build output lacks: every <see cref="Files"/> entry and <see cref="RequiredLibraries"/>, named.</summary>
    public static IReadOnlyList<string> MissingFrom(string toolsDir, string leaf)
    {
        var missing = Files(leaf).Where(f => !File.Exists(Path.Combine(toolsDir, f.Installed))).Select(f => $"{f.Name} ({f.Installed})").ToList();
        var libs = Path.Combine(toolsDir, LibDir);
        var present = Directory.Exists(libs) ? Directory.GetFiles(libs).Select(Path.GetFileName).ToList() : [];
        missing.AddRange(RequiredLibraries.Where(l => !present.Any(p => p!.StartsWith(l + ".so.", StringComparison.Ordinal))).Select(l => $"{l} ({LibDir}/{l}.so.*)"));
        return missing;
    }

    public static Task<string> KeyAsync(XenBuildRequest r, string leaf, string imageId, CancellationToken ct) =>
        XenBuild.InputsKeyAsync("farm xen tools build v1", Script(leaf), imageId, r, fragment: null, ct);

    /// <summary>Builds (or finds in the cache) the toolstack of <paramref name="r"/>'s tree in <paramref name="image"/>.</summary>
    public static async Task<XenToolsResult> BuildAsync(DockerClient docker, XenBuildRequest r, string image, Action<string> line, TimeProvider time, CancellationToken ct)
    {
        var version = XenBuild.Version(r.Source);
        var leaf = LeafDir(version);
        var imageId = await ContainerRun.ImageIdAsync(docker, image, ct).ConfigureAwait(false);
        var key = await KeyAsync(r, leaf, imageId, ct).ConfigureAwait(false);
        var dir = Path.Combine(r.CacheRoot, "tools-" + key[..16]);
        var json = Path.Combine(dir, "tools.json");
        if (File.Exists(json) && MissingFrom(Path.Combine(dir, "tools"), leaf).Count == 0)
            return new XenToolsResult(dir, true, JsonSerializer.Deserialize(await File.ReadAllTextAsync(json, ct).ConfigureAwait(false), BuildJsonContext.Default.XenToolsProvenance)!);

        var staging = dir + ".partial-" + Guid.NewGuid().ToString("N")[..8];
        var inputs = Directory.CreateTempSubdirectory("farm-tools-in-").FullName;
        long t0 = time.GetTimestamp();
        var log = new List<string>();
        try
        {
            var farmDir = Path.Combine(inputs, "farm");
            Directory.CreateDirectory(Path.Combine(farmDir, "patches"));
            foreach (var p in r.Patches) File.Copy(p, Path.Combine(farmDir, "patches", Path.GetFileName(p)), overwrite: true);
            var job = new ContainerJob(image, Script(leaf), [(r.Source, "/src"), (farmDir, "/farm")], "/out",
                new Dictionary<string, string> { ["farm.build"] = "tools-" + key[..16], ["farm.source"] = r.SourceDescription });
            var outcome = await ContainerRun.RunAsync(docker, job, staging, l => { log.Add(l); line(l); }, time, ct).ConfigureAwait(false);
            if (outcome.ExitCode == 4)
                throw new CheckFailedException($"the toolstack's configure failed for {r.SourceDescription} (exit 4) after {outcome.Duration.TotalSeconds:0} s", outcome.LastLines.TakeLast(15).ToList());
            if (outcome.ExitCode != 0)
                throw new CheckFailedException($"the toolstack build failed (exit {outcome.ExitCode}) after {outcome.Duration.TotalSeconds:0} s", outcome.LastLines.TakeLast(15).ToList());
            var tools = Path.Combine(staging, "tools");
            var missing = MissingFrom(tools, leaf);
            if (missing.Count > 0)
                throw new CheckFailedException($"the toolstack build of {r.SourceDescription} produced no {string.Join(", ", missing)}", missing);
            await File.WriteAllLinesAsync(Path.Combine(staging, "build.log"), log, ct).ConfigureAwait(false);

            var patches = new List<string>();
            foreach (var p in r.Patches) patches.Add($"{Path.GetFileName(p)} {(await XenBuild.Sha256FileAsync(p, ct).ConfigureAwait(false))[..12]}");
            var files = new List<string>();
            foreach (var f in Files(leaf)) files.Add($"{f.Name} {(await XenBuild.Sha256FileAsync(Path.Combine(tools, f.Installed), ct).ConfigureAwait(false))[..12]}");
            var libs = Directory.GetFiles(Path.Combine(tools, LibDir)).Select(Path.GetFileName).Where(n => new FileInfo(Path.Combine(tools, LibDir, n!)).LinkTarget is null).Order(StringComparer.Ordinal).ToList();
            var provenance = new XenToolsProvenance(key, r.SourceDescription, version, r.Commit ?? XenBuild.Commit(r.Source), patches,
                ConfigureFlags(leaf), files, libs!, image, imageId, time.GetUtcNow(), time.GetElapsedTime(t0).TotalSeconds);
            await File.WriteAllTextAsync(Path.Combine(staging, "tools.json"), JsonSerializer.Serialize(provenance, BuildJsonContext.Default.XenToolsProvenance), ct).ConfigureAwait(false);
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            Directory.Move(staging, dir);
            return new XenToolsResult(dir, false, provenance);
        }
        finally
        {
            Directory.Delete(inputs, recursive: true);
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>
    /// Runs in the toolstack image: /farm/base/initrd.cpio.gz is the base set's initramfs, /tools the build's
    /// install tree, /farm/install lines of "name installed in-initramfs". Debian's toolstack (its libexec
    /// directory, /usr/bin links and libxen* libraries) goes, the tree's comes in, and every DT_NEEDED of
    /// every ELF must resolve in the initramfs; a library the base lacks (the tree's tools may link one
    /// Debian's did not) is taken from the image's arm64 multiarch directory and listed in /out/from-image.
    /// Repacked as ci/artifacts.sh packs it: sorted newc, owner 0:0, fixed mtimes, gzip -n.
    /// </summary>
    public const string InitramfsScript = """
        set -e
        mkdir -p /out /build/root
        cd /build/root
        gzip -dc /farm/base/initrd.cpio.gz | cpio -idm --quiet --no-absolute-filenames
        L=usr/lib/aarch64-linux-gnu
        [ -d "$L" ] || { echo "FARM-UNRESOLVED: the base initramfs has no $L"; exit 5; }
        for d in usr/lib/xen-*; do [ -d "$d" ] && { echo "FARM: replacing Debian's $d"; rm -rf "$d"; }; done
        while read -r name src dst; do rm -f "usr/bin/$name"; done < /farm/install
        rm -f "$L"/libxen*.so* "$L"/libxlutil.so*
        while read -r name src dst; do
            install -D -m 0755 "/tools/$src" "$dst"
            ln -s "../${dst#usr/}" "usr/bin/$name"
            echo "FARM-INSTALL: $name /$dst"
        done < /farm/install
        cp -a "/tools/$L/." "$L/"
        needed() { aarch64-linux-gnu-readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
        elves() { for f in $(find usr/bin usr/sbin usr/lib -type f); do head -c 4 "$f" | grep -q 'ELF' && echo "$f"; done; }
        : > /out/from-image
        changed=1
        while [ $changed = 1 ]; do
            changed=0
            for f in $(elves); do
                for n in $(needed "$f"); do
                    [ -e "$L/$n" ] && continue
                    src=
                    for d in /usr/lib/aarch64-linux-gnu /lib/aarch64-linux-gnu; do [ -e "$d/$n" ] && { src=$d/$n; break; }; done
                    [ -n "$src" ] || { echo "FARM-UNRESOLVED: $n (needed by ${f##*/}) is in neither the base initramfs nor the image"; exit 5; }
                    install -m 0755 "$(readlink -f "$src")" "$L/$n"
                    pkg=$(dpkg -S "$(readlink -f "$src")" 2>/dev/null | head -n 1 | cut -d: -f1,2)
                    echo "$n ${pkg:-?}=$(dpkg-query -W -f '${Version}' "${pkg:-none}" 2>/dev/null)" >> /out/from-image
                    echo "FARM: $n (needed by ${f##*/}) from the image's ${pkg:-?}"
                    changed=1
                done
            done
        done
        n=0; for f in $(elves); do n=$((n + 1)); done
        echo "FARM: every DT_NEEDED of $n ELF files resolves in the initramfs"
        find . -exec touch -h -d "@${SOURCE_DATE_EPOCH:-1704067200}" {} +
        find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc --reproducible -R 0:0 | gzip -9 -n > /out/initrd.cpio.gz
        echo "FARM: initramfs $(wc -c < /out/initrd.cpio.gz) bytes"
        """;

    [GeneratedRegex(@"^FARM-UNRESOLVED: (.+)$")]
    private static partial Regex Unresolved();

    /// <summary>The install list the initramfs script reads: "name installed in-initramfs" per line.</summary>
    public static string InstallList(string leaf) => string.Concat(Files(leaf).Select(f => $"{f.Name} {f.Installed} {f.InInitramfs}\n"));

    /// <summary>
    /// <paramref name="baseInitrd"/> with the toolstack of <paramref name="tools"/> in place of Debian's, written to
    /// <paramref name="outInitrd"/>; returns the libraries taken from the image ("soname package=version").
    /// </summary>
    public static async Task<IReadOnlyList<string>> InitramfsAsync(DockerClient docker, XenToolsResult tools, string baseInitrd, string outInitrd, Action<string> line, TimeProvider time, CancellationToken ct)
    {
        var leaf = LeafDir(tools.Provenance.Version);
        var inputs = Directory.CreateTempSubdirectory("farm-initrd-in-").FullName;
        var staging = outInitrd + ".partial-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            var farmDir = Path.Combine(inputs, "farm");
            Directory.CreateDirectory(Path.Combine(farmDir, "base"));
            File.Copy(baseInitrd, Path.Combine(farmDir, "base", "initrd.cpio.gz"));
            await File.WriteAllTextAsync(Path.Combine(farmDir, "install"), InstallList(leaf), ct).ConfigureAwait(false);
            var job = new ContainerJob(tools.Provenance.Image, InitramfsScript, [(Path.Combine(tools.Directory, "tools"), "/tools"), (farmDir, "/farm")], "/out",
                new Dictionary<string, string> { ["farm.build"] = "initramfs-" + tools.Provenance.Key[..16] });
            var outcome = await ContainerRun.RunAsync(docker, job, staging, line, time, ct).ConfigureAwait(false);
            if (outcome.ExitCode != 0)
            {
                var unresolved = outcome.LastLines.Select(l => Unresolved().Match(l)).Where(m => m.Success).Select(m => m.Groups[1].Value).ToList();
                throw unresolved.Count > 0
                    ? new CheckFailedException($"the self-built toolstack cannot run in dom0's initramfs: {string.Join("; ", unresolved)}", unresolved)
                    : new InfrastructureException($"rebuilding dom0's initramfs with the self-built toolstack failed (exit {outcome.ExitCode}): {string.Join(" | ", outcome.LastLines.TakeLast(5))}");
            }
            File.Move(Path.Combine(staging, "initrd.cpio.gz"), outInitrd, overwrite: true);
            return (await File.ReadAllLinesAsync(Path.Combine(staging, "from-image"), ct).ConfigureAwait(false)).Where(l => l.Length > 0).ToList();
        }
        finally
        {
            Directory.Delete(inputs, recursive: true);
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>The MANIFEST lines that say the toolstack is this build's.</summary>
    public static IEnumerable<string> ManifestLines(XenToolsProvenance p, IReadOnlyList<string> fromImage)
    {
        yield return $"xen_tools=self-built {p.Version}{(p.Commit is null ? "" : " @ " + p.Commit)}";
        yield return $"xen_tools_build={p.Key[..16]}";
        yield return $"xen_tools_source={p.Source}";
        yield return $"xen_tools_version={p.Version}";
        if (p.Commit is not null) yield return $"xen_tools_commit={p.Commit}";
        if (p.Patches.Count > 0) yield return $"xen_tools_patches={string.Join(", ", p.Patches)}";
        yield return $"xen_tools_files={string.Join(", ", p.Files)}";
        yield return $"xen_tools_libs={string.Join(' ', p.Libraries)}";
        yield return $"xen_tools_configure={string.Join(' ', p.Configure)}";
        yield return $"xen_tools_image={p.Image} {p.ImageId[..Math.Min(19, p.ImageId.Length)]}";
        if (fromImage.Count > 0) yield return $"xen_tools_libs_from_image={string.Join(", ", fromImage)}";
    }
}
