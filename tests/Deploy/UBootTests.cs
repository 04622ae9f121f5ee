using System.IO.Pipelines;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using Farm.Deploy;
using Farm.Serial;

namespace Farm.Tests.Deploy;

public class UBootTests
{
    static UBootBoot XenBoot(string linux = "console=hvc0 rdinit=/init farm.sshkey=ecdsa-sha2-nistp256:AAAA+/=") => new(
        true, "xen", "vmlinuz", "initrd.cpio.gz", "console=dtuart dtuart=/pl011@9000000 dom0_mem=1024M", linux,
        "10.0.2.2", "10.0.2.15", UBootLayout.QemuVirt, Interface: "virtio-net#31");

    [Test]
    public void XenIsBootedWithDom0AsMultibootModules() => Assert.That(UBootScript.For(XenBoot()), Is.EqualTo(new[]
    {
        "setenv autoload no; setenv ethact virtio-net#31; setenv ethrotate no; setenv ipaddr 10.0.2.15; setenv serverip 10.0.2.2; setenv netmask 255.255.255.0",
        "tftpboot 0x40400000 xen",
        "tftpboot 0x49000000 vmlinuz; setenv farm_ksize ${filesize}",
        "tftpboot 0x50000000 initrd.cpio.gz; setenv farm_isize ${filesize}",
        "fdt addr ${fdtcontroladdr}; fdt move ${fdtcontroladdr} 0x44000000 0x100000; fdt addr 0x44000000; fdt resize 4096",
        "fdt set /chosen \\#address-cells <2>; fdt set /chosen \\#size-cells <2>; fdt set /chosen xen,xen-bootargs \"console=dtuart dtuart=/pl011@9000000 dom0_mem=1024M\"",
        "fdt mknode /chosen module@49000000; fdt set /chosen/module@49000000 compatible \"multiboot,kernel\" \"multiboot,module\"; fdt set /chosen/module@49000000 reg <0x0 0x49000000 0x0 0x${farm_ksize}>; fdt set /chosen/module@49000000 bootargs \"console=hvc0 rdinit=/init farm.sshkey=ecdsa-sha2-nistp256:AAAA+/=\"",
        "fdt mknode /chosen module@50000000; fdt set /chosen/module@50000000 compatible \"multiboot,ramdisk\" \"multiboot,module\"; fdt set /chosen/module@50000000 reg <0x0 0x50000000 0x0 0x${farm_isize}>",
        "booti 0x40400000 - 0x44000000",
    }));

    [Test]
    public void NativeLinuxIsBootedDirectly()
    {
        var cmds = UBootScript.For(XenBoot("console=ttyAMA0 rdinit=/init") with { Xen = false, Interface = null });
        Assert.That(cmds, Has.None.Contains("xen"));
        Assert.That(cmds[^2], Is.EqualTo("fdt set /chosen bootargs \"console=ttyAMA0 rdinit=/init\""));
        Assert.That(cmds[^1], Is.EqualTo("booti 0x49000000 0x50000000:${farm_isize} 0x44000000"));
    }

    [Test]
    public void CommandLineThatCannotBeQuotedIsRefused() =>
        Assert.That(Assert.Throws<ConfigurationException>(() => UBootScript.For(XenBoot("init=\"/x\"")))!.Message, Does.Contain("cannot contain"));

    /// <summary>A scripted U-Boot on a console: echoes each typed command, answers it, prints its prompt.</summary>
    sealed class FakeUBoot : IConsole
    {
        readonly ConsoleBroker _broker;
        readonly Stream _out;
        readonly Func<string, string> _answer;
        readonly StringBuilder _typing = new();
        public List<string> Typed { get; } = [];

        public FakeUBoot(Func<string, string> answer)
        {
            var pipe = new Pipe();
            _out = pipe.Writer.AsStream();
            _broker = new ConsoleBroker("board", new PipeDuplex(pipe.Reader.AsStream()));
            _broker.Start();
            _answer = answer;
        }

        public Task PowerOnAsync() => Say("\r\nU-Boot 2023.01+dfsg-2 (Jan 01 2024)\r\nHit any key to stop autoboot:  2 ");

        async Task Say(string s) { await _out.WriteAsync(Encoding.ASCII.GetBytes(s)); await _out.FlushAsync(); }

        public async Task WriteAsync(string text, CancellationToken ct)
        {
            if (text == " ") { await Say("\b\b\b 0 \r\n=> "); return; }
            _typing.Append(text);
            if (!text.EndsWith('\r')) return;
            var cmd = _typing.ToString().TrimEnd('\r');
            _typing.Clear();
            Typed.Add(cmd);
            await Say(cmd + "\r\n" + _answer(cmd));
        }

        public ChannelReader<ConsoleLine> Subscribe(bool replay = false) => _broker.Subscribe(replay);
        public IReadOnlyList<string> Tail(int count) => _broker.Tail(count);
        public ConsoleCursor Cursor(bool fromStart = true) => _broker.Cursor(fromStart);
        IDisposable IConsole.Observe(IConsoleObserver observer) => ((IConsole)_broker).Observe(observer);

        sealed class PipeDuplex(Stream input) : Stream
        {
            public override ValueTask<int> ReadAsync(Memory<byte> b, CancellationToken ct = default) => input.ReadAsync(b, ct);
            public override Task<int> ReadAsync(byte[] b, int o, int c, CancellationToken ct) => input.ReadAsync(b, o, c, ct);
            public override bool CanRead => true; public override bool CanWrite => true; public override bool CanSeek => false;
            public override long Length => 0; public override long Position { get; set; }
            public override void Flush() { }
            public override int Read(byte[] b, int o, int c) => input.Read(b, o, c);
            public override void Write(byte[] b, int o, int c) { }
            public override long Seek(long o, SeekOrigin s) => throw new NotSupportedException();
            public override void SetLength(long v) => throw new NotSupportedException();
        }
    }

    static readonly Regex Prompt = new("=> $");

    static async Task<FakeUBoot> BootAsync(Func<string, string> answer, Action<Exception?> check)
    {
        var uboot = new FakeUBoot(answer);
        var cursor = uboot.Cursor();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var run = UBootDriver.RunAsync(uboot, cursor, UBootScript.For(XenBoot()), Prompt, cts.Token);
        await uboot.PowerOnAsync();
        Exception? error = null;
        try { await run; } catch (Exception e) { error = e; }
        check(error);
        return uboot;
    }

    static string Answer(string cmd) => cmd.StartsWith("booti") ? "## Flattened Device Tree blob at 44000000\r\nStarting kernel ...\r\n\r\n"
        : cmd.StartsWith("tftpboot") ? "Using virtio-net#31 device\r\nBytes transferred = 983048 (f0008 hex)\r\n=> " : "=> ";

    [Test]
    public async Task DriverStopsAutobootTypesEveryCommandAndSeesTheKernelStart()
    {
        var uboot = await BootAsync(Answer, e => Assert.That(e, Is.Null));
        Assert.That(uboot.Typed, Is.EqualTo(UBootScript.For(XenBoot())));
    }

    [Test]
    public async Task TftpFailureIsALabFaultNamingTheCommandAndUBootsWords()
    {
        var uboot = await BootAsync(c => c.Contains("initrd") ? "TFTP error: 'File not found' (1)\r\nNot retrying...\r\n=> " : Answer(c), e =>
        {
            Assert.That(e, Is.TypeOf<InfrastructureException>());
            Assert.That(e!.Message, Is.EqualTo("U-Boot: 'tftpboot 0x50000000 initrd.cpio.gz; setenv farm_isize ${filesize}' failed: TFTP error: 'File not found' (1)"));
            Assert.That(((FarmException)e).Evidence, Does.Contain("TFTP error: 'File not found' (1)"));
        });
        Assert.That(uboot.Typed, Has.Count.EqualTo(4), "stops at the failing command");
    }

    [Test]
    public async Task BadDeviceTreeOrUnknownCommandIsAnError()
    {
        await BootAsync(c => c.StartsWith("fdt mknode") ? "libfdt fdt_setprop(): FDT_ERR_NOSPACE\r\n=> " : Answer(c), e =>
        {
            Assert.That(e, Is.TypeOf<ConfigurationException>());
            Assert.That(e!.Message, Does.EndWith("failed: libfdt fdt_setprop(): FDT_ERR_NOSPACE"));
        });
        await BootAsync(c => c.StartsWith("booti") ? "Bad Linux ARM64 Image magic!\r\n=> " : Answer(c), e =>
            Assert.That(e!.Message, Is.EqualTo("U-Boot: 'booti 0x40400000 - 0x44000000' failed: Bad Linux ARM64 Image magic!")));
        await BootAsync(c => c.StartsWith("booti") ? "=> " : Answer(c), e =>
            Assert.That(e!.Message, Does.EndWith("failed: U-Boot returned to its prompt")));
    }
}
