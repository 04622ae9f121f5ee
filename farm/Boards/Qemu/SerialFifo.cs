using System.Runtime.InteropServices;
using Farm.Serial;

namespace Farm.Boards.Qemu;

/// <summary>
/// The FIFO pair QEMU's serial chardev uses (<c>-chardev pipe,path=PATH</c>: QEMU opens
/// <c>PATH.in</c> and <c>PATH.out</c>, each O_RDWR), in a private directory of its own under the
/// temporary directory (mode 0700, removed on dispose; never in the run directory, where a
/// FIFO would hang whatever copies the artifacts).
/// <para>
/// Farm opens <c>PATH.out</c> for reading before QEMU starts, so whatever QEMU writes before
/// <see cref="Connect"/> waits in the pipe; it is read only after Connect, when QEMU holds it open.
/// QEMU is its only writer, so QEMU's exit ends the console (end of stream) as a closed socket did.
/// </para>
/// </summary>
internal sealed class SerialFifo : IDisposable
{
    readonly string _directory;
    // The read end until Connect hands it to the console (or Dispose closes it); -1 after.
    int _out = -1;

    SerialFifo(string directory) => _directory = directory;

    /// <summary>The chardev's <c>path=</c>: QEMU appends <c>.in</c> and <c>.out</c>.</summary>
    public string Path => System.IO.Path.Combine(_directory, "serial");

    public static SerialFifo Create()
    {
        var fifo = new SerialFifo(Directory.CreateTempSubdirectory("farm-").FullName);
        try
        {
            MakeFifo(fifo.Path + ".in");
            MakeFifo(fifo.Path + ".out");
            fifo._out = OpenFifo(fifo.Path + ".out", LibC.O_RDONLY);
            return fifo;
        }
        catch
        {
            fifo.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Once QEMU has opened both FIFOs (it creates chardevs in command-line order, so by the time its
    /// later QMP socket has connected): opens QEMU's input and hands both ends to the console.
    /// </summary>
    public ConsolePipeStream Connect(string name)
    {
        if (_out < 0) throw new InvalidOperationException("the serial FIFO is already connected or disposed");
        // O_WRONLY|O_NONBLOCK fails (ENXIO) unless a reader has it open: QEMU, if it opened the chardev.
        int input = OpenFifo(Path + ".in", LibC.O_WRONLY);
        var stream = new ConsolePipeStream(_out, input, name);
        _out = -1;
        return stream;
    }

    static void MakeFifo(string path)
    {
        if (LibC.MkFifo(path, 0x180 /* 0600 */) != 0)
            throw new InfrastructureException($"cannot make the serial FIFO {path}: {LibC.Describe(Marshal.GetLastPInvokeError())}");
    }

    static int OpenFifo(string path, int mode)
    {
        int fd = LibC.Open(path, mode | LibC.O_NONBLOCK | LibC.O_CLOEXEC);
        if (fd < 0)
            throw new InfrastructureException($"cannot open the serial FIFO {path}: {LibC.Describe(Marshal.GetLastPInvokeError())}");
        return fd;
    }

    public void Dispose()
    {
        if (_out >= 0) LibC.Close(_out);
        _out = -1;
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Only two FIFOs in a temporary directory: nothing recorded is lost.
        }
    }
}
