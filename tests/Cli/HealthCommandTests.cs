using Farm.Cli;
using Farm.Lab;
using Farm.Lab.Scheduling;
using Farm.Tests.Spec;

namespace Farm.Tests.Cli;

/// <summary>A board that keeps failing for lab reasons is quarantined: farm run refuses it until an operator returns it.</summary>
public class HealthCommandTests
{
    string _dir = "";
    string Db => $"Data Source={Path.Combine(_dir, "lab.db")}";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("farm-health-").FullName;

    [TearDown]
    public void TearDown()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    async Task RecordLabFailuresAsync(string board, int count)
    {
        var store = await RunStores.OpenAsync(Path.Combine(_dir, "farm.db"), default);
        for (int i = 0; i < count; i++)
            await store.SaveAsync(new RunRecord($"r{i}", "xen-smoke", board, Verdict.Incomplete, DateTimeOffset.UtcNow.AddMinutes(i - 10), TimeSpan.FromMinutes(1), [], [],
                new Provenance(new Dictionary<string, string>(), new Dictionary<string, string>()), new Dictionary<string, double>(),
                "infrastructure", "stage 'power-on' timed out after 30s"), default);
    }

    [Test]
    public async Task QuarantinedBoardIsRefusedUntilReturned()
    {
        await RecordLabFailuresAsync("qemu-xen", 3);
        var lab = new[] { "--lab", Checkout.File("boards"), "--out", _dir, "--db", Db };
        var code = await FarmApp.RunAsync(["run", Checkout.File("jobs/xen-boot.yaml"), .. lab]);
        Assert.That(code, Is.EqualTo(Verdict.Error.ExitCode()), "refused before anything starts");
        Assert.That(Directory.GetDirectories(_dir), Is.Empty, "no run directory was made");

        Assert.That(await FarmApp.RunAsync(["return", "qemu-xen", "--as", "ops", "--reason", "reseated the PSU", .. lab]), Is.EqualTo(0));
        var health = await LabHealth.EvaluateAsync(["qemu-xen"], await RunStores.OpenAsync(Path.Combine(_dir, "farm.db"), default), new LeaseSettings { Db = Db }, TimeProvider.System, default);
        Assert.That(health["qemu-xen"].Health, Is.EqualTo(BoardHealth.Healthy));

        Assert.That(await FarmApp.RunAsync(["quarantine", "qemu-xen", "--as", "ops", "--reason", "fan noise", .. lab]), Is.EqualTo(0));
        health = await LabHealth.EvaluateAsync(["qemu-xen"], await RunStores.OpenAsync(Path.Combine(_dir, "farm.db"), default), new LeaseSettings { Db = Db }, TimeProvider.System, default);
        Assert.That(health["qemu-xen"].Reason, Is.EqualTo("quarantined by ops: fan noise"));
        Assert.That(await FarmApp.RunAsync(["boards", .. lab]), Is.EqualTo(0));
    }
}
