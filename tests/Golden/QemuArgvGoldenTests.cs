using Farm.Boards.Qemu;
using Farm.Boards.Spec;
using Farm.Ssh;
using Farm.Tests.Spec;

namespace Farm.Tests.Golden;

/// <summary>
/// Every QEMU board of the shipped lab files, its command line byte for byte as committed in
/// tests/Golden/qemu-argv/&lt;board&gt;.argv (one argument a line): a change to a board file or to the
/// builder shows up as a diff of QEMU's argv. Set FARM_UPDATE_GOLDEN=1 to rewrite them.
/// </summary>
public class QemuArgvGoldenTests
{
    static readonly string[] LabFiles = ["boards", "lab/example-bench.yaml"];

    static IEnumerable<TestCaseData> Boards() =>
        LabFiles.SelectMany(f => LabFile.Load(Checkout.File(f)).Boards.Where(b => b.Hardware is QemuSpec).Select(b => new TestCaseData(f, b.Name).SetName($"Argv({b.Name})")));

    /// <summary>Fixed inputs, so the argv depends on the board alone.</summary>
    static QemuLaunchInputs Inputs(string board) => new(
        new ArtifactSet("/artifacts/set", "/artifacts/set/xen", "/artifacts/set/vmlinuz", "/artifacts/set/initrd.cpio.gz",
            new Dictionary<string, string>(), new Dictionary<string, string>()),
        ["farm.sshkey=KEY", "farm.run=RUN"], $"/runs/RUN/{board}", new SshEndpoint("127.0.0.1", 2222, "root"));

    internal static string Render(QemuBoardConfig config)
    {
        var plan = QemuCommandLine.Build(config, Inputs(config.Name));
        var lines = new List<string> { $"# {config.Binary.Replace(Checkout.Root, "{checkout}")}" };
        lines.AddRange(plan.Arguments);
        if (plan.UBootCommands is { } uboot) lines.AddRange(uboot.Select(c => $"# u-boot: {c}"));
        return string.Join('\n', lines) + "\n";
    }

    [TestCaseSource(nameof(Boards))]
    public void Argv(string labFile, string boardName)
    {
        var board = LabFile.Load(Checkout.File(labFile)).Find(boardName)!;
        var argv = Render(QemuBoardConfig.From(board));
        var golden = Checkout.File($"tests/Golden/qemu-argv/{boardName}.argv");
        if (Environment.GetEnvironmentVariable("FARM_UPDATE_GOLDEN") == "1") File.WriteAllText(golden, argv);
        Assert.That(File.Exists(golden), $"{golden} missing: run with FARM_UPDATE_GOLDEN=1 and review it");
        Assert.That(argv, Is.EqualTo(File.ReadAllText(golden)), $"QEMU's argv for {boardName} changed: review, then FARM_UPDATE_GOLDEN=1");
    }

    [Test]
    public void EveryGoldenFileBelongsToABoard()
    {
        var boards = LabFiles.SelectMany(f => LabFile.Load(Checkout.File(f)).Boards).Select(b => b.Name).ToHashSet();
        var stale = Directory.GetFiles(Checkout.File("tests/Golden/qemu-argv"), "*.argv").Select(Path.GetFileNameWithoutExtension).Where(n => !boards.Contains(n!));
        Assert.That(stale, Is.Empty, "golden argv of a board no lab file has");
    }
}
