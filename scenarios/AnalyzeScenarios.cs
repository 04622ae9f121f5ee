using System.Diagnostics;
using System.Text.Json;

namespace Farm.Scenarios;

/// <summary>
/// The published <c>farm</c> executable judging logs captured elsewhere: a real Farm run's console and
/// evidence files (a self-built Xen with vPCI on QEMU), a real captured serial log of Debian's Xen, and a
/// log posted to xen-devel from a board where vPCI refused BARs. No QEMU: the logs are the input.
/// </summary>
public class AnalyzeScenarios
{
    static string Farm => FarmCli.Path;

    static string Repo(params string[] parts) => Path.Combine([ScenarioArtifacts.RepoRoot, .. parts]);

    [Test]
    public async Task ARealFarmRunJudgedFromItsFilesPassesWithItsFacts()
    {
        var run = Repo("tests", "Golden", "runs", "xen-4.17-selfbuilt-vpci");
        string Evidence(string f) => Path.Combine(run, "evidence", f);
        var (code, stdout, stderr) = await RunFarmAsync("analyze", Path.Combine(run, "console.log"), Evidence("dmesg.txt"), Evidence("lspci-vvv.txt"),
            Evidence("cat-proc-interrupts.txt"), Evidence("cat-proc-iomem.txt"), Evidence("xl-dmesg.txt"), "--json");
        Assert.That(code, Is.EqualTo(0), stdout + stderr);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        Assert.That(root.GetProperty("files").EnumerateArray().Select(f => f.GetProperty("kind").GetString()),
            Is.EqualTo(new[] { "xen-console", "dmesg", "lspci", "interrupts", "iomem", "xen-console" }), "each file's kind detected");
        var facts = root.GetProperty("facts");
        Assert.That(facts.GetProperty("versions").GetProperty("xen").GetString(), Does.StartWith("4.17"));
        Assert.That(facts.GetProperty("hostBridges")[0].GetProperty("ecamStart").GetUInt64(), Is.EqualTo(0x4010000000UL));
        Assert.That(facts.GetProperty("devices").EnumerateArray().Select(d => d.TryGetProperty("driver", out var v) ? v.GetString() : null), Has.Member("nvme").And.Member("e1000e"));
        Assert.That(facts.GetProperty("interrupts").EnumerateArray().Where(i => i.GetProperty("name").GetString()!.StartsWith("nvme0q", StringComparison.Ordinal))
            .Sum(i => i.GetProperty("total").GetInt64()), Is.GreaterThan(0));
        var checks = root.GetProperty("checks").EnumerateArray().ToDictionary(c => c.GetProperty("id").GetString()!, c => c.GetProperty("verdict").GetString());
        Assert.That(checks["ecam.xen-traps-dom0-config-space"], Is.EqualTo("pass"));
        Assert.That(checks["bar.xen-maps-every-bar"], Is.EqualTo("pass"));
        Assert.That(checks["irq.nvme-interrupts-delivered"], Is.EqualTo("pass"));
    }

    [Test]
    public async Task ACapturedDebianXenConsoleShowsItsXfailsAndExitsZero()
    {
        var log = Path.Combine(ScenarioArtifacts.RepoRoot, "..", "shared", "xen-on-qemu", "logs", "xen-4.17-bookworm.serial.log");
        if (!File.Exists(log)) Assert.Ignore($"{log} is provided beside the checkout in CI");
        var (code, stdout, stderr) = await RunFarmAsync("analyze", log);
        Assert.That(code, Is.EqualTo(0), stdout + stderr);
        Assert.That(stdout, Does.Contain("xen-console (detected)").And.Contain("xfail").And.Contain("Failed to add - passthrough or MSI/MSI-X might fail!"));
        Assert.That(stdout, Does.Contain("verdict: pass"));
    }

    [Test]
    public async Task APostedLogFromABoardWhereVpciRefusedBarsFails()
    {
        var (code, stdout, stderr) = await RunFarmAsync("analyze", Repo("tests", "Golden", "logs", "real", "xen-arm-vpci-bar-not-mapped.log"));
        Assert.That(code, Is.EqualTo(1), stdout + stderr);
        Assert.That(stdout, Does.Contain("BARs Xen would not map").And.Contain("0x50008000-0x50008fff"));
        Assert.That(stdout, Does.Contain("bar.xen-maps-every-bar").And.Contain("lifecycle.no-kernel-oops").And.Contain("verdict: fail"));
        TestContext.Out.WriteLine(stdout);
    }

    [Test]
    public async Task ABinaryFileIsAnErrorNamingIt()
    {
        // The head of the farm executable: an ELF, within the size a log may have (the Native AOT one is over it).
        var elf = Path.Combine(Path.GetTempPath(), $"farm-analyze-{Guid.NewGuid():N}.bin");
        var head = new byte[64 * 1024];
        await using (var f = File.OpenRead(Farm)) await f.ReadExactlyAsync(head);
        await File.WriteAllBytesAsync(elf, head);
        try
        {
            var (code, _, stderr) = await RunFarmAsync("analyze", elf);
            Assert.That(code, Is.EqualTo(2));
            Assert.That(stderr, Does.Contain(elf).And.Contain("binary"));
        }
        finally { File.Delete(elf); }
    }

    static async Task<(int Code, string StdOut, string StdErr)> RunFarmAsync(params string[] args)
    {
        var psi = new ProcessStartInfo(Farm, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await p.WaitForExitAsync(timeout.Token);
        return (p.ExitCode, await o, await e);
    }
}
