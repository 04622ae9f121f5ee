using Farm.Cli;
using Farm.Tests.Spec;

namespace Farm.Tests.Cli;

/// <summary>farm reserve / renew / release / leases against a real SQLite lab database and the repository's lab.</summary>
public class LeaseCommandTests
{
    string _dir = "";
    string[] Common(string user) => ["--lab", Checkout.File("boards"), "--db", $"Data Source={Path.Combine(_dir, "lab.db")}", "--as", user];

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("farm-lease-cli-").FullName;

    [TearDown]
    public void TearDown()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public async Task ReserveIsExclusiveUntilReleasedAndTagsPickAFreeBoard()
    {
        Assert.That(await FarmApp.RunAsync(["reserve", "qemu-xen", "--for", "2h", "--note", "bisect", .. Common("alice")]), Is.EqualTo(0));
        Assert.That(await FarmApp.RunAsync(["reserve", "qemu-xen", "--for", "1h", .. Common("bob")]), Is.EqualTo(1), "taken");
        // bob asks by tags instead: qemu-xen is taken, so he gets the next board carrying qemu + xen.
        Assert.That(await FarmApp.RunAsync(["reserve", "--tag", "qemu", "--tag", "xen", "--for", "1h", .. Common("bob")]), Is.EqualTo(0));
        Assert.That(await FarmApp.RunAsync(["renew", "qemu-xen", "--for", "3h", .. Common("alice")]), Is.EqualTo(0));
        Assert.That(await FarmApp.RunAsync(["renew", "qemu-xen", .. Common("bob")]), Is.EqualTo(1), "bob holds no lease on it");
        Assert.That(await FarmApp.RunAsync(["release", "qemu-xen", .. Common("alice")]), Is.EqualTo(0));
        Assert.That(await FarmApp.RunAsync(["reserve", "qemu-xen", .. Common("bob")]), Is.EqualTo(0));
        Assert.That(await FarmApp.RunAsync(["leases", "--audit", "qemu-xen", .. Common("bob")]), Is.EqualTo(0));

        await using var db = await Farm.Lab.LabDatabase.OpenAsync($"Data Source={Path.Combine(_dir, "lab.db")}", default);
        var active = await new Farm.Lab.Leases.LeaseStore(db, TimeProvider.System).ActiveAsync(default);
        Assert.That(active.Select(l => (l.Board, l.Holder)), Is.EquivalentTo(new[] { ("qemu-xen", "bob"), ("qemu-xen-snap", "bob") }));
    }

    [Test]
    public async Task UnknownBoardAndBadDurationAreErrors()
    {
        Assert.That(await FarmApp.RunAsync(["reserve", "qemu-xne", .. Common("alice")]), Is.EqualTo(Verdict.Error.ExitCode()));
        Assert.That(await FarmApp.RunAsync(["reserve", "qemu-xen", "--for", "soon", .. Common("alice")]), Is.EqualTo(Verdict.Error.ExitCode()));
    }
}
