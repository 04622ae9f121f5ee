using System.Text;
using System.Text.RegularExpressions;
using Farm.Boards.Qemu;
using Farm.Serial;
using NUnit.Framework;

namespace Farm.Tests.Serial;

/// <summary>
/// QEMU's serial chardev as a FIFO pair, as QemuMachine wires it. The test plays QEMU the way
/// <c>-chardev pipe</c> does: it opens PATH.in and PATH.out O_RDWR and writes the console a byte per call.
/// </summary>
public class SerialFifoTests
{
    [Test]
    public async Task OneByteWritesArriveWholeAndInOrderAndWritesReachQemuAndQemuExitEndsTheConsole()
    {
        var fifo = SerialFifo.Create();
        var dir = Path.GetDirectoryName(fifo.Path)!;
        var qemuOut = new FileStream(fifo.Path + ".out", FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, bufferSize: 0);
        var qemuIn = new FileStream(fifo.Path + ".in", FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, bufferSize: 0);
        var broker = new ConsoleBroker("qemu", fifo.Connect("qemu"));
        fifo.Dispose();
        Assert.That(Directory.Exists(dir), Is.False, "the FIFOs' directory goes once both ends are open");
        var transcriptDir = Directory.CreateTempSubdirectory("farm-fifo-test").FullName;
        var transcript = ConsoleTranscript.Start(broker, Path.Combine(transcriptDir, "console.log"), Path.Combine(transcriptDir, "console.raw"));
        broker.Start();

        var text = string.Concat(Enumerable.Range(0, 300).Select(i => $"(XEN) line {i}\r\n")) + "root@farm:~# ";
        var bytes = Encoding.ASCII.GetBytes(text);
        var prompt = broker.Cursor().ExpectAsync(new Regex("root@farm:~# "), CancellationToken.None, partialLine: true);
        for (int i = 0; i < bytes.Length; i++) await qemuOut.WriteAsync(bytes.AsMemory(i, 1));
        Assert.That((await prompt).LineIndex, Is.EqualTo(300));

        await broker.WriteAsync("xl info\n", CancellationToken.None);
        var got = new byte[8];
        int n = 0;
        while (n < got.Length) n += await qemuIn.ReadAsync(got.AsMemory(n));
        Assert.That(Encoding.ASCII.GetString(got), Is.EqualTo("xl info\n"));

        // QEMU exits: it was the last writer of PATH.out, so the console reads end of stream.
        await qemuOut.DisposeAsync();
        await qemuIn.DisposeAsync();
        await broker.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        await transcript.DisposeAsync();
        Assert.That(broker.CloseReason, Is.EqualTo("end of stream"));
        Assert.That(await File.ReadAllBytesAsync(Path.Combine(transcriptDir, "console.raw")), Is.EqualTo(bytes));
        await broker.DisposeAsync();
        Directory.Delete(transcriptDir, true);
    }

    [Test]
    public void ConnectingBeforeQemuOpenedItsInputNamesTheFifo()
    {
        using var fifo = SerialFifo.Create();
        var e = Assert.Throws<InfrastructureException>(() => fifo.Connect("qemu"));
        Assert.That(e!.Message, Does.Contain(fifo.Path + ".in"));
    }
}
