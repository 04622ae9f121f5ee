using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace Farm.Tests.Serial;

/// <summary>
/// Crash safety of the transcript, with a real process and a real SIGKILL: a <c>farm capture</c>
/// child reads a console socket the test feeds (as QEMU's chardev is fed), and is killed.
/// </summary>
public partial class TranscriptKillTests
{
    // SIOCOUTQ: bytes this end sent that the peer has not read yet (a Unix stream socket's skbs stay
    // charged to the sender until the receiver's recv consumes them).
    const uint SIOCOUTQ = 0x5411;

    [DllImport("libc", SetLastError = true)]
    static extern int ioctl(int fd, uint request, out int value);

    static int Unread(Socket s) =>
        ioctl((int)s.SafeHandle.DangerousGetHandle(), SIOCOUTQ, out int n) == 0 ? n : throw new IOException($"SIOCOUTQ: errno {Marshal.GetLastPInvokeError()}");

    [GeneratedRegex(@"^\[[^\]]+\] ")]
    private static partial Regex Stamp();

    /// <summary>
    /// The transcript writes what one read brought before the next read: so once the child has
    /// read again after A (the test sees it read a further byte), all of A must be on disk, and
    /// a SIGKILL then may lose only that last read. No clock is involved: "read" is SIOCOUTQ
    /// reaching 0, so a slow host only makes the test wait longer.
    /// </summary>
    [Test]
    public async Task ASigkilledWriterLosesAtMostTheReadItWasWriting()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var dir = Directory.CreateTempSubdirectory("farm-kill").FullName;
        var path = Path.Combine(dir, "uart.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        var psi = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "farm"), ["capture", "unix:" + path, "--out", dir])
            { RedirectStandardOutput = true, RedirectStandardError = true };
        using var farm = Process.Start(psi)!;
        try
        {
            using var uart = await listener.AcceptAsync(cts.Token);
            string raw = Path.Combine(dir, "uart.sock.raw"), log = Path.Combine(dir, "uart.sock.log");
            var rng = new Random(19);
            var lines = Enumerable.Range(0, 400).Select(n => $"(XEN) line {n} {new string('k', rng.Next(0, 60))}").ToList();
            var a = Encoding.ASCII.GetBytes(string.Join("\r\n", lines) + "\r\n" + "root@farm:~# ");
            var tail = new byte[1024];
            rng.NextBytes(tail);
            for (int i = 0; i < tail.Length; i++) if (tail[i] == '\n') tail[i] = (byte)'n'; // A ends in an unfinished line
            a = [.. a, .. tail];

            // A in small pieces, as a UART delivers it; then wait until the child has read all of it.
            for (int i = 0; i < a.Length; i += 61) await uart.SendAsync(a.AsMemory(i, Math.Min(61, a.Length - i)), cts.Token);
            await WaitUntilAsync(() => Unread(uart) == 0, "the child read A", cts.Token);
            // One more byte read means one more read(2) after A's last: A's writes were made before it.
            await uart.SendAsync(new byte[] { 0x42 }, cts.Token);
            await WaitUntilAsync(() => Unread(uart) == 0, "the child read the byte after A", cts.Token);
            farm.Kill(); // SIGKILL: no finally block, no flush, no dispose runs in the child
            await farm.WaitForExitAsync(cts.Token);

            var got = await File.ReadAllBytesAsync(raw, cts.Token);
            TestContext.Out.WriteLine($"fed {a.Length} + 1 bytes; console.raw has {got.Length} after SIGKILL");
            Assert.That(got.Length, Is.InRange(a.Length, a.Length + 1), "everything read before the last read is on disk");
            Assert.That(got.AsSpan(0, a.Length).SequenceEqual(a), "console.raw is exactly what was fed");
            var logged = (await File.ReadAllLinesAsync(log, cts.Token)).Select(l => Stamp().Replace(l, "")).ToList();
            Assert.That(logged, Is.EqualTo(lines), "console.log has every complete line, in order");
        }
        finally
        {
            if (!farm.HasExited) farm.Kill();
            Directory.Delete(dir, true);
        }
    }

    static async Task WaitUntilAsync(Func<bool> done, string what, CancellationToken ct)
    {
        while (!done())
        {
            if (ct.IsCancellationRequested) Assert.Fail($"timed out waiting for {what}");
            await Task.Delay(5, CancellationToken.None);
        }
    }
}
