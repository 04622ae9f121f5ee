using System.Diagnostics;
using System.Text;
using Farm.Boards.Spec;
using Farm.Jobs.Spec;
using Farm.Spec;

namespace Farm.Tests.Spec;

/// <summary>
/// Job and lab files that used to crash or hang the CLI (issue 15): unbounded durations, nesting that
/// overflowed the stack, a million mistakes printed twice, tabs reported at 1:1. The worst ones run
/// the real <c>farm</c> binary: a stack overflow cannot be caught, so only a process can show there is none.
/// </summary>
public class SpecLimitsTests
{
    const string Job = """
        name: x
        board: qemu-xen
        artifacts: bookworm
        timeouts:
          dom0-prompt: 2m
          job: 10m
        expect:
          dom0-prompt: 'root@farm:~# '
        """;

    static IReadOnlyList<string> Mistakes(string yaml, string source = "jobs/x.yaml")
    {
        var e = Assert.Throws<ConfigurationException>(() => JobFile.Parse(yaml, source))!;
        return e.Evidence;
    }

    [TestCase("job: 10m", "job: 1200h", "jobs/x.yaml:6:8: timeouts.job:")]
    [TestCase("dom0-prompt: 2m", "dom0-prompt: 99999999h", "jobs/x.yaml:5:16: timeouts.dom0-prompt:")]
    [TestCase("dom0-prompt: 2m", "dom0-prompt: 999999999999999999999s", "jobs/x.yaml:5:16: timeouts.dom0-prompt:")]
    public void AHugeDurationIsAMistakeAtItsPosition(string from, string to, string at)
    {
        var mistakes = Mistakes(Job.Replace(from, to));
        Assert.That(mistakes, Has.Some.StartsWith(at), string.Join("\n", mistakes));
    }

    [Test]
    public void TheLongestDurationStillArmsATimer()
    {
        var job = JobFile.Parse(Job.Replace("job: 10m", "job: 720h").Replace("dom0-prompt: 2m", "dom0-prompt: 720h"), "jobs/x.yaml");
        Assert.That(job.StageTimeouts.Job, Is.EqualTo(Duration.Max));
        using var cts = new CancellationTokenSource(Duration.Max, TimeProvider.System);   // what StagePipeline does with it
        Assert.That(Duration.TryParse("721h", out _), Is.False);
    }

    [TestCase("{a: ", "}")]
    [TestCase("[", "]")]
    [TestCase("- ", "")]
    public void NestingDeeperThanTheLimitIsOneMistake(string open, string close)
    {
        var deep = new StringBuilder("name: x\nmetadata: ");
        for (int i = 0; i < SpecReader.MaxDepth + 5; i++) deep.Append(open == "- " ? "\n" + new string(' ', 2 * i + 2) + "- " : open);
        deep.Append("x");
        for (int i = 0; i < SpecReader.MaxDepth + 5; i++) deep.Append(close);
        var mistakes = Mistakes(deep.ToString());
        Assert.That(mistakes, Has.Count.EqualTo(1));
        Assert.That(mistakes[0], Does.Contain($"nested more than {SpecReader.MaxDepth} levels deep"));
    }

    [Test]
    public void ManyMistakesAreCappedAndNotPrintedTwice()
    {
        var yaml = new StringBuilder(Job);
        for (int i = 0; i < 5000; i++) yaml.Append($"\nunknown{i}: 1");
        var e = Assert.Throws<ConfigurationException>(() => JobFile.Parse(yaml.ToString(), "jobs/x.yaml"))!;
        var lines = e.Describe().Split(Environment.NewLine);
        Assert.That(lines, Has.Length.EqualTo(SpecError.MaxShown + 1), "the first mistakes and a count, each once");
        Assert.That(lines[^1], Is.EqualTo($"... and {5000 - SpecError.MaxShown} more mistake(s) not shown"));
        Assert.That(lines.Distinct().Count(), Is.EqualTo(lines.Length));
    }

    [Test]
    public void ATabInTheIndentationIsReportedAtTheTab()
    {
        var mistakes = Mistakes(Job.Replace("  job: 10m", "\tjob: 10m"));
        Assert.That(mistakes, Is.EqualTo(new[] { "jobs/x.yaml:6:1: a tab in the indentation (YAML indents with spaces only)" }));
    }

    [Test]
    public void AFileThatIsNotAMappingIsNeverQuoted()
    {
        var mistakes = Mistakes("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n");
        Assert.That(mistakes, Is.EqualTo(new[] { "jobs/x.yaml:1:1: expected a mapping (key: value lines), got text" }));
    }

    /// <summary>Random damage to real job and lab files: every outcome is a spec or a ConfigurationException, never another exception.</summary>
    [Test]
    public void FuzzedJobAndLabFilesAreMistakesNeverCrashes()
    {
        var random = new Random(15);
        var seeds = new[] { Checkout.File("jobs/xen-boot.yaml"), Checkout.File("jobs/xen-smoke.yaml") }.Select(File.ReadAllText).ToArray();
        var lab = Directory.GetFiles(Checkout.File("boards"), "*.yaml").Select(File.ReadAllText).ToArray();
        string[] noise = ["\t", "{", "}", "[", "]", ": ", "- ", "&a ", "*a", "!!binary ", "\"", "'", "\n", "  ", "#", "%YAML 1.1\n", "---\n", "? ", "|", ">", "\0", "\u202e", "1200h", "-1s", "99999999999999999999"];
        for (int i = 0; i < 600; i++)
        {
            bool isLab = i % 3 == 0;
            var text = new StringBuilder((isLab ? lab : seeds)[random.Next(isLab ? lab.Length : seeds.Length)]);
            for (int m = random.Next(1, 8); m > 0; m--)
            {
                int at = random.Next(text.Length + 1);
                switch (random.Next(4))
                {
                    case 0: text.Insert(at, noise[random.Next(noise.Length)]); break;
                    case 1: if (at < text.Length) text.Remove(at, Math.Min(random.Next(1, 20), text.Length - at)); break;
                    case 2: text.Insert(at, string.Concat(Enumerable.Repeat(noise[random.Next(5)], random.Next(1, 300)))); break;
                    default: if (at < text.Length) text[at] = (char)random.Next(1, 128); break;
                }
            }
            try
            {
                if (isLab) LabFile.Parse([("boards/x.yaml", text.ToString())]);
                else JobFile.Parse(text.ToString(), "jobs/x.yaml");
            }
            catch (ConfigurationException e)
            {
                Assert.That(e.Evidence, Has.Count.LessThanOrEqualTo(SpecError.MaxShown + 1));
            }
        }
    }

    static string FarmBinary => Path.Combine(AppContext.BaseDirectory, "farm");

    /// <summary>The real CLI on hostile files: exit 2 with a file:line:col mistake, no stack trace, bounded memory.</summary>
    [TestCase("deep-block", 200_000)]
    [TestCase("deep-flow", 200_000)]
    [TestCase("many-keys", 80_000)]
    [TestCase("huge", 12 << 20)]
    public async Task TheCliRefusesAHostileJobFileWithExitTwo(string kind, int size)
    {
        var dir = Directory.CreateTempSubdirectory("farm-spec-").FullName;
        try
        {
            var path = Path.Combine(dir, "bad.yaml");
            await using (var w = new StreamWriter(path))
            {
                await w.WriteAsync("name: x\n");
                switch (kind)
                {
                    case "deep-block":
                        await w.WriteAsync("metadata:\n");
                        for (int i = 0; i < size; i++) await w.WriteAsync("- ");       // "- - - - x": a list in a list, 200,000 deep
                        await w.WriteAsync("x\n");
                        break;
                    case "deep-flow":
                        await w.WriteAsync("metadata: ");
                        await w.WriteAsync(new string('[', size));
                        await w.WriteAsync(new string(']', size));
                        break;
                    case "many-keys":
                        for (int i = 0; i < size; i++) await w.WriteAsync($"k{i}: 1\n");
                        break;
                    default:
                        await w.WriteAsync("description: \"");
                        await w.WriteAsync(new string('a', size));
                        await w.WriteAsync("\"\n");
                        break;
                }
            }
            var psi = new ProcessStartInfo(FarmBinary, ["run", path, "--lab", Checkout.File("boards"), "--out", dir]) { RedirectStandardError = true, RedirectStandardOutput = true };
            using var p = Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEndAsync();
            var stdout = p.StandardOutput.ReadToEndAsync();
            long peak = 0;
            using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            while (!p.HasExited && !limit.IsCancellationRequested)
            {
                try { p.Refresh(); peak = Math.Max(peak, p.PeakWorkingSet64); } catch (InvalidOperationException) { }
                await Task.Delay(50);
            }
            if (!p.HasExited) p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
            var err = await stderr;
            TestContext.Out.WriteLine($"{kind}: exit {p.ExitCode}, peak {peak >> 20} MiB\n{err[..Math.Min(err.Length, 600)]}");
            Assert.That(p.ExitCode, Is.EqualTo(2), err[..Math.Min(err.Length, 2000)]);
            Assert.That(err, Does.Contain(path + ":"), "the mistake names the file");
            Assert.That(err, Does.Not.Contain("   at ").And.Not.Contain("Stack overflow"));
            Assert.That(err.Split('\n'), Has.Length.LessThan(SpecError.MaxShown + 10));
            Assert.That(peak, Is.LessThan(1L << 30), "memory stays bounded");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
