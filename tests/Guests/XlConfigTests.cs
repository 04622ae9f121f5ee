using Farm.Guests;

namespace Farm.Tests.Guests;

public class XlConfigTests
{
    static XlConfig NvmeAndNic => new()
    {
        Name = "vpci-guest", Kernel = "/mnt/artifacts/vmlinuz", Ramdisk = "/mnt/artifacts/initrd.cpio.gz", MemoryMb = 256,
        Extra = "console=hvc0 rdinit=/init", Passthrough = "enabled",
        Pci = [new("0000:00:01.0", new Dictionary<string, string>()), new("0000:00:02.0", new Dictionary<string, string> { ["permissive"] = "1", ["seize"] = "1" })],
    };

    [Test]
    public void RendersPciListAndRoundTrips()
    {
        var text = NvmeAndNic.Render();
        Assert.That(text, Does.Contain("pci = [ '0000:00:01.0', '0000:00:02.0,permissive=1,seize=1' ]").And.Contain("passthrough = \"enabled\""));
        var back = XlConfig.Parse(text);
        Assert.That(back.Render(), Is.EqualTo(text));
        Assert.That(back.Pci[1].Options["seize"], Is.EqualTo("1"));
    }

    [TestCase("0000:00:1.0", "not an SBDF")]
    [TestCase("00:01.0", "not an SBDF")]
    [TestCase("0000:00:01.9", "not an SBDF")]
    public void BadSbdfIsRefused(string sbdf, string message)
    {
        var e = Assert.Throws<ConfigurationException>(() => (NvmeAndNic with { Pci = [new(sbdf, new Dictionary<string, string>())] }).Validate());
        Assert.That(e!.Message, Does.Contain($"'{sbdf}' is {message}"));
    }

    [Test]
    public void DuplicateDevicesUnknownOptionsAndBadModesAreEachNamed()
    {
        var cfg = NvmeAndNic with
        {
            Passthrough = "on",
            Pci = [new("0000:00:01.0", new Dictionary<string, string>()), new("0000:00:01.0", new Dictionary<string, string> { ["msi"] = "1", ["permissive"] = "yes" })],
        };
        var e = Assert.Throws<ConfigurationException>(() => cfg.Validate());
        Assert.That(e!.Evidence, Has.Count.EqualTo(4));
        Assert.That(e.Message, Does.Contain("passthrough: 'on'").And.Contain("listed twice").And.Contain("unknown option 'msi'").And.Contain("permissive=yes must be 0 or 1"));
    }

    [Test]
    public void BackendSelectorNeedsAXenThatUnderstandsIt()
    {
        var cfg = NvmeAndNic with { Pci = [new("0000:00:01.0", new Dictionary<string, string> { ["backend"] = "vpci" })] };
        Assert.That(() => cfg.Validate(new Version(4, 21)), Throws.Nothing);
        var e = Assert.Throws<ConfigurationException>(() => cfg.Validate(new Version(4, 17)));
        Assert.That(e!.Message, Does.Contain("backend= is not understood by Xen 4.17"));
    }

    [Test]
    public void ParseNamesTheLineOfUnknownKeys()
    {
        var e = Assert.Throws<ConfigurationException>(() => XlConfig.Parse("name = \"g\"\nkernel = \"/k\"\nirqs = [ 33 ]\nmemory = lots\n", "g.cfg"));
        Assert.That(e!.Message, Does.Contain("g.cfg:3: unknown key 'irqs'").And.Contain("memory: 'lots' is not a number"));
    }

    [Test]
    public void DisabledPassthroughWithDevicesIsAContradiction()
    {
        var e = Assert.Throws<ConfigurationException>(() => (NvmeAndNic with { Passthrough = "disabled" }).Validate());
        Assert.That(e!.Message, Does.Contain("contradicts"));
    }
}
