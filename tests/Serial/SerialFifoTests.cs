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
        await QemuConsoleRoundTrip.RunAsync(broker,
            send: b => qemuOut.WriteAsync(b),
            receive: b => qemuIn.ReadAsync(b),
            // QEMU exits: it was the last writer of PATH.out, so the console reads end of stream.
            hangUp: async () => { await qemuOut.DisposeAsync(); await qemuIn.DisposeAsync(); });
    }

    [Test]
    public void ConnectingBeforeQemuOpenedItsInputNamesTheFifo()
    {
        using var fifo = SerialFifo.Create();
        var e = Assert.Throws<InfrastructureException>(() => fifo.Connect("qemu"));
        Assert.That(e!.Message, Does.Contain(fifo.Path + ".in"));
    }
}
