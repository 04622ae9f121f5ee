using System.Security.Cryptography;
using Farm.Serial;

namespace Farm.Scenarios;

/// <summary>Real ttys: PTY pairs joined by socat, opened by Farm as it opens a USB-UART.</summary>
[Category("Serial")]
public class SerialScenarios
{
    /// <summary>
    /// 64 consoles at once, each fed at 115200 baud (11,520 bytes/s) for 4 s plus a burst at full
    /// PTY speed: every byte of every console reaches its transcript, in order, 8-bit clean.
    /// </summary>
    [Test]
    public async Task SixtyFourConsolesAt115200LoseNoByte()
    {
        const int Consoles = 64, BytesPerTick = 1152, Ticks = 40, Burst = 256 * 1024;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var dir = ScenarioArtifacts.NewRunDirectory();
        var cables = await Task.WhenAll(Enumerable.Range(0, Consoles).Select(i => NullModem.CreateAsync(dir, $"uart{i}", cts.Token)));
        try
        {
            var boards = cables.Select((c, i) =>
            {
                var broker = new ConsoleBroker($"uart{i}", TtyStream.Open(c.B));
                var transcript = ConsoleTranscript.Start(broker, Path.Combine(dir, $"uart{i}.log"), Path.Combine(dir, $"uart{i}.raw"));
                broker.Start();
                return (broker, transcript, uart: TtyStream.Open(c.A));
            }).ToList();

            // What each "board" sends: text lines, then every byte value (raw mode must not translate CR/LF or eat ^C/^S).
            var payloads = Enumerable.Range(0, Consoles).Select(i =>
            {
                var rng = new Random(i);
                var text = string.Concat(Enumerable.Range(0, 100_000).Select(n => $"[uart{i}] line {n} {new string('x', rng.Next(0, 60))}\r\n"));
                var bytes = System.Text.Encoding.ASCII.GetBytes(text).Take(BytesPerTick * Ticks).ToList();
                var burst = new byte[Burst];
                rng.NextBytes(burst);
                return bytes.Concat(Enumerable.Range(0, 256).Select(b => (byte)b)).Concat(burst).ToArray();
            }).ToList();

            var writers = boards.Select(async (b, i) =>
            {
                var p = payloads[i];
                using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
                int pos = 0;
                for (int t = 0; t < Ticks; t++, pos += BytesPerTick)
                {
                    await b.uart.WriteAsync(p.AsMemory(pos, BytesPerTick), cts.Token);
                    await tick.WaitForNextTickAsync(cts.Token);
                }
                await b.uart.WriteAsync(p.AsMemory(pos), cts.Token);
            });
            await Task.WhenAll(writers);

            // Everything written must arrive; then closing the sending end ends each console.
            foreach (var (b, i) in boards.Select((b, i) => (b, i)))
            {
                while (b.broker.BytesReceived < payloads[i].Length && !b.broker.IsClosed)
                    await Task.Delay(20, cts.Token);
                b.uart.Dispose();
            }
            foreach (var b in boards)
            {
                await b.broker.DisposeAsync();
                await b.transcript.DisposeAsync();
            }

            var lost = new List<string>();
            for (int i = 0; i < Consoles; i++)
            {
                var got = await File.ReadAllBytesAsync(Path.Combine(dir, $"uart{i}.raw"), cts.Token);
                if (!got.AsSpan().SequenceEqual(payloads[i]))
                    lost.Add($"uart{i}: sent {payloads[i].Length} bytes (sha256 {Convert.ToHexString(SHA256.HashData(payloads[i]))[..12]}), " +
                             $"transcript has {got.Length} (sha256 {Convert.ToHexString(SHA256.HashData(got))[..12]})");
            }
            TestContext.Out.WriteLine($"{Consoles} consoles, {payloads.Sum(p => (long)p.Length):N0} bytes in all");
            Assert.That(lost, Is.Empty, "consoles that lost or changed bytes");
            var lines = await File.ReadAllLinesAsync(Path.Combine(dir, "uart7.log"), cts.Token);
            Assert.That(lines[0], Does.EndWith("[uart7] line 0 " + new string('x', new Random(7).Next(0, 60))));
        }
        finally
        {
            foreach (var c in cables) await c.DisposeAsync();
        }
    }

    /// <summary>
    /// A real <c>farm capture</c> process, SIGKILLed: everything it had read is in its transcripts.
    /// The first part ends mid-line and is far smaller than any write buffer, so a transcript that
    /// waited for a full buffer, a newline or a clean exit would not have it on disk; it must get
    /// there while Farm runs (within one flush interval). The second part is sent and Farm killed
    /// at once: the transcript may hold any prefix of it, never less than the first part, never a
    /// changed byte.
    /// </summary>
    [Test]
    public async Task ASigkilledFarmLosesNoMoreThanItsLastFlushInterval()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var dir = ScenarioArtifacts.NewRunDirectory();
        await using var cable = await NullModem.CreateAsync(dir, "kill", cts.Token);
        var out_ = Path.Combine(dir, "capture");
        var psi = new System.Diagnostics.ProcessStartInfo(FarmCli.Path, ["capture", cable.B, "--out", out_])
            { RedirectStandardOutput = true, RedirectStandardError = true };
        using var farm = System.Diagnostics.Process.Start(psi)!;
        string raw = Path.Combine(out_, "kill-b.raw"), log = Path.Combine(out_, "kill-b.log");
        try
        {
            // The transcripts are created after the port is open: from then on no byte is missed.
            await WaitUntilAsync(() => File.Exists(raw) && File.Exists(log), "farm capture opened the port", cts.Token);
            var rng = new Random(16);
            var text = string.Concat(Enumerable.Range(0, 200).Select(n => $"(XEN) line {n} {new string('v', rng.Next(0, 40))}\r\n"));
            var first = System.Text.Encoding.ASCII.GetBytes(text + "root@farm:~# ").Concat(Enumerable.Range(0, 256).Select(b => (byte)b)).ToArray();
            var second = new byte[8192];
            rng.NextBytes(second);
            using var uart = TtyStream.Open(cable.A);
            await uart.WriteAsync(first, cts.Token);
            await WaitUntilAsync(() => new FileInfo(raw).Length >= first.Length, $"{first.Length} bytes in {raw} while farm runs", cts.Token);
            await WaitUntilAsync(() => File.ReadAllLines(log).Length >= 200, $"200 lines in {log} while farm runs", cts.Token);

            await uart.WriteAsync(second, cts.Token);
            farm.Kill(); // SIGKILL: no finally block, no flush, no dispose runs in Farm
            await farm.WaitForExitAsync(cts.Token);

            var sent = first.Concat(second).ToArray();
            var got = await File.ReadAllBytesAsync(raw, cts.Token);
            TestContext.Out.WriteLine($"sent {first.Length} + {second.Length} bytes; console.raw has {got.Length} after SIGKILL");
            Assert.That(got.Length, Is.InRange(first.Length, sent.Length));
            Assert.That(got, Is.EqualTo(sent.Take(got.Length).ToArray()), "console.raw is exactly a prefix of what the board sent");
            var lines = (await File.ReadAllLinesAsync(log, cts.Token)).Select(l => System.Text.RegularExpressions.Regex.Replace(l, @"^\[[^\]]+\] ", "")).ToList();
            Assert.That(lines.Take(200), Is.EqualTo(text.Split("\r\n").Take(200)), "console.log has every complete line, in order");
        }
        finally
        {
            if (!farm.HasExited) farm.Kill();
        }
    }

    static async Task WaitUntilAsync(Func<bool> done, string what, CancellationToken ct)
    {
        while (!done())
        {
            if (ct.IsCancellationRequested) Assert.Fail($"timed out waiting for {what}");
            await Task.Delay(20, CancellationToken.None);
        }
    }

    [Test]
    public async Task ConsoleEndsWithAReasonWhenTheCableIsPulled()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var dir = ScenarioArtifacts.NewRunDirectory();
        var cable = await NullModem.CreateAsync(dir, "uart", cts.Token);
        await using var broker = new ConsoleBroker("uart", TtyStream.Open(cable.B));
        broker.Start();
        using (var uart = TtyStream.Open(cable.A))
            await uart.WriteAsync("U-Boot 2023.01\r\nHit any key to stop autoboot"u8.ToArray(), cts.Token);
        var cursor = broker.Cursor();
        await cursor.ExpectAsync(new System.Text.RegularExpressions.Regex("autoboot"), cts.Token, partialLine: true);
        await cable.DisposeAsync(); // socat gone: both PTYs hang up
        var e = await Assert.ThrowsAsync<InfrastructureException>(() =>
            cursor.ExpectAsync(new System.Text.RegularExpressions.Regex("=> $"), cts.Token, partialLine: true));
        Assert.That(e!.Message, Does.Contain("console uart closed"));
        Assert.That(e.Evidence, Does.Contain("Hit any key to stop autoboot"), "the tail is kept as evidence");
    }

    [Test]
    public void OpeningAMissingPortNamesIt()
    {
        var e = Assert.Throws<InfrastructureException>(() => TtyStream.Open("/dev/ttyFARM-missing"));
        Assert.That(e!.Message, Does.Contain("/dev/ttyFARM-missing").And.Contain("No such file"));
        var c = Assert.Throws<ConfigurationException>(() => TtyStream.Open("/dev/null", new SerialSettings(Baud: 115201)));
        Assert.That(c!.Message, Does.Contain("baud 115201"));
        var t = Assert.Throws<ConfigurationException>(() => TtyStream.Open("/dev/null"));
        Assert.That(t!.Message, Does.Contain("/dev/null: not a tty"));
    }
}
