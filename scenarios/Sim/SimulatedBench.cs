using Farm.Serial;

namespace Farm.Scenarios.Sim;

/// <summary>
/// A physical bench without hardware, each part the real software a lab uses: the "board" is
/// QEMU running Debian's u-boot-qemu firmware; its UART is one end of a socat null-modem cable
/// whose other end Debian's ser2net serves on 127.0.0.1; its power is outlet 1 of a simulated SNMP
/// PDU (Debian's snmpd) whose on/off hooks start and stop that QEMU and whose read-back says whether
/// it runs; its network is QEMU's user network, whose TFTP service serves the bench's TFTP root (as
/// tftpd-hpa would), with the board's sshd forwarded to 127.0.0.1. Farm sees only the lab file.
/// </summary>
sealed class SimulatedBench : IAsyncDisposable
{
    public const string CommunityVariable = "FARM_BENCH_PDU_COMMUNITY";
    readonly NullModem _cable;
    readonly Ser2NetServer _ser2net;
    readonly SnmpPdu _pdu;

    SimulatedBench(string dir, NullModem cable, Ser2NetServer ser2net, SnmpPdu pdu, int sshPort)
        => (Directory, _cable, _ser2net, _pdu, SshPort) = (dir, cable, ser2net, pdu, sshPort);

    public string Directory { get; }

    public int SshPort { get; }

    public string TftpRoot => Path.Combine(Directory, "tftp");

    public static async Task<SimulatedBench> StartAsync(string dir, CancellationToken ct)
    {
        System.IO.Directory.CreateDirectory(Path.Combine(dir, "tftp"));
        var cable = await NullModem.CreateAsync(dir, "uart", ct);
        var ser2net = await Ser2NetServer.StartAsync(dir, cable.B, Ser2NetMode.Raw, ct);
        var pdu = await SnmpPdu.StartAsync(Path.Combine(dir, "pdu"), ct);
        var ssh = Ser2NetServer.FreePort();
        var disk = Path.Combine(dir, "nvme.img");
        await using (var f = new FileStream(disk, FileMode.Create)) { f.Write("FARM-NVME-DISK-0001"u8); f.SetLength(64L << 20); }
        string qemu = string.Join(' ',
            "qemu-system-aarch64 -machine virt,virtualization=on,gic-version=3 -cpu cortex-a57 -smp 2 -m 2048 -no-reboot",
            "-display none -monitor none -bios /usr/lib/u-boot/qemu_arm64/u-boot.bin",
            $"-chardev serial,id=s0,path={cable.A} -serial chardev:s0",
            $"-drive file={disk},if=none,id=nv0,format=raw -device nvme,drive=nv0,serial=farm0",
            "-netdev user,id=n0,restrict=on -device e1000e,netdev=n0,romfile=",
            $"-netdev user,id=mgmt,restrict=on,hostfwd=tcp:127.0.0.1:{ssh}-:22,tftp={Path.Combine(dir, "tftp")} -device virtio-net-device,netdev=mgmt",
            $"-name {BoardName(dir)} -pidfile {dir}/qemu.pid");
        // setsid: out of snmpd's process group (it kills what its handler leaves behind); the inner sh
        // leads the new session, so QEMU opening the UART does not make it a controlling tty (SIGHUP).
        Hook(pdu, "outlet1.on", $"rm -f {dir}/qemu.pid; setsid sh -c '{qemu} >{dir}/qemu.log 2>&1 </dev/null &'");
        Hook(pdu, "outlet1.off", $"pkill -f -- '-name {BoardName(dir)}'; true");
        // The outlet is on while the board's QEMU runs (found by its unique -name, not a pidfile QEMU may not have written yet).
        Hook(pdu, "outlet1.status", $"if pgrep -f -- '-name {BoardName(dir)}' >/dev/null; then s=1; else s=2; fi; echo \"$(date +%T.%N) $s\" >>{dir}/status.log; echo $s");
        return new SimulatedBench(dir, cable, ser2net, pdu, ssh) { SnmpPort = pdu.Port, Ser2NetPort = ser2net.Port };
    }

    /// <summary>The QEMU -name that marks this bench's board process.</summary>
    static string BoardName(string dir) => "farm-bench-" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(dir)))[..12];

    public int SnmpPort { get; private init; }

    public int Ser2NetPort { get; private init; }

    static void Hook(SnmpPdu pdu, string name, string body)
    {
        var path = Path.Combine(pdu.Directory, name);
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>The lab file a user would write for this bench (board type + board).</summary>
    public string LabYaml(string board = "bench-xen") => $$"""
        board-types:
          qemu-bench-xen:
            kind: uboot
            mode: xen
            uboot: {prompt: '=> ', interface: 'virtio-net#31'}
            xen-cmdline: console=dtuart dtuart=/pl011@9000000 dom0_mem=1024M dom0_max_vcpus=2 bootscrub=0 loglvl=all guest_loglvl=all
            linux-cmdline: console=hvc0 earlycon=xen rdinit=/init
            expected-pci: ['0000:00:01.0', '0000:00:02.0']
        boards:
          - name: {{board}}
            type: qemu-bench-xen
            tags: [bench, xen, bookworm]
            power: {backend: snmp, host: '127.0.0.1:{{SnmpPort}}', outlet: 1, community: 'env:{{CommunityVariable}}'}
            serial: {ser2net: '127.0.0.1:{{Ser2NetPort}}', mode: raw}
            network: {ip: 10.0.2.15, server-ip: 10.0.2.2, tftp-root: '{{TftpRoot}}', ssh: '127.0.0.1:{{SshPort}}'}
        """;

    public async ValueTask DisposeAsync()
    {
        // Whatever Farm did, no QEMU outlives the bench.
        var pid = Path.Combine(Directory, "qemu.pid");
        if (File.Exists(pid) && int.TryParse(File.ReadAllText(pid).Trim(), out var id))
            try { System.Diagnostics.Process.GetProcessById(id).Kill(); } catch (ArgumentException) { } catch (InvalidOperationException) { }
        await _pdu.DisposeAsync();
        await _ser2net.DisposeAsync();
        await _cable.DisposeAsync();
    }
}
