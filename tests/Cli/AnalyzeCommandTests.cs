using System.Text.Json;
using Farm.Analyze;
using Farm.Cli;
using Farm.Tests.Checks;

namespace Farm.Tests.Cli;

/// <summary><c>farm analyze</c>: kinds, facts, verdicts, exit codes, and the files it refuses.</summary>
[NonParallelizable]
internal class AnalyzeCommandTests
{
    string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("farm-analyze-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    static async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        // Spectre's static console captures Console.Out when first touched: bind it to the real one, not to our writer.
        _ = Spectre.Console.AnsiConsole.Profile;
        var (stdout, stderr) = (Console.Out, Console.Error);
        using var o = new StringWriter();
        using var e = new StringWriter();
        Console.SetOut(o);
        Console.SetError(e);
        try
        {
            var code = await FarmApp.RunAsync(["analyze", .. args]);
            return (code, o.ToString(), e.ToString());
        }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
        }
    }

    [TestCase("lspci-sc8280xp-msix-routed.txt", LogKind.Lspci)]
    [TestCase("lspci-pp-iommu-group.SYNTHESIZED.txt", LogKind.Lspci)]
    [TestCase("interrupts-headerless.SYNTHESIZED.txt", LogKind.Interrupts)]
    [TestCase("xl-pci-add-failed-pvh-dom0.log", LogKind.Xl)]
    [TestCase("xen-juno-smmu-global-fault.log", LogKind.XenConsole)]
    [TestCase("rpi4-dmesg-bridge-window.log", LogKind.Dmesg)]
    [TestCase("xen-arm-vpci-bar-not-mapped.log", LogKind.XenConsole)]
    public void DetectsEachKind(string file, LogKind kind) =>
        Assert.That(LogAnalysis.Detect(Logs.RealUnquoted(file)), Is.EqualTo((kind, true)));

    [Test]
    public void DetectsProcIomem() =>
        Assert.That(LogAnalysis.Detect(Logs.Golden("iomem-native.txt")).Kind, Is.EqualTo(LogKind.Iomem));

    [Test]
    public async Task JsonOfAPostedLogHasTypedFactsAndFailsWithExitOne()
    {
        var (code, stdout, stderr) = await RunAsync(Path.Combine(Logs.RealDirectory, "xen-arm-vpci-bar-not-mapped.log"), "--json");
        Assert.That(code, Is.EqualTo(1), stderr);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        Assert.That(root.GetProperty("verdict").GetString(), Is.EqualTo("fail"));
        Assert.That(root.GetProperty("files")[0].GetProperty("kind").GetString(), Is.EqualTo("xen-console"));
        var refusal = root.GetProperty("facts").GetProperty("xenBarRefusals")[0];
        Assert.That(refusal.GetProperty("start").ValueKind, Is.EqualTo(JsonValueKind.Number));
        Assert.That(refusal.GetProperty("start").GetUInt64(), Is.EqualTo(0x50008000UL));
        Assert.That(root.GetProperty("facts").GetProperty("crashes").EnumerateArray().Select(c => c.GetProperty("kind").GetString()), Has.Member("data-abort").And.Member("kernel-oops"));
        var check = root.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("id").GetString() == "bar.xen-maps-every-bar");
        Assert.That(check.GetProperty("verdict").GetString(), Is.EqualTo("fail"));
        Assert.That(check.GetProperty("expected").GetString(), Is.EqualTo("pass"));
        Assert.That(check.GetProperty("evidence")[0].GetString(), Does.Contain("not mapping BAR [50008, 50008]"));
        Assert.That(check.GetProperty("source").GetString(), Does.Contain("xen/drivers/vpci/header.c"));
    }

    [Test]
    public async Task ChecksHaveTheSameShapeAsARunsChecks()
    {
        var report = LogAnalysis.Analyze([new LogInput("x", Logs.Real("xen-crash.SYNTHESIZED.log"), null)]);
        var analyzed = System.Text.Json.Nodes.JsonNode.Parse(report.ToJson())!["checks"];
        var run = System.Text.Json.Nodes.JsonNode.Parse(JsonSerializer.Serialize(report.Checks, Farm.Reports.RunJsonSink.Options));
        Assert.That(System.Text.Json.Nodes.JsonNode.DeepEquals(analyzed, run), Is.True, analyzed?.ToJsonString());
        await Task.CompletedTask;
    }

    [Test]
    public async Task HumanOutputListsFactsAndVerdictsPlainWhenPiped()
    {
        var (code, stdout, _) = await RunAsync(Path.Combine(Logs.RealDirectory, "lspci-sc8280xp-msix-routed.txt"), Path.Combine(Logs.RealDirectory, "interrupts-headerless.SYNTHESIZED.txt"));
        Assert.That(code, Is.EqualTo(0), stdout);
        Assert.That(stdout, Does.Contain("MSI-X IRQ 183-191").And.Contain("xen-dyn-event").And.Contain("lifecycle.drivers-bound"));
        Assert.That(stdout, Does.Not.Contain("\u001b["), "no ANSI escapes when not a terminal");
    }

    [Test]
    public async Task KindGivenOverridesDetection()
    {
        var file = Path.Combine(_dir, "rows.txt");
        await File.WriteAllTextAsync(file, " 31:  4021  17  ITS-MSI 524288 Edge  nvme0q0\n");
        var (code, stdout, stderr) = await RunAsync(file, "--kind", "interrupts", "--json");
        Assert.That(code, Is.EqualTo(0), stderr);
        using var doc = JsonDocument.Parse(stdout);
        Assert.That(doc.RootElement.GetProperty("files")[0].GetProperty("detected").GetBoolean(), Is.False);
        Assert.That(doc.RootElement.GetProperty("facts").GetProperty("interrupts")[0].GetProperty("total").GetInt64(), Is.EqualTo(4038));
    }

    [Test]
    public async Task BinaryHugeMissingAndDirectoryInputsAreErrorsNamingTheFile()
    {
        var binary = Path.Combine(_dir, "image.bin");
        await File.WriteAllBytesAsync(binary, Enumerable.Range(0, 4096).Select(i => (byte)(i % 7 == 0 ? 0 : i)).ToArray());
        var huge = Path.Combine(_dir, "huge.log");
        await using (var fs = File.Create(huge)) fs.SetLength(AnalyzeCommand.MaxFileBytes + 1);
        foreach (var (path, says) in new[] { (binary, "binary"), (huge, "MiB"), (Path.Combine(_dir, "nope.log"), "no such file"), (_dir, "directory") })
        {
            var (code, _, stderr) = await RunAsync(path);
            Assert.That(code, Is.EqualTo(2), path);
            Assert.That(stderr, Does.Contain(path).And.Contain(says));
        }
        var (kindCode, _, kindErr) = await RunAsync(binary, "--kind", "nonsense");
        Assert.That(kindCode, Is.EqualTo(2));
        Assert.That(kindErr, Does.Contain("--kind nonsense"));
    }

    [Test]
    public void GarbageNeverThrows()
    {
        var rng = new Random(18);
        for (int i = 0; i < 200; i++)
        {
            var text = new string(Enumerable.Range(0, rng.Next(2000)).Select(_ => (char)rng.Next(0, 0x250)).ToArray());
            Assert.DoesNotThrow(() => LogAnalysis.Analyze([new LogInput("g", text, null), new LogInput("h", text, LogKind.Lspci)]).ToJson());
        }
    }
}
