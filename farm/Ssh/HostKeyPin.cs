using System.Text.RegularExpressions;

namespace Farm.Ssh;

/// <summary>
/// The SSH host keys a target printed on its own console (cloud-init's "BEGIN SSH HOST KEY
/// FINGERPRINTS" block, or <c>ssh-keygen -l</c> output at first boot: <c>256 SHA256:... root@host (ED25519)</c>).
/// The console is the one channel the lab trusts to come from the board itself, so when it printed
/// keys, SSH logs in only to a host presenting one of them; when it printed none, the key presented is
/// trusted on first use and recorded in the run's provenance.
/// </summary>
internal static partial class HostKeyPin
{
    [GeneratedRegex(@"\b\d{3,4} SHA256:(?<fp>[A-Za-z0-9+/]{43})=?\s.*\((?:ED25519|ECDSA|RSA|DSA)\)", RegexOptions.CultureInvariant)]
    private static partial Regex Printed();

    /// <summary>The SHA256 fingerprints (base64, no padding) the console printed, in order, once each.</summary>
    public static IReadOnlyList<string> FromConsole(IEnumerable<string> lines) =>
        lines.Select(l => Printed().Match(l)).Where(m => m.Success).Select(m => m.Groups["fp"].Value).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>A fingerprint as compared: without "SHA256:" and base64 padding.</summary>
    public static string Normalize(string fingerprint) =>
        (fingerprint.StartsWith("SHA256:", StringComparison.Ordinal) ? fingerprint[7..] : fingerprint).TrimEnd('=');

    /// <summary>Whether a presented key may be logged in to: any key when nothing was pinned, else only a pinned one.</summary>
    public static bool Accepts(IReadOnlyCollection<string> pinned, string presented) =>
        pinned.Count == 0 || pinned.Select(Normalize).Contains(Normalize(presented), StringComparer.Ordinal);
}
