using Farm.Deploy;

namespace Farm.Tests.Deploy;

/// <summary>Values typed into U-Boot's shell cannot end the command or start another (issue 15, item 8).</summary>
public class UBootInjectionTests
{
    static UBootBoot Boot(string linux = "console=ttyAMA0") =>
        new(true, "xen", "Image", "initrd.cpio.gz", "dom0_mem=512M", linux, "192.168.10.1", "192.168.10.21", UBootLayout.QemuVirt, "virtio-net#31");

    [TestCase("console=ttyAMA0\r\nsetenv bootcmd 'tftp evil'")]
    [TestCase("console=ttyAMA0\nreset")]
    [TestCase("console=${bootargs} root=/dev/sda")]
    public void ACommandLineWithCrLfOrDollarIsRefused(string linux) =>
        Assert.That(Assert.Throws<ConfigurationException>(() => UBootScript.For(Boot(linux)))!.Message, Does.Contain("cannot contain"));

    [TestCase("Image; reset")]
    [TestCase("Image\nreset")]
    [TestCase("$kernel")]
    [TestCase("my Image")]
    public void AFileNameThatIsNotOneWordIsRefused(string file) =>
        Assert.That(Assert.Throws<ConfigurationException>(() => UBootScript.For(Boot() with { KernelFile = file }))!.Message, Does.Contain("one plain word"));

    [Test]
    public void AnAddressCannotCarryASecondCommand() =>
        Assert.Throws<ConfigurationException>(() => UBootScript.For(Boot() with { ServerIp = "192.168.10.1;reset" }));

    [Test]
    public void PlainValuesStillBoot() => Assert.That(UBootScript.For(Boot()), Has.Some.Contains("tftpboot 0x49000000 Image"));
}
