using System.Runtime.InteropServices;

namespace Farm.Serial;

/// <summary>
/// The few libc calls a tty, a console socket or a console FIFO needs that .NET does not expose: non-blocking
/// open, mkfifo, termios, epoll and per-call non-blocking recv/send. Constants are Linux's generic values, identical on x86_64 and arm64.
/// </summary>
static unsafe partial class LibC
{
    public const int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_NOCTTY = 0x100, O_NONBLOCK = 0x800, O_CLOEXEC = 0x80000;
    public const int EINTR = 4, EIO = 5, EAGAIN = 11;
    public const int EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2, EPOLL_CTL_MOD = 3;
    public const uint EPOLLIN = 0x1, EPOLLOUT = 0x4, EPOLLERR = 0x8, EPOLLHUP = 0x10, EPOLLONESHOT = 1u << 30;
    public const int TCSANOW = 0, TCIOFLUSH = 2;
    public const int ECONNRESET = 104, EPIPE = 32;
    public const int MSG_DONTWAIT = 0x40, MSG_NOSIGNAL = 0x4000;

    // struct termios (glibc): c_iflag, c_oflag, c_cflag, c_lflag, c_line, c_cc[32], c_ispeed, c_ospeed.
    public const int TermiosSize = 256; // generous: glibc's is 60 bytes
    public const int IFlag = 0, OFlag = 4, CFlag = 8, LFlag = 12;
    public const uint IXON = 0x400, IXOFF = 0x1000, IXANY = 0x800;
    public const uint CSIZE = 0x30, CS5 = 0x0, CS6 = 0x10, CS7 = 0x20, CS8 = 0x30, CSTOPB = 0x40, CREAD = 0x80,
        PARENB = 0x100, PARODD = 0x200, HUPCL = 0x400, CLOCAL = 0x800, CRTSCTS = 0x80000000;

    [DllImport("libc", SetLastError = true, EntryPoint = "open")]
    public static extern int Open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", SetLastError = true, EntryPoint = "mkfifo")]
    public static extern int MkFifo([MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint mode);

    [DllImport("libc", SetLastError = true, EntryPoint = "close")]
    public static extern int Close(int fd);

    [DllImport("libc", SetLastError = true, EntryPoint = "read")]
    public static extern nint Read(int fd, byte* buffer, nint count);

    [DllImport("libc", SetLastError = true, EntryPoint = "write")]
    public static extern nint Write(int fd, byte* buffer, nint count);

    [DllImport("libc", SetLastError = true, EntryPoint = "recv")]
    public static extern nint Recv(int fd, byte* buffer, nint count, int flags);

    [DllImport("libc", SetLastError = true, EntryPoint = "send")]
    public static extern nint Send(int fd, byte* buffer, nint count, int flags);

    [DllImport("libc", SetLastError = true, EntryPoint = "isatty")]
    public static extern int IsATty(int fd);

    [DllImport("libc", SetLastError = true, EntryPoint = "tcgetattr")]
    public static extern int TcGetAttr(int fd, byte* termios);

    [DllImport("libc", SetLastError = true, EntryPoint = "tcsetattr")]
    public static extern int TcSetAttr(int fd, int when, byte* termios);

    [DllImport("libc", SetLastError = true, EntryPoint = "tcflush")]
    public static extern int TcFlush(int fd, int queue);

    [DllImport("libc", EntryPoint = "cfmakeraw")]
    public static extern void CfMakeRaw(byte* termios);

    [DllImport("libc", SetLastError = true, EntryPoint = "cfsetspeed")]
    public static extern int CfSetSpeed(byte* termios, uint speed);

    [DllImport("libc", SetLastError = true, EntryPoint = "epoll_create1")]
    public static extern int EpollCreate1(int flags);

    [DllImport("libc", SetLastError = true, EntryPoint = "epoll_ctl")]
    public static extern int EpollCtl(int epfd, int op, int fd, byte* ev);

    [DllImport("libc", SetLastError = true, EntryPoint = "epoll_wait")]
    public static extern int EpollWait(int epfd, byte* events, int max, int timeoutMs);

    [DllImport("libc", SetLastError = true, EntryPoint = "eventfd")]
    public static extern int EventFd(uint initval, int flags);

    [DllImport("libc", SetLastError = true, EntryPoint = "strerror")]
    static extern nint StrError(int errno);

    public static string Describe(int errno) => $"{Marshal.PtrToStringUTF8(StrError(errno))} (errno {errno})";

    /// <summary>Speed constants of termios (Bnnn): only these rates exist for cfsetspeed.</summary>
    public static uint? SpeedConstant(int baud) => baud switch
    {
        1200 => 0x9, 2400 => 0xB, 4800 => 0xC, 9600 => 0xD, 19200 => 0xE, 38400 => 0xF,
        57600 => 0x1001, 115200 => 0x1002, 230400 => 0x1003, 460800 => 0x1004, 500000 => 0x1005,
        576000 => 0x1006, 921600 => 0x1007, 1000000 => 0x1008, 1152000 => 0x1009, 1500000 => 0x100A,
        2000000 => 0x100B, 2500000 => 0x100C, 3000000 => 0x100D, 3500000 => 0x100E, 4000000 => 0x100F,
        _ => null,
    };
}
