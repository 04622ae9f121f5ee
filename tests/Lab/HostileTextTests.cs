using System.Diagnostics;
using Farm.Cli;
using Farm.Lab;
using Farm.Lab.Leases;
using Farm.Tests.Spec;
using Farm.Web;

namespace Farm.Tests.Lab;

/// <summary>Text other users control (a lease note, a user name) reaching a terminal or the tokens file (issue 15, items 6 and 7).</summary>
public class HostileTextTests
{
    string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("farm-hostile-").FullName;

    [TearDown]
    public void TearDown()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public async Task FarmLeasesShowsAnEscSequenceInANoteWithoutSendingIt()
    {
        var db = $"Data Source={Path.Combine(_dir, "lab.db")}";
        await using (var lab = await LabDatabase.OpenAsync(db, default))
            await new LeaseStore(lab, TimeProvider.System).AcquireAsync("qemu-xen", "mallory", TimeSpan.FromHours(1), LeaseKind.Interactive,
                "bisect\u001b]0;pwned\u0007\u001b[2J\rfake", default);
        var psi = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "farm"), ["leases", "--db", db, "--lab", Checkout.File("boards")])
        { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["COLUMNS"] = "300";
        using var p = Process.Start(psi)!;
        var output = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.That(p.ExitCode, Is.Zero, await p.StandardError.ReadToEndAsync());
        Assert.That(output, Does.Not.Contain("\u001b]0;").And.Not.Contain("\u001b[2J").And.Not.Contain("\u0007").And.Not.Contain("\r"));
        Assert.That(output, Does.Contain("\\x1b"), output);
    }

    [Test]
    public void TerminalTextKeepsNewlinesAndShowsEveryOtherControlCharacter() =>
        Assert.That(TerminalText.Plain("a\u001b[31mred\r\nb\tc\u0000\u202e"), Is.EqualTo("a\\x1b[31mred\\r\nb\\tc\\x00\\x202e"));

    [TestCase("eve}\n- {user: mallory, role: admin, sha256: 00}")]
    [TestCase("eve, role: admin")]
    [TestCase("")]
    [TestCase("-eve")]
    [TestCase("eve\u001b[2J")]
    public void ATokenUserNameCannotInjectYaml(string user)
    {
        var file = Path.Combine(_dir, "tokens.yaml");
        ApiTokens.Issue(file, "ops", ApiRole.Admin);
        var before = File.ReadAllText(file);
        Assert.Throws<ConfigurationException>(() => ApiTokens.Issue(file, user, ApiRole.Viewer));
        Assert.That(File.ReadAllText(file), Is.EqualTo(before), "nothing was appended");
        var token = ApiTokens.Issue(file, "eve@lab.example", ApiRole.Viewer);
        Assert.That(ApiTokens.Load(file).Find(token), Is.EqualTo(new ApiUser("eve@lab.example", ApiRole.Viewer)));
    }
}
