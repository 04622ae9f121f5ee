using System.IO.Pipelines;
using System.Text;
using System.Text.RegularExpressions;
using Farm.Jobs;
using Farm.Jobs.Spec;
using Farm.Jobs.Stages;
using Farm.Serial;
using Farm.Tests.Serial;
using Microsoft.Extensions.Time.Testing;

namespace Farm.Tests.Jobs;

public partial class CrashWatchTests
{
    const string OopsLog = "xen-4.17.5-selfbuilt-qemu10-smmuv3-dom0-oops.serial.log";

    /// <summary>Console lines of a Farm transcript (console.log), without the arrival timestamps.</summary>
    static IReadOnlyList<string> Transcript(string path) =>
        File.ReadAllLines(path).Select(l => Stamp().Replace(l, "")).ToList();

    [GeneratedRegex(@"^\[[^\]]+\] ")]
    private static partial Regex Stamp();

    static string Golden(string name) => Path.Combine(Farm.Tests.Spec.Checkout.Root, "tests", "Golden", "logs", name);

    /// <summary>The captured boot logs beside the checkout (../shared, or $FARM_SHARED_LOGS), without the crashing one.</summary>
    static IEnumerable<string> NormalBootLogs()
    {
        var dir = Environment.GetEnvironmentVariable("FARM_SHARED_LOGS")
                  ?? Path.GetFullPath(Path.Combine(Farm.Tests.Spec.Checkout.Root, "..", "shared", "xen-on-qemu", "logs"));
        if (!Directory.Exists(dir)) Assert.Ignore($"captured logs {dir} are not here (../shared is provided beside the checkout in CI)");
        return Directory.GetFiles(dir, "*.serial.log").Where(f => !f.EndsWith(OopsLog, StringComparison.Ordinal)).Order();
    }

    static (ConsoleBroker broker, Stream writer) Console(FakeTimeProvider time)
    {
        var pipe = new Pipe();
        var broker = new ConsoleBroker("board", new DuplexStream(pipe.Reader.AsStream(), Stream.Null), time);
        broker.Start();
        return (broker, pipe.Writer.AsStream());
    }

    [Test]
    public async Task TheSmmuDom0OopsFailsTheDom0PromptStageAtOnceQuotingTheFault()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 1, 38, 0, TimeSpan.Zero));
        var (broker, writer) = Console(time);
        var ctx = new RunContext("r1", Path.GetTempPath(), time) { Console = broker, Cursor = broker.Cursor() };
        ctx.Crashes = CrashWatch.Start(broker, "board console", CrashPatterns.Defaults);
        var prompt = new ExpectStage("dom0-prompt", TimeSpan.FromSeconds(300), new Regex("root@farm:~# "), partialLine: true);

        // The console stays open, as QEMU's does after dom0 oopses: only the watch can end the stage.
        await writer.WriteAsync(Encoding.UTF8.GetBytes(string.Join("\r\n", Transcript(Golden(OopsLog))) + "\r\n"));
        var r = await new StagePipeline(time).RunAsync([prompt], ctx, TimeSpan.FromMinutes(30), CancellationToken.None);

        Assert.That(r.Verdict, Is.EqualTo(Verdict.Fail), r.Failure?.Message);
        Assert.That(r.Failure, Is.TypeOf<CheckFailedException>());
        Assert.That(r.Stages[0].Status, Is.EqualTo(StageStatus.Failed));
        Assert.That(r.Stages[0].Duration, Is.EqualTo(TimeSpan.Zero), "no fake time passed: not a timeout");
        Assert.That(r.Failure!.Message, Does.Contain("stage 'dom0-prompt'").And.Contain("Unable to handle kernel ttbr address size fault"));
        Assert.That(r.Failure.Evidence[0], Does.StartWith("crash linux.unable-to-handle").And.Contain("ffff80000802d00c"));
        Assert.That(r.Failure.Evidence.Skip(1), Is.Not.Empty, "the console tail follows the crash line");
        writer.Dispose();
        await ctx.Crashes.DisposeAsync();
        await broker.DisposeAsync();
    }

    [Test]
    public async Task ACrashSeenBeforeAStageBeginsFailsThatStageTooAndAConsoleClosedByTheCrashIsTheCrash()
    {
        var time = new FakeTimeProvider();
        var (broker, writer) = Console(time);
        await using var watch = CrashWatch.Start(broker, "guest g1 console", CrashPatterns.Defaults);
        await writer.WriteAsync(Encoding.UTF8.GetBytes("[    1.0] Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b\r\n"));
        writer.Dispose();
        var cursor = broker.Cursor();
        // Whichever comes first, the watch or the close: the verdict is the crash's.
        var e = (await Assert.ThrowsAsync<CheckFailedException>(() =>
            watch.GuardAsync("guest-prompt", t => cursor.ExpectAsync(new Regex("never"), t), CancellationToken.None)))!;
        Assert.That(e.Message, Does.Contain("guest g1 console crashed (linux.panic").And.Contain("Attempted to kill init"));
        await Assert.ThrowsAsync<CheckFailedException>(() => watch.GuardAsync("guest-commands", _ => Task.CompletedTask, CancellationToken.None));
        await broker.DisposeAsync();
    }

    // One real-format line per default pattern (the format strings are cited in CrashPatterns.Defaults).
    [TestCase("linux.oops", "[    2.892721] Internal error: Oops: 0000000096000000 [#1] SMP")]
    [TestCase("linux.panic", "[    3.401829] Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b")]
    [TestCase("linux.unable-to-handle", "[    2.883932] Unable to handle kernel NULL pointer dereference at virtual address 0000000000000008")]
    [TestCase("xen.panic", "(XEN) Panic on CPU 0:")]
    [TestCase("xen.assert", "(XEN) Assertion '!in_irq()' failed at common/xmalloc_tlsf.c:697")]
    [TestCase("xen.bug", "(XEN) Xen BUG at common/page_alloc.c:1423")]
    [TestCase("xen.trap", "(XEN) CPU1: Unexpected Trap: Data Abort")]
    public void EachDefaultPatternCatchesItsCrashLineAndOnlyThatOne(string id, string line)
    {
        var hit = CrashWatch.FindFirst(["(XEN) Xen version 4.17.7 (Debian)", "root@farm:~# ", line, "after"], CrashPatterns.Defaults);
        Assert.That(hit?.Pattern.Id, Is.EqualTo(id));
        Assert.That(hit!.Value.Index, Is.EqualTo(2));
        Assert.That(CrashPatterns.Defaults.Where(p => p.Pattern.IsMatch(line)).Select(p => p.Id), Is.EqualTo(new[] { id }));
        Assert.That(CrashPatterns.Defaults.Single(p => p.Id == id).Source, Does.StartWith("linux ").Or.StartWith("xen "), "cites its source");
    }

    [Test]
    public void EveryDefaultIdIsCoveredByATestCase()
    {
        var covered = typeof(CrashWatchTests).GetMethod(nameof(EachDefaultPatternCatchesItsCrashLineAndOnlyThatOne))!
            .GetCustomAttributes(typeof(TestCaseAttribute), false).Cast<TestCaseAttribute>().Select(a => (string)a.Arguments[0]!);
        Assert.That(covered, Is.EquivalentTo(CrashPatterns.Defaults.Select(p => p.Id)));
    }

    [Test]
    public void NormalBootLogsTripNone()
    {
        foreach (var log in NormalBootLogs())
        {
            var hit = CrashWatch.FindFirst(Transcript(log), CrashPatterns.Defaults);
            Assert.That(hit, Is.Null, $"{Path.GetFileName(log)}: {hit?.Pattern.Id}: {hit?.Line}");
        }
    }

    [Test]
    public void TheGoldenOopsLogTripsAtItsFirstFault()
    {
        var hit = CrashWatch.FindFirst(Transcript(Golden(OopsLog)), CrashPatterns.Defaults);
        Assert.That(hit?.Line, Does.Contain("Unable to handle kernel ttbr address size fault at virtual address ffff80000802d00c"));
    }

    [Test]
    public void LayersReplaceAddAndDropPatternsById()
    {
        var layer = new Dictionary<string, Regex?> { ["linux.oops"] = null, ["xen.bug"] = new("BUG!"), ["mydrv.fatal"] = new("mydrv: fatal") };
        var merged = CrashPatterns.Merge(CrashPatterns.Defaults, layer, "job x");
        Assert.That(merged.Select(p => p.Id), Does.Not.Contain("linux.oops").And.Contain("mydrv.fatal").And.Contain("linux.panic"));
        Assert.That(merged.Single(p => p.Id == "xen.bug").Pattern.ToString(), Is.EqualTo("BUG!"));
        Assert.That(CrashWatch.FindFirst(["Internal error: Oops: 96000004 [#1] SMP"], merged), Is.Null, "dropped");
        Assert.That(CrashWatch.FindFirst(["[ 3.1] mydrv: fatal ring stall"], merged)?.Pattern.Source, Is.EqualTo("job x"));
    }

    [Test]
    public void JobFileCrashPatternsAreValidatedWithPositions()
    {
        const string yaml = """
            name: x
            board: qemu-xen
            artifacts: bookworm
            expect: {dom0-prompt: 'root@farm:~# '}
            crash-patterns:
              linux.oops: off
              mydrv.fatal: 'mydrv: fatal'
            """;
        var job = JobFile.Parse(yaml, "jobs/x.yaml");
        Assert.That(job.CrashPatterns!["linux.oops"], Is.Null);
        Assert.That(job.CrashPatterns["mydrv.fatal"]!.ToString(), Is.EqualTo("mydrv: fatal"));

        var e = Assert.Throws<ConfigurationException>(() => JobFile.Parse(yaml.Replace("'mydrv: fatal'", "'mydrv: ('").Replace("linux.oops", "Linux Oops"), "jobs/x.yaml"))!;
        Assert.That(e.Evidence, Has.Some.StartsWith("jobs/x.yaml:6:3: crash-patterns.Linux Oops: ").And.Some.StartsWith("jobs/x.yaml:7:16: crash-patterns.mydrv.fatal: "));
    }

    [Test]
    public void BoardTypeCrashPatternsReachTheBoardAndTheBoardLiesOverItsType()
    {
        var lab = Farm.Boards.Spec.LabFile.Parse("""
            board-types:
              t:
                kind: qemu
                mode: native
                qemu: {machine: virt}
                linux-cmdline: console=ttyAMA0
                crash-patterns: {linux.oops: off, fw.fatal: 'FW: fatal'}
            boards:
              - name: b
                type: t
                crash-patterns: {fw.fatal: 'FW: dead'}
            """, "lab.yaml");
        var ids = lab.Boards.Single().CrashPatterns;
        Assert.That(ids.Select(p => p.Id), Does.Not.Contain("linux.oops").And.Contain("linux.panic").And.Contain("fw.fatal"));
        Assert.That(ids.Single(p => p.Id == "fw.fatal").Pattern.ToString(), Is.EqualTo("FW: dead"));
    }
}
