using Farm.PowerControl;

namespace Farm.Build;

/// <summary>
/// Debian's Xen source for a suite (<c>--source debian:bookworm</c>): <c>apt-get source xen</c> with
/// a private apt state (deb-src of that suite only, nothing of the host's apt touched), unpacked with
/// Debian's patches applied by dpkg-source, cached under <c>.cache/xen-src/&lt;suite&gt;/</c>.
/// </summary>
internal static class DebianSource
{
    public static async Task<string> FetchAsync(string suite, string cacheRoot, CancellationToken ct)
    {
        var dir = Path.GetFullPath(Path.Combine(cacheRoot, "xen-src", suite));
        if (Unpacked(dir) is { } existing) return existing;
        var apt = Path.Combine(dir, ".apt");
        foreach (var d in new[] { "lists/partial", "cache/archives/partial" }) Directory.CreateDirectory(Path.Combine(apt, d));
        var mirror = Environment.GetEnvironmentVariable("FARM_DEBIAN_MIRROR") ?? "http://deb.debian.org/debian";
        await File.WriteAllTextAsync(Path.Combine(apt, "sources.list"), $"deb-src {mirror} {suite} main\n", ct).ConfigureAwait(false);
        string[] opts =
        [
            "-o", $"Dir::Etc::SourceList={apt}/sources.list", "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", $"Dir::State::Lists={apt}/lists", "-o", $"Dir::Cache={apt}/cache", "-o", "APT::Sandbox::User=root", "-q",
        ];
        foreach (var step in new[] { (string[])[.. opts, "update"], [.. opts, "source", "xen"] })
        {
            var r = await PowerTool.RunAsync("apt-get", step, null, TimeSpan.FromMinutes(15), ct, dir).ConfigureAwait(false);
            if (r is null || r.ExitCode != 0)
                throw new InfrastructureException($"apt-get {step[^2]} {step[^1]} for Debian {suite} failed{(r is null ? " (timed out)" : "")}: the mirror ({mirror}) may not carry this suite's Xen source",
                    r?.Evidence("apt-get " + string.Join(' ', step[^2..])).TakeLast(12).ToList());
        }
        return Unpacked(dir) ?? throw new InfrastructureException($"apt-get source xen ({suite}) left no xen-*/ tree in {dir}");
    }

    /// <summary>The unpacked Xen tree in <paramref name="dir"/>, if apt-get source has left one.</summary>
    static string? Unpacked(string dir) =>
        Directory.Exists(dir) ? Directory.GetDirectories(dir, "xen-*").FirstOrDefault(d => File.Exists(Path.Combine(d, "xen", "Makefile"))) : null;
}
