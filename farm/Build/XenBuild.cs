using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Docker.DotNet;

namespace Farm.Build;

/// <summary>What to build: a Xen source tree, a Kconfig fragment, patches applied in name order, the toolchain image.</summary>
internal sealed record XenBuildRequest(string Source, string SourceDescription, string ConfigFragment, IReadOnlyList<string> Patches, string Image, string CacheRoot, string? BaseArtifacts)
{
    /// <summary>The commit the tree was exported from (--ref), when it is not a checkout itself.</summary>
    public string? Commit { get; init; }

    /// <summary>Also build the arm64 toolstack from the same tree and patches in this image (--tools), and put it into the artifact set's initramfs.</summary>
    public string? ToolsImage { get; init; }
}

/// <summary>What was built, recorded as build.json beside the binary and copied into the artifact set's MANIFEST.</summary>
internal sealed record XenBuildProvenance(
    string Key, string Source, string Version, string? Commit, string ConfigSha256, IReadOnlyList<string> PciOptions,
    IReadOnlyList<string> Patches, string Image, string ImageId, DateTimeOffset Built, double Seconds);

internal sealed record XenBuildResult(string Directory, bool CacheHit, XenBuildProvenance Provenance, string? ArtifactSet)
{
    /// <summary>The toolstack built from the same tree, with --tools.</summary>
    public XenToolsResult? Tools { get; init; }
}

/// <summary>
/// <c>farm build xen</c>: cross-compiles the Xen hypervisor for arm64 in a container (the image
/// from ci/setup-docker.sh), with a Kconfig fragment merged by <c>olddefconfig</c>. A requested option
/// that Kconfig silently drops (absent from this version, or its dependencies are off) stops the build
/// with the options named (verdict error). A compiler failure is the build's fault (verdict fail, the
/// compiler's last lines as evidence). Builds are cached by the hash of (source tree, fragment,
/// patches, image id, build script): unchanged inputs are a cache hit. With a base artifact set,
/// the result is also an artifact set (the base's kernel and initramfs with this Xen) whose MANIFEST
/// carries the build's provenance, so every run that boots it records what was built. With
/// <see cref="XenBuildRequest.ToolsImage"/> the toolstack is built from the same tree too
/// (<see cref="XenTools"/>) and the set's initramfs carries it instead of Debian's.
/// </summary>
internal static partial class XenBuild
{
    public const string DefaultImage = "farm-xen-builder:bookworm";

    /// <summary>The Kconfig options that say what PCI support a build has.</summary>
    [GeneratedRegex(@"^CONFIG_((?:\w*PCI\w*)|HAS_ITS|ARM_SMMU\w*|HAS_PASSTHROUGH|EXPERT|UNSUPPORTED)=y$", RegexOptions.Multiline)]
    private static partial Regex PciOption();

    [GeneratedRegex(@"^FARM-DROPPED (CONFIG_\S+)")]
    private static partial Regex Dropped();

    /// <summary>Runs in the container: /src is the tree, /farm holds fragment.config and patches/, /out is copied out.</summary>
    public const string Script = """
        set -e
        mkdir -p /out /build
        cp -a /src /build/tree
        cd /build/tree
        for p in $(ls /farm/patches/*.patch 2>/dev/null | sort); do echo "FARM: patch $(basename "$p")"; patch -p1 --forward < "$p"; done
        cd xen
        export XEN_TARGET_ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-
        make -s defconfig
        cat /farm/fragment.config >> .config
        make -s olddefconfig
        cp .config /out/xen.config
        grep -E '^CONFIG_[A-Za-z0-9_]+=' /farm/fragment.config | while read -r want; do grep -qxF "$want" .config || echo "FARM-DROPPED $want"; done > /out/dropped
        if [ -s /out/dropped ]; then cat /out/dropped; exit 3; fi
        echo "FARM: make -j$(nproc) (arm64, $(aarch64-linux-gnu-gcc -dumpversion))"
        make -j"$(nproc)"
        cp xen /out/xen
        echo "FARM: built xen, $(wc -c < xen) bytes"
        """;

    public static async Task<XenBuildResult> RunAsync(DockerClient docker, XenBuildRequest r, Action<string> line, TimeProvider time, CancellationToken ct)
    {
        if (!Directory.Exists(r.Source)) throw new ConfigurationException($"Xen source {r.Source} is not a directory");
        if (!File.Exists(Path.Combine(r.Source, "xen", "Makefile"))) throw new ConfigurationException($"{r.Source} is not a Xen source tree (no xen/Makefile)");
        if (!File.Exists(r.ConfigFragment)) throw new ConfigurationException($"config fragment {r.ConfigFragment} not found");
        foreach (var p in r.Patches.Where(p => !File.Exists(p))) throw new ConfigurationException($"patch {p} not found");

        var imageId = await ContainerRun.ImageIdAsync(docker, r.Image, ct).ConfigureAwait(false);

        var key = await KeyAsync(r, imageId, ct).ConfigureAwait(false);
        var dir = Path.Combine(r.CacheRoot, "xen-" + key[..16]);
        var buildJson = Path.Combine(dir, "build.json");
        if (File.Exists(buildJson) && File.Exists(Path.Combine(dir, "xen")))
        {
            var cached = JsonSerializer.Deserialize(await File.ReadAllTextAsync(buildJson, ct).ConfigureAwait(false), BuildJsonContext.Default.XenBuildProvenance)!;
            return await WithToolsAsync(docker, r, new XenBuildResult(dir, true, cached, null), line, time, ct).ConfigureAwait(false);
        }

        var staging = dir + ".partial-" + Guid.NewGuid().ToString("N")[..8];
        var inputs = Directory.CreateTempSubdirectory("farm-build-in-").FullName;
        long t0 = time.GetTimestamp();
        try
        {
            var farmDir = Path.Combine(inputs, "farm");
            Directory.CreateDirectory(Path.Combine(farmDir, "patches"));
            File.Copy(r.ConfigFragment, Path.Combine(farmDir, "fragment.config"));
            foreach (var p in r.Patches) File.Copy(p, Path.Combine(farmDir, "patches", Path.GetFileName(p)), overwrite: true);
            var job = new ContainerJob(r.Image, Script, [(r.Source, "/src"), (farmDir, "/farm")], "/out",
                new Dictionary<string, string> { ["farm.build"] = key[..16], ["farm.source"] = r.SourceDescription });
            var outcome = await ContainerRun.RunAsync(docker, job, staging, line, time, ct).ConfigureAwait(false);
            if (outcome.ExitCode != 0)
            {
                var dropped = outcome.LastLines.Select(l => Dropped().Match(l)).Where(m => m.Success).Select(m => m.Groups[1].Value).ToList();
                if (dropped.Count > 0)
                    throw new ConfigurationException(
                        $"Kconfig dropped {string.Join(", ", dropped)} from {Path.GetFileName(r.ConfigFragment)}: not in this Xen ({r.SourceDescription}) or its dependencies are off; a patch can add it (--patch)",
                        dropped);
                throw new CheckFailedException($"the Xen build failed (exit {outcome.ExitCode}) after {outcome.Duration.TotalSeconds:0} s", outcome.LastLines.TakeLast(15).ToList());
            }
            var config = await File.ReadAllTextAsync(Path.Combine(staging, "xen.config"), ct).ConfigureAwait(false);
            var patches = new List<string>();
            foreach (var p in r.Patches) patches.Add($"{Path.GetFileName(p)} {(await Sha256FileAsync(p, ct).ConfigureAwait(false))[..12]}");
            var provenance = new XenBuildProvenance(key, r.SourceDescription, Version(r.Source), r.Commit ?? Commit(r.Source),
                Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(config))),
                PciOption().Matches(config).Select(m => "CONFIG_" + m.Groups[1].Value).ToList(),
                patches, r.Image, imageId, time.GetUtcNow(), time.GetElapsedTime(t0).TotalSeconds);
            await File.WriteAllTextAsync(Path.Combine(staging, "build.json"), JsonSerializer.Serialize(provenance, BuildJsonContext.Default.XenBuildProvenance), ct).ConfigureAwait(false);
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            Directory.Move(staging, dir);
        }
        finally
        {
            Directory.Delete(inputs, recursive: true);
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
        var built = JsonSerializer.Deserialize(await File.ReadAllTextAsync(buildJson, ct).ConfigureAwait(false), BuildJsonContext.Default.XenBuildProvenance)!;
        return await WithToolsAsync(docker, r, new XenBuildResult(dir, false, built, null), line, time, ct).ConfigureAwait(false);
    }

    /// <summary>The toolstack (with --tools) and the artifact set (with a base set) of a hypervisor build.</summary>
    static async Task<XenBuildResult> WithToolsAsync(DockerClient docker, XenBuildRequest r, XenBuildResult hypervisor, Action<string> line, TimeProvider time, CancellationToken ct)
    {
        var tools = r.ToolsImage is null ? null : await XenTools.BuildAsync(docker, r, r.ToolsImage, line, time, ct).ConfigureAwait(false);
        var set = await ArtifactSetAsync(docker, hypervisor.Directory, r.BaseArtifacts, hypervisor.Provenance, tools, line, time, ct).ConfigureAwait(false);
        return hypervisor with { ArtifactSet = set, Tools = tools };
    }


    /// <summary>The cache key: every input that can change the binary.</summary>
    public static async Task<string> KeyAsync(XenBuildRequest r, string imageId, CancellationToken ct) =>
        await InputsKeyAsync("farm xen build v1", Script, imageId, r, await File.ReadAllTextAsync(r.ConfigFragment, ct).ConfigureAwait(false), ct).ConfigureAwait(false);

    /// <summary>
    /// A build's cache key: its kind and version, the script run in the container, the image, the
    /// source tree, the Kconfig fragment when it matters (the hypervisor's, not the tools'), and each patch by name and content.
    /// </summary>
    internal static async Task<string> InputsKeyAsync(string kind, string script, string imageId, XenBuildRequest r, string? fragment, CancellationToken ct)
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string s) => h.AppendData(Encoding.UTF8.GetBytes(s + "\n"));
        Add(kind);
        Add(script);
        Add(imageId);
        Add(await TreeHashAsync(r.Source, ct).ConfigureAwait(false));
        if (fragment is not null) Add(fragment);
        foreach (var p in r.Patches.OrderBy(Path.GetFileName, StringComparer.Ordinal)) { Add(Path.GetFileName(p)); Add(await Sha256FileAsync(p, ct).ConfigureAwait(false)); }
        return Convert.ToHexStringLower(h.GetHashAndReset());
    }

    /// <summary>A hash of every file's path and content (not times), skipping .git.</summary>
    public static async Task<string> TreeHashAsync(string root, CancellationToken ct)
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 16];
        foreach (var f in Directory.EnumerateFiles(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
                     .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/'))
                     .Where(f => f != ".git" && !f.StartsWith(".git/", StringComparison.Ordinal))
                     .Order(StringComparer.Ordinal))
        {
            h.AppendData(Encoding.UTF8.GetBytes(f + "\0"));
            await using var s = File.OpenRead(Path.Combine(root, f));
            int n;
            while ((n = await s.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0) h.AppendData(buffer, 0, n);
        }
        return Convert.ToHexStringLower(h.GetHashAndReset());
    }

    internal static async Task<string> Sha256FileAsync(string path, CancellationToken ct)
    {
        await using var s = File.OpenRead(path);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(s, ct).ConfigureAwait(false));
    }

    /// <summary>"4.17.5" from xen/Makefile (XEN_VERSION, XEN_SUBVERSION, XEN_EXTRAVERSION), plus Debian's version when the tree has debian/changelog.</summary>
    public static string Version(string source)
    {
        var make = File.ReadAllText(Path.Combine(source, "xen", "Makefile"));
        string Get(string name) => Regex.Match(make, $@"^export\s+{name}\s*\??=\s*(\S*)", RegexOptions.Multiline) is { Success: true } m
            ? m.Groups[1].Value.Replace("$(XEN_VENDORVERSION)", "", StringComparison.Ordinal) : "?";
        var version = $"{Get("XEN_VERSION")}.{Get("XEN_SUBVERSION")}{Get("XEN_EXTRAVERSION")}";
        var changelog = Path.Combine(source, "debian", "changelog");
        if (File.Exists(changelog) && Regex.Match(File.ReadLines(changelog).FirstOrDefault() ?? "", @"^\S+ \(([^)]+)\)") is { Success: true } d)
            version += $" (Debian {d.Groups[1].Value})";
        return version;
    }

    /// <summary>The checked-out commit of a git tree, if it is one.</summary>
    public static string? Commit(string source)
    {
        var head = Path.Combine(source, ".git", "HEAD");
        if (!File.Exists(head)) return null;
        var text = File.ReadAllText(head).Trim();
        if (!text.StartsWith("ref: ", StringComparison.Ordinal)) return text;
        var refFile = Path.Combine(source, ".git", text[5..]);
        return File.Exists(refFile) ? File.ReadAllText(refFile).Trim() : text[5..];
    }

    /// <summary>
    /// The base set's kernel and initramfs with this Xen: <c>&lt;build&gt;/artifacts</c>, MANIFEST rewritten with the
    /// build's provenance. With a toolstack, <c>&lt;build&gt;/artifacts-tools-&lt;key&gt;</c> instead, whose initramfs has the
    /// tree's toolstack in place of Debian's (rebuilt only when the base initramfs or the toolstack changed),
    /// so the hypervisor-only set beside it stays as it was.
    /// </summary>
    static async Task<string?> ArtifactSetAsync(DockerClient docker, string buildDir, string? baseSet, XenBuildProvenance p, XenToolsResult? tools,
        Action<string> line, TimeProvider time, CancellationToken ct)
    {
        if (baseSet is null) return null;
        var manifest = Path.Combine(baseSet, "MANIFEST");
        if (!File.Exists(manifest)) throw new ConfigurationException($"base artifact set {baseSet} has no MANIFEST (ci/artifacts.sh builds one)");
        var set = Path.Combine(buildDir, tools is null ? "artifacts" : "artifacts-tools-" + tools.Provenance.Key[..16]);
        Directory.CreateDirectory(set);
        File.Copy(Path.Combine(baseSet, "vmlinuz"), Path.Combine(set, "vmlinuz"), overwrite: true);
        File.Copy(Path.Combine(buildDir, "xen"), Path.Combine(set, "xen"), overwrite: true);
        IReadOnlyList<string> fromImage = [];
        var baseInitrd = Path.Combine(baseSet, "initrd.cpio.gz");
        if (tools is null) File.Copy(baseInitrd, Path.Combine(set, "initrd.cpio.gz"), overwrite: true);
        else
        {
            // The initramfs is a function of the base initramfs, the toolstack and the script that joins them.
            var stamp = Path.Combine(set, "initrd.inputs");
            var inputs = $"{await Sha256FileAsync(baseInitrd, ct).ConfigureAwait(false)} {tools.Provenance.Key} {Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(XenTools.InitramfsScript)))[..16]}";
            var fromImageFile = Path.Combine(set, "initrd.from-image");
            if (File.Exists(stamp) && File.Exists(Path.Combine(set, "initrd.cpio.gz")) && File.Exists(fromImageFile)
                && (await File.ReadAllTextAsync(stamp, ct).ConfigureAwait(false)).Trim() == inputs)
                fromImage = (await File.ReadAllLinesAsync(fromImageFile, ct).ConfigureAwait(false)).Where(l => l.Length > 0).ToList();
            else
            {
                line("FARM: dom0 initramfs: the base set's, with the self-built toolstack in place of Debian's");
                fromImage = await XenTools.InitramfsAsync(docker, tools, baseInitrd, Path.Combine(set, "initrd.cpio.gz"), line, time, ct).ConfigureAwait(false);
                await File.WriteAllLinesAsync(fromImageFile, fromImage, ct).ConfigureAwait(false);
                await File.WriteAllTextAsync(stamp, inputs + "\n", ct).ConfigureAwait(false);
            }
        }
        // Through the artifact store's cache, so the first boot of this set does not hash them again.
        var xenSha = await Deploy.VerifiedHash.GetAsync(Path.Combine(set, "xen"), ct).ConfigureAwait(false);
        var initrdSha = await Deploy.VerifiedHash.GetAsync(Path.Combine(set, "initrd.cpio.gz"), ct).ConfigureAwait(false);
        var lines = ManifestLines(await File.ReadAllLinesAsync(manifest, ct).ConfigureAwait(false), xenSha, initrdSha, p, tools?.Provenance, fromImage);
        await File.WriteAllLinesAsync(Path.Combine(set, "MANIFEST"), lines, ct).ConfigureAwait(false);
        return set;
    }

    /// <summary>
    /// The built set's MANIFEST from the base set's: the hypervisor's and (with a toolstack) the initramfs's sha256
    /// replaced, the package lines that no longer describe the set marked self-built, and the provenance of both
    /// builds appended. <c>xen_tools</c> always says where dom0's toolstack came from: this tree, or Debian's package.
    /// </summary>
    public static IReadOnlyList<string> ManifestLines(IEnumerable<string> baseManifest, string xenSha, string initrdSha, XenBuildProvenance p, XenToolsProvenance? tools, IReadOnlyList<string> fromImage)
    {
        var lines = new List<string>();
        string? debianTools = null;
        foreach (var l in baseManifest)
        {
            if (l.StartsWith("xen_build", StringComparison.Ordinal) || l.StartsWith("xen_tools", StringComparison.Ordinal)) continue;
            if (l.StartsWith("xen_utils_pkg=", StringComparison.Ordinal)) debianTools = l["xen_utils_pkg=".Length..];
            lines.Add(l switch
            {
                _ when l.Length == 69 && l.EndsWith("  xen", StringComparison.Ordinal) => $"{xenSha}  xen",
                _ when l.Length == 80 && l.EndsWith("  initrd.cpio.gz", StringComparison.Ordinal) => $"{initrdSha}  initrd.cpio.gz",
                _ when l.StartsWith("xen_pkg=", StringComparison.Ordinal) => "xen_pkg=self-built",
                _ when tools is not null && l.StartsWith("xen_utils_pkg=", StringComparison.Ordinal) => "xen_utils_pkg=self-built",
                _ when tools is not null && l.StartsWith("xen_libs_pkg=", StringComparison.Ordinal) => "xen_libs_pkg=self-built",
                // Debian's libxen* are gone from the initramfs: only the libraries still in it are listed.
                _ when tools is not null && l.StartsWith("lib_pkgs=", StringComparison.Ordinal) =>
                    "lib_pkgs=" + string.Join(' ', l["lib_pkgs=".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(x => !x.StartsWith("libxen", StringComparison.Ordinal))),
                _ => l,
            });
        }
        lines.Add($"xen_build={p.Key[..16]}");
        lines.Add($"xen_build_source={p.Source}");
        lines.Add($"xen_build_version={p.Version}");
        if (p.Commit is not null) lines.Add($"xen_build_commit={p.Commit}");
        lines.Add($"xen_build_config_sha256={p.ConfigSha256}");
        lines.Add($"xen_build_pci={string.Join(' ', p.PciOptions)}");
        if (p.Patches.Count > 0) lines.Add($"xen_build_patches={string.Join(", ", p.Patches)}");
        if (tools is not null) lines.AddRange(XenTools.ManifestLines(tools, fromImage));
        else lines.Add($"xen_tools=debian {debianTools ?? "(the base set names no xen_utils_pkg)"}");
        return lines;
    }
}

/// <summary>build.json and tools.json, the provenance beside each cached build.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(XenBuildProvenance))]
[JsonSerializable(typeof(XenToolsProvenance))]
internal sealed partial class BuildJsonContext : JsonSerializerContext;
