using Farm.Jobs;
using Farm.Jobs.Spec;

namespace Farm.Tests.Spec;

public class JobFileTests
{
    const string Source = "jobs/x.yaml";

    // Line numbers matter: tests below point at them.
    const string Valid = """
        name: x
        board: qemu-xen
        artifacts: bookworm
        timeouts:
          power-on: 10s
          dom0-prompt: 2m
        expect:
          xen-banner: '\(XEN\) Xen version'
          dom0-prompt: 'root@farm:~# '
        commands:
          - xl info
          - lspci -vvv
        checks: [vpci]
        metadata: {owner: ci}
        """;

    static IReadOnlyList<string> Mistakes(string yaml)
    {
        var e = Assert.Throws<ConfigurationException>(() => JobFile.Parse(yaml, Source))!;
        Assert.That(e.Verdict, Is.EqualTo(Verdict.Error));
        Assert.That(e.Message.Split(Environment.NewLine), Is.EqualTo(e.Evidence), "one message line per mistake, same as the evidence");
        return e.Evidence;
    }

    static string Replace(string from, string to)
    {
        Assert.That(Valid, Does.Contain(from));
        return Valid.Replace(from, to);
    }

    [Test]
    public void XenSmokeExampleLoads()
    {
        var job = JobFile.Load(Checkout.File("jobs/xen-smoke.yaml"));
        Assert.Multiple(() =>
        {
            Assert.That(job.Name, Is.EqualTo("xen-smoke"));
            Assert.That(job.BoardName, Is.EqualTo("qemu-xen"));
            Assert.That(job.Artifacts, Is.EqualTo("bookworm"));
            Assert.That(job.StageTimeouts.Job, Is.EqualTo(TimeSpan.FromMinutes(20)));
            Assert.That(job.StageTimeouts.Dom0Prompt, Is.EqualTo(TimeSpan.FromSeconds(300)));
            Assert.That(job.Expect.XenBanner!.IsMatch("(XEN) Xen version 4.17.7 (Debian 4.17.7+13-g2445b30a44-0+deb12u1)"), Is.True);
            Assert.That(job.Expect.Dom0Prompt.IsMatch("root@farm:~# "), Is.True);
            Assert.That(job.Commands.Take(6), Is.EqualTo(new[] { "xl info", "xl dmesg", "lspci -vvv", "cat /proc/interrupts", "cat /proc/iomem", "dmesg" }));
            Assert.That(job.Commands.Skip(6), Has.All.Contain("FARM-PROBE"), "the probes the DMA and assignability checks read");
            Assert.That(job.Checks, Is.EqualTo(new[] { "vpci" }));
            Assert.That(job.Metadata["owner"], Is.EqualTo("ci"));
            Assert.That(job.ArtifactDirectory("/repo"), Is.EqualTo(Path.Combine("/repo", ".cache", "artifacts", "bookworm")));
            Assert.That(job.PositionOf("board").Line, Is.EqualTo(3));
        });
    }

    [Test]
    public void NativeSmokeExampleLoads()
    {
        var job = JobFile.Load(Checkout.File("jobs/native-smoke.yaml"));
        Assert.Multiple(() =>
        {
            Assert.That(job.BoardName, Is.Null);
            Assert.That(job.Tags, Is.EqualTo(new[] { "qemu", "native" }));
            Assert.That(job.Expect.XenBanner, Is.Null);
            Assert.That(job.Commands, Has.None.StartsWith("xl"));
            Assert.That(job.StageTimeouts.XenBanner, Is.EqualTo(StageTimeouts.Default.XenBanner));
        });
    }

    [Test]
    public void OmittedTimeoutsTakeTheDefaults()
    {
        var job = JobFile.Parse(Replace("timeouts:\n  power-on: 10s\n  dom0-prompt: 2m\n", ""), Source);
        Assert.That(job.StageTimeouts, Is.EqualTo(StageTimeouts.Default));
        Assert.That(job.StageTimeouts.Stages, Is.EqualTo(StageKinds.All.Select(k => (k.Name, k.DefaultTimeout))), "each stage's own default");
        Assert.That(job.StageTimeouts.Job, Is.EqualTo(TimeSpan.FromMinutes(30)));
        Assert.That(JobFile.Parse(Valid, Source).StageTimeouts.PowerOn, Is.EqualTo(TimeSpan.FromSeconds(10)));
    }

    [Test]
    public void EveryKnownStageNameIsATimeoutKeyGuestStagesIncluded()
    {
        var keys = string.Join("\n", StageKinds.All.Select((k, i) => $"  {k.Name}: {i + 1}s"));
        var job = JobFile.Parse(Replace("timeouts:\n  power-on: 10s\n  dom0-prompt: 2m\n", "timeouts:\n" + keys + "\n"), Source);
        foreach (var (k, i) in StageKinds.All.Select((k, i) => (k, i)))
            Assert.That(job.StageTimeouts[k.Name], Is.EqualTo(TimeSpan.FromSeconds(i + 1)), k.Name);
        Assert.That(job.StageTimeouts["guest-prompt"], Is.Not.EqualTo(StageKinds.GuestPrompt.DefaultTimeout));
        Assert.That(Mistakes(Replace("power-on: 10s", "guest-promt: 10s")),
            Has.One.StartsWith("jobs/x.yaml:5:3: timeouts.guest-promt: unknown key (did you mean \"guest-prompt\"?)"));
    }

    [Test]
    public void BootIsColdUnlessTheJobAsksForSnapshots()
    {
        Assert.That(JobFile.Parse(Valid, Source).Boot, Is.EqualTo(BootMode.Cold));
        Assert.That(JobFile.Parse(Replace("artifacts: bookworm", "artifacts: bookworm\nboot: snapshot"), Source).Boot, Is.EqualTo(BootMode.Snapshot));
        Assert.That(JobFile.Load(Checkout.File("jobs/xen-rerun.yaml")).Boot, Is.EqualTo(BootMode.Snapshot));
        Assert.That(Mistakes(Replace("artifacts: bookworm", "artifacts: bookworm\nboot: snapshots")),
            Is.EqualTo(new[] { "jobs/x.yaml:4:7: boot: unknown value \"snapshots\" (did you mean \"snapshot\"?); expected one of: cold, snapshot" }));
    }

    [Test]
    public void RelativeArtifactPathsAreRelativeToTheJobFile()
    {
        var job = JobFile.Parse(Replace("artifacts: bookworm", "artifacts: ../artifacts"), "/lab/jobs/x.yaml");
        Assert.That(job.ArtifactDirectory("/repo"), Is.EqualTo(Path.GetFullPath("/lab/artifacts")));
    }

    [Test]
    public void SyntaxErrorCarriesItsPosition()
    {
        var lines = Mistakes(Replace("commands:\n  - xl info", "commands:\n  - xl info\n - bad indent"));
        Assert.That(lines, Has.Count.EqualTo(1));
        Assert.That(lines[0], Does.StartWith("jobs/x.yaml:12:").And.Contain("YAML syntax error"));
    }

    [Test]
    public void DuplicateKey() =>
        Assert.That(Mistakes(Replace("board: qemu-xen", "board: qemu-xen\nname: y")),
            Is.EqualTo(new[] { "jobs/x.yaml:3:1: name: duplicate key (YAML would keep only one of them)" }));

    [Test]
    public void EmptyFile() => Assert.That(Mistakes("# nothing\n"), Is.EqualTo(new[] { "jobs/x.yaml:1:1: the file is empty" }));

    [Test]
    public void TopLevelMustBeAMapping() =>
        Assert.That(Mistakes("- name: x\n"), Is.EqualTo(new[] { "jobs/x.yaml:1:1: expected a mapping (key: value lines), got a list" }));

    [Test]
    public void UnknownKeySuggestsTheNearMiss()
    {
        var lines = Mistakes(Replace("  power-on: 10s", "  power_on: 10s"));
        Assert.That(lines, Has.Count.EqualTo(1));
        Assert.That(lines[0], Does.StartWith("jobs/x.yaml:5:3: timeouts.power_on: unknown key (did you mean \"power-on\"?)"));
    }

    [Test]
    public void UnknownKeyFarFromAnyKnownOneListsTheKeys()
    {
        var lines = Mistakes(Valid + "\nfrobnicate: 1");
        Assert.That(lines, Has.Count.EqualTo(1));
        Assert.That(lines[0], Does.StartWith("jobs/x.yaml:15:1: frobnicate: unknown key; expected one of: name, description,"));
    }

    [Test]
    public void MissingRequiredFields()
    {
        var lines = Mistakes("""
            description: nothing useful
            expect:
              xen-banner: Xen
            """);
        Assert.That(lines, Is.EqualTo(new[]
        {
            "jobs/x.yaml:1:1: name: required field is missing",
            "jobs/x.yaml:1:1: board: required field is missing (a board name, or tags: [...] to match any board carrying all of them)",
            "jobs/x.yaml:1:1: artifacts: required field is missing (an artifact set name such as bookworm, or a directory)",
            "jobs/x.yaml:3:3: expect.dom0-prompt: required field is missing (a regex for the shell prompt, e.g. 'root@farm:~# ')",
        }));
    }

    [Test]
    public void MissingExpectIsReportedAsTheDom0Prompt()
    {
        var lines = Mistakes(Replace("expect:\n  xen-banner: '\\(XEN\\) Xen version'\n  dom0-prompt: 'root@farm:~# '\n", ""));
        Assert.That(lines, Has.Count.EqualTo(1));
        Assert.That(lines[0], Does.StartWith("jobs/x.yaml:1:1: expect.dom0-prompt: required field is missing"));
    }

    [Test]
    public void EmptyRequiredValue() =>
        Assert.That(Mistakes(Replace("name: x", "name:")), Is.EqualTo(new[] { "jobs/x.yaml:1:6: name: required field is empty" }));

    [Test]
    public void TagsAloneAreEnoughButNotAnEmptyList()
    {
        Assert.That(JobFile.Parse(Replace("board: qemu-xen", "tags: [qemu, xen]"), Source).Tags, Is.EqualTo(new[] { "qemu", "xen" }));
        Assert.That(Mistakes(Replace("board: qemu-xen", "tags: []")), Has.One.StartWith("jobs/x.yaml:2:7: tags: an empty tag list"));
    }

    [Test]
    public void ScalarWhereAListBelongs() =>
        Assert.That(Mistakes(Replace("checks: [vpci]", "checks: vpci")),
            Is.EqualTo(new[] { "jobs/x.yaml:13:9: checks: expected a list, got \"vpci\" (write [vpci] or one '- item' per line)" }));

    [Test]
    public void ListWhereAStringBelongs() =>
        Assert.That(Mistakes(Replace("artifacts: bookworm", "artifacts: [bookworm]")),
            Is.EqualTo(new[] { "jobs/x.yaml:3:12: artifacts: expected a string, got a list" }));

    [Test]
    public void InvalidRegex()
    {
        var lines = Mistakes(Replace(@"'\(XEN\) Xen version'", @"'(XEN) Xen version ('"));
        Assert.That(lines, Has.Count.EqualTo(1));
        Assert.That(lines[0], Does.StartWith("jobs/x.yaml:8:15: expect.xen-banner: \"(XEN) Xen version (\" is not a valid .NET regex:"));
    }

    [Test]
    public void BadDuration() =>
        Assert.That(Mistakes(Replace("dom0-prompt: 2m", "dom0-prompt: \"5 minutes\"")),
            Is.EqualTo(new[] { "jobs/x.yaml:6:16: timeouts.dom0-prompt: \"5 minutes\" is not a duration (use 90s, 5m, 1h30m)" }));

    [Test]
    public void ZeroDuration() =>
        Assert.That(Mistakes(Replace("power-on: 10s", "power-on: 0s")),
            Is.EqualTo(new[] { "jobs/x.yaml:5:13: timeouts.power-on: \"0s\" must be greater than zero" }));

    [Test]
    public void StageLongerThanTheJob() =>
        Assert.That(Mistakes(Replace("dom0-prompt: 2m", "dom0-prompt: 2m\n  job: 1m")),
            Is.EqualTo(new[] { "jobs/x.yaml:6:16: timeouts.dom0-prompt: 2m is longer than the whole job (1m, timeouts.job)" }));

    [Test]
    public void EmptyCommandEntries()
    {
        var lines = Mistakes(Replace("  - xl info\n", "  - xl info\n  -\n  - ''\n"));
        Assert.That(lines, Is.EqualTo(new[]
        {
            "jobs/x.yaml:12:4: commands[1]: empty command",
            "jobs/x.yaml:13:5: commands[2]: empty command",
        }));
    }

    [Test]
    public void UnquotedColonInACommand() =>
        Assert.That(Mistakes(Replace("  - lspci -vvv", "  - echo a: b")),
            Is.EqualTo(new[] { "jobs/x.yaml:12:5: commands[1]: expected a string, got a mapping (quote commands that contain ': ')" }));

    [Test]
    public void DuplicateCommandsWouldOverwriteEvidence() =>
        Assert.That(Mistakes(Replace("  - lspci -vvv", "  - xl info")), Has.One.StartWith("jobs/x.yaml:12:5: commands[1]: duplicate command \"xl info\""));

    [Test]
    public void InvalidName() =>
        Assert.That(Mistakes(Replace("name: x", "name: xen smoke")), Has.One.StartWith("jobs/x.yaml:1:7: name: \"xen smoke\" is not a valid name"));

    [Test]
    public void MetadataValuesMustBeStrings() =>
        Assert.That(Mistakes(Replace("metadata: {owner: ci}", "metadata: {owner: [ci]}")),
            Is.EqualTo(new[] { "jobs/x.yaml:14:19: metadata.owner: expected a string, got a list" }));

    [Test]
    public void EveryMistakeGetsItsOwnLineInFileOrder()
    {
        var yaml = Valid
            .Replace("name: x", "name:")
            .Replace("power-on: 10s", "power-on: soon")
            .Replace("dom0-prompt: 2m", "dom0_prompt: 2m")
            .Replace(@"'\(XEN\) Xen version'", "'('")
            .Replace("  - lspci -vvv", "  - ''");
        var lines = Mistakes(yaml);
        Assert.That(lines.Select(l => l.Split(':')[1]), Is.EqualTo(new[] { "1", "5", "6", "8", "12" }));
        Assert.That(lines, Has.Count.EqualTo(5));
    }

    [Test]
    public void MissingFileNamesThePath()
    {
        var e = Assert.Throws<ConfigurationException>(() => JobFile.Load("jobs/does-not-exist.yaml"))!;
        Assert.That(e.Message, Is.EqualTo("job file not found: jobs/does-not-exist.yaml"));
    }
}
