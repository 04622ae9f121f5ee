using System.Globalization;
using System.Text.RegularExpressions;

namespace Farm.Deploy;

/// <summary>
/// Where a board type's U-Boot puts each image (data in the board type; these defaults fit
/// QEMU's virt machine: RAM from 0x40000000). The device tree is U-Boot's own (<c>fdtcontroladdr</c>,
/// which on QEMU is the machine's generated tree), copied to <see cref="Fdt"/> and extended.
/// </summary>
internal sealed record UBootLayout(ulong Xen = 0x40400000, ulong Kernel = 0x49000000, ulong Initrd = 0x50000000, ulong Fdt = 0x44000000)
{
    public static UBootLayout QemuVirt { get; } = new();
}

/// <summary>What U-Boot loads over TFTP and how it boots it: the files are names in the TFTP root;
/// <c>Interface</c> is U-Boot's name of the NIC to use (<c>ethact</c>) when it is not the first.</summary>
internal sealed record UBootBoot(
    bool Xen,
    string XenFile,
    string KernelFile,
    string InitrdFile,
    string? XenCmdline,
    string LinuxCmdline,
    string ServerIp,
    string IpAddress,
    UBootLayout Layout,
    string? Interface = null);

/// <summary>
/// The U-Boot commands that boot a job: set the network, <c>tftpboot</c> each image, and either
/// describe dom0's kernel and initramfs to Xen as <c>multiboot,module</c> nodes under
/// <c>/chosen</c> (Xen's docs/misc/arm/device-tree/booting.txt) and <c>booti</c> Xen, or
/// <c>booti</c> Linux directly. Sizes come from U-Boot's <c>filesize</c> after each load.
/// </summary>
internal static class UBootScript
{
    public static IReadOnlyList<string> For(UBootBoot b)
    {
        // Each value is typed into U-Boot's shell: a newline would end the command, ';' start another, '$' expand a variable.
        b = b with
        {
            XenFile = b.Xen ? Word(b.XenFile, "the Xen image's name") : b.XenFile, KernelFile = Word(b.KernelFile, "the kernel image's name"),
            InitrdFile = Word(b.InitrdFile, "the initramfs's name"), ServerIp = Word(b.ServerIp, "server-ip"), IpAddress = Word(b.IpAddress, "ip"),
            Interface = b.Interface is null ? null : Word(b.Interface, "the network interface"),
        };
        var l = b.Layout;
        var cmds = new List<string>
        {
            $"setenv autoload no; {(b.Interface is null ? "" : $"setenv ethact {b.Interface}; setenv ethrotate no; ")}setenv ipaddr {b.IpAddress}; setenv serverip {b.ServerIp}; setenv netmask 255.255.255.0",
            $"tftpboot {Hex(l.Kernel)} {b.KernelFile}; setenv farm_ksize ${{filesize}}",
            $"tftpboot {Hex(l.Initrd)} {b.InitrdFile}; setenv farm_isize ${{filesize}}",
            $"fdt addr ${{fdtcontroladdr}}; fdt move ${{fdtcontroladdr}} {Hex(l.Fdt)} 0x100000; fdt addr {Hex(l.Fdt)}; fdt resize 4096",
        };
        if (!b.Xen)
        {
            cmds.Add($"fdt set /chosen bootargs {Quote(b.LinuxCmdline)}");
            cmds.Add($"booti {Hex(l.Kernel)} {Hex(l.Initrd)}:${{farm_isize}} {Hex(l.Fdt)}");
            return cmds;
        }
        string k = $"/chosen/module@{l.Kernel:x}", r = $"/chosen/module@{l.Initrd:x}";
        cmds.InsertRange(1, [$"tftpboot {Hex(l.Xen)} {b.XenFile}"]);
        cmds.AddRange([
            $"fdt set /chosen \\#address-cells <2>; fdt set /chosen \\#size-cells <2>; fdt set /chosen xen,xen-bootargs {Quote(b.XenCmdline ?? "")}",
            $"fdt mknode /chosen module@{l.Kernel:x}; fdt set {k} compatible \"multiboot,kernel\" \"multiboot,module\"; fdt set {k} reg <0x0 {Hex(l.Kernel)} 0x0 0x${{farm_ksize}}>; fdt set {k} bootargs {Quote(b.LinuxCmdline)}",
            $"fdt mknode /chosen module@{l.Initrd:x}; fdt set {r} compatible \"multiboot,ramdisk\" \"multiboot,module\"; fdt set {r} reg <0x0 {Hex(l.Initrd)} 0x0 0x${{farm_isize}}>",
            $"booti {Hex(l.Xen)} - {Hex(l.Fdt)}",
        ]);
        return cmds;
    }

    static string Hex(ulong a) => "0x" + a.ToString("x", CultureInfo.InvariantCulture);

    /// <summary>A U-Boot hush string: double quotes; a quote, backslash, '$' or control character inside cannot be passed safely.</summary>
    static string Quote(string s) => s.Any(c => c is '"' or '\\' or '$' || char.IsControl(c))
        ? throw new ConfigurationException($"a command line passed through U-Boot cannot contain \", \\, $ or control characters (CR/LF): {Printable(s)}")
        : $"\"{s}\"";

    /// <summary>An unquoted value (a file name, an address): no whitespace, control characters or shell characters.</summary>
    static string Word(string s, string what) => s.Length > 0 && !s.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is ';' or '$' or '"' or '\'' or '\\' or '&' or '|')
        ? s : throw new ConfigurationException($"{what} passed to U-Boot must be one plain word (no spaces, ';', '$', quotes or CR/LF): {Printable(s)}");

    static string Printable(string s) => new(s.Select(c => char.IsControl(c) ? '?' : c).ToArray());
}

/// <summary>
/// Drives U-Boot on a serial console like an operator (LAVA's u-boot action): stops autoboot,
/// types each command, waits for the prompt, and stops at the first error U-Boot prints, naming
/// the command and U-Boot's words. TFTP faults are the lab's (incomplete); an unknown command,
/// a device-tree error or an image U-Boot cannot boot is bad input (error). The last command
/// (<c>booti</c>) must reach "Starting kernel".
/// </summary>
internal static partial class UBootDriver
{
    public static async Task RunAsync(IConsole console, Serial.ConsoleCursor cursor, IReadOnlyList<string> commands, Regex prompt, CancellationToken ct)
    {
        await cursor.ExpectAsync(Autoboot(), ct, partialLine: true).ConfigureAwait(false);
        await console.WriteAsync(" ", ct).ConfigureAwait(false);
        await cursor.ExpectAsync(prompt, ct, partialLine: true).ConfigureAwait(false);
        for (int i = 0; i < commands.Count; i++)
        {
            bool last = i == commands.Count - 1;
            await console.WriteAsync(commands[i] + "\r", ct).ConfigureAwait(false);
            var done = last ? new Regex($"(?<ok>Starting kernel)|{Errors()}|(?<prompt>{prompt})") : new Regex($"{Errors()}|(?<ok>{prompt})");
            var m = await cursor.ExpectAsync(done, ct, partialLine: true).ConfigureAwait(false);
            if (m.Match.Groups["ok"].Success) continue;
            var evidence = console.Tail(15);
            var words = m.Match.Groups["prompt"].Success ? "U-Boot returned to its prompt" : m.LineText.Trim();
            var message = $"U-Boot: '{commands[i]}' failed: {words}";
            throw m.Match.Groups["lab"].Success ? new InfrastructureException(message, evidence) : new ConfigurationException(message, evidence);
        }
    }

    // U-Boot's own words: net/tftp.c ("TFTP error", "Retry count exceeded"), net/net.c ("ARP Retry count
    // exceeded"), cmd/fdt.c + libfdt ("FDT_ERR_"), arch/arm/lib/image.c ("Bad Linux ARM64 Image magic!"),
    // common/command.c ("Unknown command"), boot/bootm.c ("ERROR: ").
    static string Errors() =>
        @"(?<lab>TFTP error|Retry count exceeded|TFTP server died|No ethernet found)|(?<bad>Unknown command '[^']*'|FDT_ERR_\w+|Bad Linux ARM64 Image magic!|Wrong Image Format|ERROR: .*)";

    [GeneratedRegex("Hit any key to stop autoboot")]
    private static partial Regex Autoboot();
}
