using System.Text.RegularExpressions;
using Farm.Boards.Qemu;

namespace Farm.Scenarios;

/// <summary>Real QEMU, real Xen: the machine layer alone, before stages are involved.</summary>
[Category("Qemu")]
public class QemuMachineScenarios
{
    [Test]
    public async Task XenBootsAndEveryConsoleByteArrives()
    {
        var art = ScenarioArtifacts.Directory;
        var run = ScenarioArtifacts.NewRunDirectory();
        var disk = Path.Combine(run, "disk.img");
        await using (var f = File.Create(disk)) f.SetLength(64 << 20);
        string[] args =
        [
            "-machine", "virt,virtualization=on,gic-version=3", "-cpu", "cortex-a57", "-smp", "2", "-m", "2048", "-no-reboot",
            "-kernel", Path.Combine(art, "xen"),
            "-append", "console=dtuart dtuart=/pl011@9000000 dom0_mem=1024M dom0_max_vcpus=2 bootscrub=0 loglvl=all guest_loglvl=all",
            "-device", $"guest-loader,addr=0x49000000,kernel={Path.Combine(art, "vmlinuz")},bootargs=console=hvc0 earlycon=xen rdinit=/init",
            "-device", $"guest-loader,addr=0x50000000,initrd={Path.Combine(art, "initrd.cpio.gz")}",
            "-drive", $"file={disk},if=none,id=nv0,format=raw", "-device", "nvme,drive=nv0,serial=farm0",
            "-nic", "none",
        ];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await using var m = new QemuMachine("scenario", "qemu-system-aarch64", args, run);
        await m.StartAsync(cts.Token);
        Assert.That(await m.ReadStateAsync(cts.Token), Is.EqualTo(PowerState.On));
        var cursor = m.Console!.Cursor();
        var banner = await cursor.ExpectAsync(new Regex(@"\(XEN\) Xen version (\S+)"), cts.Token);
        var linux = await cursor.ExpectAsync(new Regex(@"Linux version (\S+)"), cts.Token);
        var prompt = await cursor.ExpectAsync(new Regex(@"root@farm:~# |FARM: done"), cts.Token, partialLine: true);
        TestContext.Out.WriteLine($"{banner.LineText}\n{linux.LineText}\n{prompt.LineText}");
        await m.StopAsync(TimeSpan.FromSeconds(10), cts.Token);
        Assert.That(await m.ReadStateAsync(cts.Token), Is.EqualTo(PowerState.Off));
        Assert.That(m.Console.Lines.Select(l => l.Text), Has.Some.StartWith("(XEN) Xen version"));
        Assert.That(m.Console.Lines[0].Text, Does.StartWith("(XEN)"), "the first byte Xen printed was received");
    }
}
