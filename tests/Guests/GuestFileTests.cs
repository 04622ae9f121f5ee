using Farm.Jobs;
using Farm.Jobs.Spec;

namespace Farm.Tests.Guests;

public class GuestFileTests
{
    const string Job = """
        name: x
        board: qemu-xen
        artifacts: bookworm
        expect: {dom0-prompt: 'root@farm:~# '}
        guests:
          - name: g1
            memory: 256
            pci: ['0000:00:01.0', {sbdf: '0000:00:02.0', permissive: '1'}]
            passthrough: enabled
            hotplug: ['0000:00:02.0']
            expect: {prompt: 'root@farm:~# '}
            commands: [lspci -vvv, dmesg]
            timeouts: {guest-prompt: 90s}
        """;

    static IReadOnlyList<string> Mistakes(string yaml) =>
        Assert.Throws<ConfigurationException>(() => JobFile.Parse(yaml, "jobs/x.yaml"))!.Evidence;

    [Test]
    public void AGuestIsTypedXlConfigWithItsOwnPromptCommandsAndTimeouts()
    {
        var g = JobFile.Parse(Job, "jobs/x.yaml").Guests.Single();
        Assert.That(g.Name, Is.EqualTo("g1"));
        Assert.That(g.Config.Kernel, Is.EqualTo("/mnt/artifacts/vmlinuz"), "a bare name is a file of the artifact set, seen by dom0 on its 9p share");
        Assert.That(g.Config.Ramdisk, Is.EqualTo("/mnt/artifacts/initrd.cpio.gz"));
        Assert.That(g.Config.Pci.Select(p => p.Render()), Is.EqualTo(new[] { "0000:00:01.0", "0000:00:02.0,permissive=1" }));
        Assert.That(g.Config.Render(), Does.Contain("pci = [ '0000:00:01.0', '0000:00:02.0,permissive=1' ]").And.Contain("passthrough = \"enabled\""));
        Assert.That(g.Commands, Is.EqualTo(new[] { "lspci -vvv", "dmesg" }));
        Assert.That(g.Hotplug, Is.EqualTo(new[] { "0000:00:02.0" }));
        Assert.That(g.TimeoutFor(StageKinds.GuestPrompt, StageTimeouts.Default), Is.EqualTo(TimeSpan.FromSeconds(90)));
        Assert.That(g.TimeoutFor(StageKinds.GuestCreate, StageTimeouts.Default.With("guest-create", TimeSpan.FromSeconds(7))), Is.EqualTo(TimeSpan.FromSeconds(7)), "else the job's");
    }

    [Test]
    public void GuestMistakesPointAtTheirLines()
    {
        var bad = Job.Replace("name: g1", "name: G_1").Replace("'0000:00:01.0',", "'0000:00:01.0,seize=2',")
            .Replace("hotplug: ['0000:00:02.0']", "hotplug: ['0000:00:03.0']").Replace("guest-prompt: 90s", "guest-promt: 90s")
            .Replace("memory: 256", "memory: 256\n    kernel: ../etc/shadow");
        var e = Mistakes(bad);
        Assert.That(e, Has.Some.StartsWith("jobs/x.yaml:6:11: guests[0].name: \"G_1\" is not a guest name"));
        Assert.That(e, Has.Some.StartsWith("jobs/x.yaml:8:13: guests[0].kernel: \"../etc/shadow\" is not a file of the artifact set"));
        Assert.That(e, Has.Some.StartsWith("jobs/x.yaml:11:15: guests[0].hotplug[0]: \"0000:00:03.0\" is not one of this guest's pci devices"));
        Assert.That(e, Has.Some.StartsWith("jobs/x.yaml:14:16: guests[0].timeouts.guest-promt: unknown key (did you mean \"guest-prompt\"?)"));
        var pci = Mistakes(Job.Replace("'0000:00:01.0',", "'0000:00:01.0,seize=2',"));
        Assert.That(pci, Has.Some.Contains("guests[0].pci: ").And.Some.Contains("seize=2 must be 0 or 1"));
        Assert.That(Mistakes(Job + "\n  - name: g1\n    expect: {prompt: x}\n"), Has.Some.Contains("guest \"g1\" is defined twice"));
        Assert.That(Mistakes(Job.Replace("    expect: {prompt: 'root@farm:~# '}\n", "")), Has.Some.Contains("guests[0].expect: required field is missing"));
    }

    [Test]
    public void TheShippedGuestJobsLoad()
    {
        foreach (var f in new[] { "jobs/xen-guest.yaml", "jobs/xen-guest-pci.yaml", "jobs/xen-guest-pci-vpci.yaml" })
            Assert.That(JobFile.Load(Farm.Tests.Spec.Checkout.File(f)).Guests, Is.Not.Empty, f);
        var pci = JobFile.Load(Farm.Tests.Spec.Checkout.File("jobs/xen-guest-pci.yaml")).Guests.Single();
        Assert.That(pci.Config.Pci.Select(p => p.Sbdf), Is.EqualTo(new[] { "0000:00:01.0", "0000:00:02.0" }));
    }
}
