using Farm.Ssh;

namespace Farm.Tests.Ssh;

/// <summary>Issue 15, item 8: the SSH host key is pinned to what the target printed on its console, if it printed any.</summary>
public class HostKeyPinTests
{
    // cloud-init's block (write-ssh-key-fingerprints), as it reaches a serial console with Farm's timestamps.
    static readonly string[] Console =
    [
        "[2026-12-01T10:00:40.100Z] <14>Dec  1 10:00:40 cloud-init: #############################################################",
        "[2026-12-01T10:00:40.101Z] <14>Dec  1 10:00:40 cloud-init: -----BEGIN SSH HOST KEY FINGERPRINTS-----",
        "[2026-12-01T10:00:40.102Z] <14>Dec  1 10:00:40 cloud-init: 256 SHA256:n8/8wYqx3FZ2V1cC8gBfQbMR8m6l9q2mI0kF2H7cYxE root@dom0 (ECDSA)",
        "[2026-12-01T10:00:40.103Z] <14>Dec  1 10:00:40 cloud-init: 256 SHA256:Q0pC5l3zUuYq7w9Yk2VwXhT0bE1m6Jd4rS8aN3fG2hI root@dom0 (ED25519)",
        "[2026-12-01T10:00:40.104Z] <14>Dec  1 10:00:40 cloud-init: -----END SSH HOST KEY FINGERPRINTS-----",
        "[2026-12-01T10:00:41.000Z] Debian GNU/Linux 12 dom0 hvc0",
    ];

    [Test]
    public void TheKeysPrintedOnTheConsoleArePinned()
    {
        var pinned = HostKeyPin.FromConsole(Console);
        Assert.That(pinned, Is.EqualTo(new[] { "n8/8wYqx3FZ2V1cC8gBfQbMR8m6l9q2mI0kF2H7cYxE", "Q0pC5l3zUuYq7w9Yk2VwXhT0bE1m6Jd4rS8aN3fG2hI" }));
        Assert.That(HostKeyPin.Accepts(pinned, "Q0pC5l3zUuYq7w9Yk2VwXhT0bE1m6Jd4rS8aN3fG2hI"), Is.True);
        Assert.That(HostKeyPin.Accepts(pinned, "SHA256:Q0pC5l3zUuYq7w9Yk2VwXhT0bE1m6Jd4rS8aN3fG2hI="), Is.True, "prefix and padding do not matter");
        Assert.That(HostKeyPin.Accepts(pinned, "AAAAC5l3zUuYq7w9Yk2VwXhT0bE1m6Jd4rS8aN3fG2hI"), Is.False, "another host on the port is refused");
    }

    [Test]
    public void WithoutPrintedKeysTheFirstKeyIsTrustedAndAFingerprintInOtherTextIsNotAPin()
    {
        string[] console = ["[t] ssh: SHA256:n8/8wYqx3FZ2V1cC8gBfQbMR8m6l9q2mI0kF2H7cYxE mentioned in a log line", "[t] dom0 login:"];
        var pinned = HostKeyPin.FromConsole(console);
        Assert.That(pinned, Is.Empty);
        Assert.That(HostKeyPin.Accepts(pinned, "anything"), Is.True);
    }
}
