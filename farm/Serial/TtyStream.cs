using System.Runtime.InteropServices;

namespace Farm.Serial;

internal enum Parity { None, Even, Odd }

internal enum FlowControl { None, RtsCts, XonXoff }

/// <summary>A serial line's settings, as a board file states them (<c>115200 8N1</c> by default).</summary>
internal sealed record SerialSettings(int Baud = 115200, int DataBits = 8, Parity Parity = Parity.None, int StopBits = 1,
    FlowControl Flow = FlowControl.None)
{
    public static SerialSettings Default { get; } = new();

    /// <summary>Why these settings are impossible, or null.</summary>
    public string? Problem() =>
        LibC.SpeedConstant(Baud) is null ? $"baud {Baud} is not a standard rate (e.g. 9600, 115200, 1500000)"
        : DataBits is < 5 or > 8 ? $"data bits {DataBits} must be 5..8"
        : StopBits is not (1 or 2) ? $"stop bits {StopBits} must be 1 or 2"
        : null;

    public override string ToString() =>
        $"{Baud} {DataBits}{Parity.ToString()[0]}{StopBits}{(Flow == FlowControl.None ? "" : " " + Flow.ToString().ToLowerInvariant())}";
}

/// <summary>
/// A serial device (a USB-UART's /dev/ttyUSB0, or a PTY) as a non-blocking stream: reads and
/// writes never block a thread; waiting is done by <see cref="TtyReactor"/>'s single epoll loop.
/// The line is put in raw mode (no echo, no CR/LF translation, no signals) at the given settings,
/// so the console transcript holds exactly the bytes the board sent.
/// </summary>
internal sealed class TtyStream : ReactorStream
{
    TtyStream(string path, int fd) : base(fd, $"serial {path}") => Path = path;

    public string Path { get; }

    public static TtyStream Open(string path, SerialSettings? settings = null)
    {
        settings ??= SerialSettings.Default;
        if (settings.Problem() is { } problem) throw new ConfigurationException($"serial {path}: {problem}");
        int fd = LibC.Open(path, LibC.O_RDWR | LibC.O_NOCTTY | LibC.O_NONBLOCK | LibC.O_CLOEXEC);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new InfrastructureException($"serial {path}: cannot open: {LibC.Describe(errno)}" +
                (errno == 13 ? " (add the Farm user to the dialout group)" : errno == 16 ? " (another program holds the port)" : ""));
        }
        try
        {
            Configure(path, fd, settings);
        }
        catch
        {
            LibC.Close(fd);
            throw;
        }
        return new TtyStream(path, fd);
    }

    static unsafe void Configure(string path, int fd, SerialSettings s)
    {
        if (LibC.IsATty(fd) != 1) throw new ConfigurationException($"serial {path}: not a tty");
        byte* t = stackalloc byte[LibC.TermiosSize];
        if (LibC.TcGetAttr(fd, t) < 0) throw Fail(path, "tcgetattr");
        LibC.CfMakeRaw(t);
        uint c = *(uint*)(t + LibC.CFlag) & ~(LibC.CSIZE | LibC.CSTOPB | LibC.PARENB | LibC.PARODD | LibC.CRTSCTS | LibC.HUPCL);
        c |= LibC.CREAD | LibC.CLOCAL | s.DataBits switch { 5 => LibC.CS5, 6 => LibC.CS6, 7 => LibC.CS7, _ => LibC.CS8 };
        if (s.StopBits == 2) c |= LibC.CSTOPB;
        if (s.Parity != Parity.None) c |= LibC.PARENB | (s.Parity == Parity.Odd ? LibC.PARODD : 0);
        if (s.Flow == FlowControl.RtsCts) c |= LibC.CRTSCTS;
        *(uint*)(t + LibC.CFlag) = c;
        uint i = *(uint*)(t + LibC.IFlag) & ~(LibC.IXON | LibC.IXOFF | LibC.IXANY);
        if (s.Flow == FlowControl.XonXoff) i |= LibC.IXON | LibC.IXOFF;
        *(uint*)(t + LibC.IFlag) = i;
        if (LibC.CfSetSpeed(t, LibC.SpeedConstant(s.Baud)!.Value) < 0) throw Fail(path, "cfsetspeed");
        if (LibC.TcSetAttr(fd, LibC.TCSANOW, t) < 0) throw Fail(path, "tcsetattr");
    }

    static InfrastructureException Fail(string path, string call) =>
        new($"serial {path}: {call}: {LibC.Describe(Marshal.GetLastPInvokeError())}");

    // A PTY whose other side closed, or a USB-UART that was unplugged.
    protected override bool IsHangUp(int errno) => errno == LibC.EIO;

    protected override unsafe nint ReadSome(int fd, byte* buffer, int count) => LibC.Read(fd, buffer, count);

    protected override unsafe nint WriteSome(int fd, byte* buffer, int count) => LibC.Write(fd, buffer, count);

    protected override void Close(int fd) => LibC.Close(fd);
}
