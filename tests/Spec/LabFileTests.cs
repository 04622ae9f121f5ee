using Farm.Boards.Spec;

namespace Farm.Tests.Spec;

/// <summary>Lab files with physical boards: what a valid one gives, and one clear line per mistake.</summary>
public class LabFileTests
{
    const string Source = "lab/bench.yaml";

    const string Valid = """
        board-types:
          rpi4-xen:
            kind: uboot
            mode: xen
            uboot: {prompt: 'U-Boot> ', xen-addr: 0x00200000, kernel-addr: 0x00400000, initrd-addr: 0x02600000, fdt-addr: 0x02400000}
            xen-cmdline: console=dtuart dom0_mem=512M
            linux-cmdline: console=hvc0
            expected-pci: ['0000:01:00.0']
        boards:
          - name: rpi4-1
            type: rpi4-xen
            tags: [rpi4, xen]
            power: {backend: snmp, host: 'pdu1.lab:161', outlet: 3, community: 'env:PDU1_COMMUNITY'}
            serial: {ser2net: 'console1.lab:2001', mode: telnet}
            network: {ip: 192.168.10.21, server-ip: 192.168.10.1, tftp-root: /srv/tftp}
          - name: rpi4-2
            type: rpi4-xen
            power: {backend: command, on: 'usbrelay R_1=1', off: 'usbrelay R_1=0', status: 'relay-status 1'}
            serial: {device: /dev/ttyUSB1, baud: 1500000, parity: even, flow: rtscts}
            network: {ip: 192.168.10.22, server-ip: 192.168.10.1, tftp-root: /srv/tftp, ssh: 'jump.lab:2222'}
        """;

    static Farm.Boards.Physical.UBootBoardSpec Bench(BoardSpec board) => (Farm.Boards.Physical.UBootBoardSpec)board.Hardware;

    static IReadOnlyList<string> Mistakes(string yaml)
    {
        var e = Assert.Throws<ConfigurationException>(() => LabFile.Parse(yaml, Source))!;
        Assert.That(e.Verdict, Is.EqualTo(Verdict.Error));
        return e.Evidence;
    }

    static string Replace(string from, string to)
    {
        Assert.That(Valid.Contains(from), Is.True, from);
        return Valid.Replace(from, to);
    }

    [Test]
    public void PhysicalBoardsLoadWithTheirPowerConsoleNetworkAndUBoot()
    {
        var lab = LabFile.Parse(Valid, Source);
        var b1 = lab.Find("rpi4-1")!;
        Assert.That(b1.Kind, Is.EqualTo("uboot"));
        Assert.That(Bench(b1).Power, Is.EqualTo(new Farm.PowerControl.SnmpPower("pdu1.lab:161", 3, "env:PDU1_COMMUNITY")));
        Assert.That(Bench(b1).Serial.Summary, Is.EqualTo("ser2net console1.lab:2001 (telnet)"));
        Assert.That(Bench(b1).Network.SshHost, Is.EqualTo("192.168.10.21"), "SSH defaults to the board's own address");
        Assert.That(Bench(b1).UBoot, Is.EqualTo(new UBootSpec { Prompt = "U-Boot> ", XenAddr = 0x200000, KernelAddr = 0x400000, InitrdAddr = 0x2600000, FdtAddr = 0x2400000 }));
        var b2 = lab.Find("rpi4-2")!;
        Assert.That(Bench(b2).Power.Summary, Is.EqualTo("command usbrelay R_1=1"));
        Assert.That(Bench(b2).Serial.Summary, Is.EqualTo("/dev/ttyUSB1 1500000 8E1 rtscts"));
        Assert.That((Bench(b2).Network.SshHost, Bench(b2).Network.SshPort), Is.EqualTo(("jump.lab", 2222)));
    }

    [Test]
    public void ExampleBenchLoads()
    {
        var lab = LabFile.Load(Checkout.File("lab/example-bench.yaml"));
        Assert.That(lab.Boards.Select(b => (b.Name, Bench(b).Power.Backend)), Is.EqualTo(new[]
        {
            ("rpi4-1", "snmp"), ("zcu102-1", "redfish"), ("rpi4-2", "tasmota"),
        }));
    }

    [Test]
    public void EveryMistakeIsReportedOnceWithItsLine()
    {
        var yaml = Replace("backend: snmp, host: 'pdu1.lab:161', outlet: 3,", "backend: snpm, host: 'pdu1.lab:161', outlet: 3,")
            .Replace("  - name: rpi4-2", "  - name: rpi4-1");
        var lines = Mistakes(yaml);
        Assert.That(lines, Has.Count.EqualTo(2), string.Join("\n", lines));
        Assert.That(lines[0], Does.StartWith("lab/bench.yaml:13:").And.Contain("power.backend: unknown value \"snpm\" (did you mean \"snmp\"?)"));
        Assert.That(lines[1], Does.StartWith("lab/bench.yaml:16:").And.Contain("duplicate board \"rpi4-1\" (first defined at lab/bench.yaml:10"));
    }

    [Test]
    public void MissingOutletInlineSecretAndAmbiguousSerial()
    {
        var lines = Mistakes(Replace("outlet: 3, community: 'env:PDU1_COMMUNITY'", "community: public")
            .Replace("serial: {device: /dev/ttyUSB1, baud: 1500000, parity: even, flow: rtscts}", "serial: {device: /dev/ttyUSB1, ser2net: 'c:1'}"));
        Assert.That(lines, Has.Count.EqualTo(3), string.Join("\n", lines));
        Assert.That(lines, Has.One.Contains("power.community: write a reference, env:NAME or file:/path, never the secret itself"));
        Assert.That(lines, Has.One.Contains("power.outlet: required field is missing (the snmp backend needs host, outlet, community)"));
        Assert.That(lines, Has.One.Contains("give exactly one of device (a local tty) or ser2net"));
    }

    [Test]
    public void ImpossibleLineSettingsAreRefused()
    {
        var lines = Mistakes(Replace("baud: 1500000, parity: even", "baud: 115201, parity: evn"));
        Assert.That(lines, Has.Count.EqualTo(2), string.Join("\n", lines));
        Assert.That(lines, Has.One.Contains("serial.parity: unknown value \"evn\" (did you mean \"even\"?)"));
        Assert.That(lines, Has.One.Contains("serial.baud: baud 115201 is not a standard rate"));
    }

    [Test]
    public void CredentialsInAUrlAreRefusedWithoutQuotingThem()
    {
        var lines = Mistakes(Replace("power: {backend: command, on: 'usbrelay R_1=1', off: 'usbrelay R_1=0', status: 'relay-status 1'}",
            "power: {backend: pdudaemon, url: 'http://admin:hunter2@pdud.lab:16421', pdu: apc1, outlet: 4, status: 'relay-status 1'}"));
        Assert.That(lines, Has.One.Contains("boards[1].power.url: credentials in the URL would be shown to every viewer"));
        Assert.That(string.Join("\n", lines), Does.Not.Contain("hunter2"));
    }

    [Test]
    public void PduDaemonNeedsAStatusCommandBecauseItCannotReadOutlets()
    {
        var lines = Mistakes(Replace("power: {backend: command, on: 'usbrelay R_1=1', off: 'usbrelay R_1=0', status: 'relay-status 1'}",
            "power: {backend: pdudaemon, url: 'http://pdud.lab:16421', pdu: apc1, outlet: 4}"));
        Assert.That(lines, Is.EqualTo(new[] { "lab/bench.yaml:18:12: boards[1].power.status: required field is missing (the pdudaemon backend needs url, pdu, outlet, status)" }));
    }

    [Test]
    public void UBootBoardWithoutNetworkAndQemuBoardWithPower()
    {
        var yaml = Replace("\n    network: {ip: 192.168.10.22, server-ip: 192.168.10.1, tftp-root: /srv/tftp, ssh: 'jump.lab:2222'}", "") + """

              - name: q
                type: rpi4-xen
                kind: qemu
                qemu: {machine: 'virt,virtualization=on'}
                power: {backend: tasmota, url: 'http://relay1', outlet: 1}
            """;
        var lines = Mistakes(yaml);
        Assert.That(lines, Has.One.Contains("boards[1].network: a uboot board needs network"));
        Assert.That(lines, Has.One.Contains("boards[2].power: set, but kind is qemu"));
    }
}
