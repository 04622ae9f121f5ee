using System.Security.Cryptography;

namespace Farm.Deploy;

/// <summary>
/// Finds and verifies an artifact set built by ci/artifacts.sh: a directory with xen, vmlinuz,
/// initrd.cpio.gz and a MANIFEST of <c>key=value</c> lines plus sha256sum lines. A missing or
/// corrupted file is bad input (verdict error) named precisely, never a boot that mysteriously hangs.
/// </summary>
internal static class ArtifactStore
{
    public const string BuildHint = "build it with: ci/artifacts.sh";

    /// <summary>A set name ("bookworm") lives under <c>&lt;root&gt;/.cache/artifacts/</c>; anything with a slash is a path.</summary>
    public static string Locate(string nameOrPath, string repoRoot) =>
        nameOrPath.Contains('/') || nameOrPath.StartsWith('.')
            ? Path.GetFullPath(nameOrPath, repoRoot)
            : Path.Combine(repoRoot, ".cache", "artifacts", nameOrPath);

    public static async Task<ArtifactSet> LoadAsync(string directory, bool needXen, CancellationToken ct)
    {
        var manifestPath = Path.Combine(directory, "MANIFEST");
        if (!Directory.Exists(directory))
            throw new ConfigurationException($"artifact set not found: {directory} ({BuildHint}; a self-built Xen's set comes from farm build xen ... --artifacts-from bookworm --name {Path.GetFileName(directory)})");
        if (!File.Exists(manifestPath))
            throw new ConfigurationException($"artifact set {directory} has no MANIFEST ({BuildHint})");

        var manifest = new Dictionary<string, string>();
        var expected = new Dictionary<string, string>();
        foreach (var raw in await File.ReadAllLinesAsync(manifestPath, ct).ConfigureAwait(false))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            int eq = line.IndexOf('=');
            int sp = line.IndexOf("  ", StringComparison.Ordinal);
            if (sp == 64 && line[..64].All(Uri.IsHexDigit)) expected[line[(sp + 2)..]] = line[..64];
            else if (eq > 0) manifest[line[..eq]] = line[(eq + 1)..];
        }

        string[] needed = needXen ? ["xen", "vmlinuz", "initrd.cpio.gz"] : ["vmlinuz", "initrd.cpio.gz"];
        var sha = new Dictionary<string, string>();
        var hashing = needed.Select(async name =>
        {
            var path = Path.Combine(directory, name);
            if (!File.Exists(path))
                throw new ConfigurationException($"artifact missing: {path} ({BuildHint})");
            if (!expected.TryGetValue(name, out var want))
                throw new ConfigurationException($"artifact {name} has no sha256 in {manifestPath} ({BuildHint})");
            var got = await VerifiedHash.GetAsync(path, ct).ConfigureAwait(false);
            if (got != want)
                throw new ConfigurationException($"artifact {path} is corrupted: sha256 {got}, MANIFEST says {want} ({BuildHint})");
            return (name, got);
        }).ToList();
        foreach (var (name, hash) in await Task.WhenAll(hashing).ConfigureAwait(false)) sha[name] = hash;

        return new ArtifactSet(
            directory,
            needXen ? Path.Combine(directory, "xen") : "",
            Path.Combine(directory, "vmlinuz"),
            Path.Combine(directory, "initrd.cpio.gz"),
            sha,
            manifest);
    }
}

/// <summary>
/// sha256 of an artifact, remembered in a <c>.verified</c> file beside it keyed by size and
/// modification time (as git's index and make do), so every run still checks every artifact
/// against its MANIFEST without re-reading tens of megabytes; any change to a file re-hashes it.
/// </summary>
static class VerifiedHash
{
    public static async Task<string> GetAsync(string path, CancellationToken ct)
    {
        var info = new FileInfo(path);
        var stamp = $"{info.Length} {info.LastWriteTimeUtc.Ticks}";
        var cache = Path.Combine(info.DirectoryName!, $".{info.Name}.verified");
        try
        {
            if (File.Exists(cache) && (await File.ReadAllTextAsync(cache, ct).ConfigureAwait(false)).Split(' ') is [var len, var ticks, var hash]
                && $"{len} {ticks}" == stamp && hash.Length == 64)
                return hash;
        }
        catch (IOException)
        {
            // An unreadable cache is only a cache: hash the file.
        }
        string got;
        await using (var f = File.OpenRead(path))
            got = Convert.ToHexStringLower(await SHA256.HashDataAsync(f, ct).ConfigureAwait(false));
        try
        {
            await File.WriteAllTextAsync(cache, $"{stamp} {got}", ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A read-only artifact directory works, just without the shortcut.
        }
        return got;
    }
}
