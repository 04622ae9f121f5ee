using Farm.Lab.Health;
using Farm.Lab.Scheduling;

namespace Farm.Tests.Lab;

public class BoardHealthPolicyTests
{
    static readonly DateTimeOffset T0 = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
    static int _n;

    static RunRecord Run(int hour, Verdict v, string? failureClass = null, string? message = null, string board = "rpi4-1") =>
        new($"r{++_n}", "xen-smoke", board, v, T0.AddHours(hour), TimeSpan.FromMinutes(3), [], [],
            new Provenance(new Dictionary<string, string>(), new Dictionary<string, string>()), new Dictionary<string, double>(), failureClass, message);

    static RunRecord Lab(int hour, string why = "power: snmp pdu1:161 outlet 3 reads back off 10s after switching on") => Run(hour, Verdict.Incomplete, "infrastructure", why);

    [Test]
    public void ThreeInfrastructureFailuresInARowQuarantineWithEvidence()
    {
        var s = BoardHealthPolicy.Evaluate("rpi4-1", [Run(0, Verdict.Pass), Lab(1), Lab(2), Lab(3, "stage 'dom0-prompt' timed out after 300s\n(XEN) ...")], []);
        Assert.That(s.Health, Is.EqualTo(BoardHealth.Quarantined));
        Assert.That(s.Reason, Is.EqualTo("quarantined: 3 infrastructure failures in a row, last: stage 'dom0-prompt' timed out after 300s"));
        Assert.That(s.Evidence, Has.Count.EqualTo(3));
    }

    [Test]
    public void AFailOfTheSystemUnderTestProvesTheBoardWorks()
    {
        // Xen failing its checks is the product's fault, not the board's: the streak is broken.
        var s = BoardHealthPolicy.Evaluate("rpi4-1", [Lab(0), Lab(1), Run(2, Verdict.Fail, "check", "3 of 30 checks failed"), Lab(3), Lab(4)], []);
        Assert.That(s.Health, Is.EqualTo(BoardHealth.Healthy));
        Assert.That(s.Reason, Is.EqualTo("healthy (2 infrastructure failure(s) in a row)"));
    }

    [Test]
    public void BadInputAndOtherBoardsDoNotCount()
    {
        var s = BoardHealthPolicy.Evaluate("rpi4-1",
            [Lab(0), Run(1, Verdict.Error, "configuration", "job file: bad"), Lab(2), Lab(3, "x") with { Board = "rpi4-2" }], []);
        Assert.That(s.Health, Is.EqualTo(BoardHealth.Healthy), "two failures on this board; the error and the other board's failure do not count");
    }

    [Test]
    public void CancelledAndUnfinishedRunsDoNotCount()
    {
        var s = BoardHealthPolicy.Evaluate("rpi4-1", [Lab(0), Run(1, Verdict.Incomplete, "canceled", "run cancelled during stage 'dom0-prompt'"),
            Lab(2, "run did not finish") with { State = RunState.Running }, Lab(3)], []);
        Assert.That(s.Health, Is.EqualTo(BoardHealth.Healthy));
    }

    [Test]
    public void HealthDecidesByFailureClassNotByMessage()
    {
        // The same words as a cancel, but a timeout: it counts. A Farm bug says "crashed" and never counts.
        var timeouts = BoardHealthPolicy.Evaluate("rpi4-1", [Lab(0), Run(1, Verdict.Incomplete, "timeout", "run cancelled? no: stage 'dom0-prompt' timed out after 300s"), Lab(2)], []);
        Assert.That(timeouts.Health, Is.EqualTo(BoardHealth.Quarantined));
        var bugs = BoardHealthPolicy.Evaluate("rpi4-1", [Lab(0), Run(1, Verdict.Error, "farm-bug", "stage 'checks' crashed: NullReferenceException"),
            Run(2, Verdict.Incomplete, "farm-bug", "a farm bug recorded as incomplete by an old agent"), Lab(3)], []);
        Assert.That(bugs.Health, Is.EqualTo(BoardHealth.Healthy), "2 lab failures; Farm's own bugs are not the board's");
        var running = BoardHealthPolicy.Evaluate("rpi4-1", [Lab(0), Lab(1) with { State = RunState.Running }, Lab(2)], []);
        Assert.That(running.Health, Is.EqualTo(BoardHealth.Healthy), "a run still going is no failure yet");
    }

    [Test]
    public void OperatorCanQuarantineAndBringBack()
    {
        var runs = new[] { Lab(0), Lab(1), Lab(2) };
        Assert.That(BoardHealthPolicy.Evaluate("rpi4-1", runs, []).Health, Is.EqualTo(BoardHealth.Quarantined));
        var back = new BoardEvent(T0.AddHours(5), "rpi4-1", "return", "ops", "replaced the PSU");
        Assert.That(BoardHealthPolicy.Evaluate("rpi4-1", runs, [back]).Health, Is.EqualTo(BoardHealth.Healthy), "failures before the return are forgiven");
        var manual = new BoardEvent(T0.AddHours(6), "rpi4-1", "quarantine", "ops", "fan noise");
        var s = BoardHealthPolicy.Evaluate("rpi4-1", [Run(7, Verdict.Pass)], [back, manual]);
        Assert.That(s.Reason, Is.EqualTo("quarantined by ops: fan noise"));
    }
    [TestCase("quarantine", "return", "Healthy")]
    [TestCase("return", "quarantine", "Quarantined")]
    public void TheLastWrittenDecisionStandsEvenInTheSameMillisecond(string first, string second, string health)
    {
        var expected = Enum.Parse<BoardHealth>(health);
        var events = new[] { new BoardEvent(T0, "rpi4-1", first, "ops", "a"), new BoardEvent(T0, "rpi4-1", second, "ops", "b") };
        Assert.That(BoardHealthPolicy.Evaluate("rpi4-1", [], events).Health, Is.EqualTo(expected));
    }

    /// <summary>
    /// Two controllers share one lab database and one's clock is a second behind: ops quarantine on the first,
    /// then return the board on the second. The store gives the decisions in the order they were written, so
    /// the return stands (by time alone, the earlier-stamped return would sort first and the board stay out).
    /// </summary>
    [Test]
    public async Task DecisionsComeBackInTheOrderTheyWereWritten()
    {
        var dir = Directory.CreateTempSubdirectory("farm-events-").FullName;
        try
        {
            await using var db = await Farm.Lab.LabDatabase.OpenAsync($"Data Source={Path.Combine(dir, "lab.db")}", default);
            var ahead = new BoardEventStore(db, new Microsoft.Extensions.Time.Testing.FakeTimeProvider(T0.AddSeconds(1)));
            var behind = new BoardEventStore(db, new Microsoft.Extensions.Time.Testing.FakeTimeProvider(T0));
            await ahead.RecordAsync("rpi4-1", "quarantine", "ops", "fan noise", default);
            await behind.RecordAsync("rpi4-1", "return", "ops", "fan replaced", default);
            await behind.RecordAsync("rpi4-2", "quarantine", "ops", "x", default);
            await behind.RecordAsync("rpi4-2", "return", "ops", "y", default);
            var events = await ahead.AllAsync(default);
            Assert.That(events.Select(e => (e.Board, e.Action)), Is.EqualTo(new[]
                { ("rpi4-1", "quarantine"), ("rpi4-1", "return"), ("rpi4-2", "quarantine"), ("rpi4-2", "return") }));
            Assert.That(BoardHealthPolicy.Evaluate("rpi4-1", [], events).Health, Is.EqualTo(BoardHealth.Healthy));
            Assert.That(BoardHealthPolicy.Evaluate("rpi4-2", [], events).Health, Is.EqualTo(BoardHealth.Healthy));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }
}
