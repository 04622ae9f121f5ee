using System.Text.RegularExpressions;

namespace Farm.Boards.Qemu;

/// <summary>The QEMU program a snapshot was saved by: a different build cannot load its state.</summary>
internal sealed record QemuBinaryIdentity(string FullName, long Length, DateTime LastWriteUtc);

/// <summary>
/// What a saved QEMU boot is keyed by: QEMU's argv with this run's own values (SSH port, run
/// directory, artifact path, SSH key) written as placeholders, the QEMU binary's identity and every
/// artifact's sha256. Two runs that would boot the same machine get the same inputs; the store
/// explains a miss by the lines that differ.
/// </summary>
internal static partial class QemuSnapshotInputs
{
    const string Format = "farm-qemu-snapshot-1";

    [GeneratedRegex(@"farm\.sshkey=[^\s,]+")]
    private static partial Regex SshKeyArg();

    public static IReadOnlyList<string> For(QemuBinaryIdentity qemu, IReadOnlyList<string> arguments, string boardDirectory, ArtifactSet artifacts, int sshPort)
    {
        var argv = arguments.Select(x => SshKeyArg().Replace(x, "farm.sshkey={run-key}")
            .Replace(boardDirectory, "{board-dir}").Replace(artifacts.Directory, "{artifacts}").Replace($":{sshPort}-", ":{ssh-port}-"));
        return
        [
            $"format={Format}",
            $"qemu={qemu.FullName} {qemu.Length} {qemu.LastWriteUtc:O}",
            $"argv={string.Join(' ', argv)}",
            .. artifacts.Sha256.OrderBy(x => x.Key, StringComparer.Ordinal).Select(x => $"sha256:{x.Key}={x.Value}"),
        ];
    }

    /// <summary>An argument with the SSH key the kernel is given replaced (a resumed boot keeps the key that is in its saved RAM).</summary>
    public static string WithSshKey(string argument, string kernelParameter) => SshKeyArg().Replace(argument, kernelParameter);
}
