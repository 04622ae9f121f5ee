using Farm.Jobs;
using Microsoft.Extensions.Time.Testing;

namespace Farm.Tests.Jobs;

internal class StagePipelineTests
{
    static readonly TimeSpan JobTimeout = TimeSpan.FromMinutes(30);
    FakeTimeProvider _time = null!;
    RunContext _ctx = null!;

    [SetUp]
    public void SetUp()
    {
        _time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));
        _ctx = new RunContext("r1", Path.GetTempPath(), _time) { Console = new FakeConsole("(XEN) Xen version 4.17.7", "dom0 is silent") };
    }

    static Stage Ok(string name) => new DelegateStage(name, TimeSpan.FromSeconds(30), (_, _) => Task.CompletedTask);

    static Stage Throws(string name, Exception e, bool always = false) =>
        new DelegateStage(name, TimeSpan.FromSeconds(30), (_, _) => Task.FromException(e), always);

    /// <summary>A stage that waits on its token forever and says when it has begun waiting.</summary>
    static (Stage stage, Task started) Hangs(string name, TimeSpan timeout)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stage = new DelegateStage(name, timeout, async (_, ct) =>
        {
            started.SetResult();
            await Task.Delay(Timeout.InfiniteTimeSpan, ct);
        });
        return (stage, started.Task);
    }

    [Test]
    public async Task AllStagesPassingGivesPass()
    {
        var r = await new StagePipeline(_time).RunAsync([Ok("power-on"), Ok("dom0-prompt"), Ok("power-off")], _ctx, JobTimeout, default);
        Assert.That(r.Verdict, Is.EqualTo(Verdict.Pass));
        Assert.That(r.Stages.Select(s => s.Status), Is.All.EqualTo(StageStatus.Passed));
        Assert.That(r.Stages.Select(s => s.Name), Is.EqualTo(new[] { "power-on", "dom0-prompt", "power-off" }));
    }

    [Test]
    public async Task StageThatTheRunDoesNotNeedIsRecordedSkippedAndNotRun()
    {
        bool ran = false;
        var banner = new Farm.Jobs.Stages.ExpectStage("xen-banner", TimeSpan.FromSeconds(1), new("never printed"), bootOnly: true);
        var probe = new DelegateStage("after", TimeSpan.FromSeconds(1), (_, _) => { ran = true; return Task.CompletedTask; });
        _ctx.Resume = new ResumePoint("k", "PEM", ["(XEN) Xen version 4.17.7"], "r0", _time.GetUtcNow());
        var r = await new StagePipeline(_time).RunAsync([Ok("power-on"), banner, probe], _ctx, JobTimeout, default);
        Assert.That(r.Verdict, Is.EqualTo(Verdict.Pass));
        Assert.That(r.Stages.Select(s => (s.Name, s.Status)), Is.EqualTo(new[]
        {
            ("power-on", StageStatus.Passed), ("xen-banner", StageStatus.Skipped), ("after", StageStatus.Passed),
        }));
        Assert.That(ran, Is.True);
        Assert.That(_ctx.FullConsole(), Is.EqualTo(new[] { "(XEN) Xen version 4.17.7", "(XEN) Xen version 4.17.7", "dom0 is silent" }),
            "checks see the resumed boot's log, then the live console");
    }

    [TestCase(typeof(CheckFailedException), Verdict.Fail, StageStatus.Failed, "check")]
    [TestCase(typeof(InfrastructureException), Verdict.Incomplete, StageStatus.Incomplete, "infrastructure")]
    [TestCase(typeof(ConfigurationException), Verdict.Error, StageStatus.Error, "configuration")]
    public async Task FailureClassDecidesVerdictAndLaterStagesAreSkippedButFinalisersRun(Type type, Verdict verdict, StageStatus status, string failureClass)
    {
        var e = (Exception)Activator.CreateInstance(type, "boom", null, null)!;
        bool poweredOff = false;
        var off = new DelegateStage("power-off", TimeSpan.FromSeconds(30), (_, _) => { poweredOff = true; return Task.CompletedTask; }, alwaysRun: true);
        var r = await new StagePipeline(_time).RunAsync([Ok("power-on"), Throws("commands", e), Ok("checks"), off], _ctx, JobTimeout, default);
        Assert.That(r.Verdict, Is.EqualTo(verdict));
        Assert.That(r.Stages[1].Status, Is.EqualTo(status));
        Assert.That(r.Stages[1].FailureClass, Is.EqualTo(failureClass));
        Assert.That(r.Stages[2].Status, Is.EqualTo(StageStatus.Skipped));
        Assert.That(r.Stages[3].Status, Is.EqualTo(StageStatus.Passed));
        Assert.That(poweredOff, Is.True);
    }

    [Test]
    public async Task StageTimeoutIsIncompleteNamingStageTimeoutAndConsoleTail()
    {
        var (hang, started) = Hangs("dom0-prompt", TimeSpan.FromSeconds(300));
        var run = new StagePipeline(_time).RunAsync([Ok("power-on"), hang, Ok("commands")], _ctx, JobTimeout, default);
        await started;
        _time.Advance(TimeSpan.FromSeconds(299));
        Assert.That(run.IsCompleted, Is.False, "must not time out early");
        _time.Advance(TimeSpan.FromSeconds(1));
        var r = await run;
        Assert.That(r.Verdict, Is.EqualTo(Verdict.Incomplete));
        Assert.That(r.Failure!.Message, Is.EqualTo("stage 'dom0-prompt' timed out after 300s"));
        Assert.That(r.Failure.Evidence, Does.Contain("dom0 is silent"));
        Assert.That(r.Stages[1].Duration, Is.EqualTo(TimeSpan.FromSeconds(300)));
        Assert.That(r.Stages[2].Status, Is.EqualTo(StageStatus.Skipped));
    }

    [Test]
    public async Task CallerCancellationIsReportedAsCancelledNotTimeoutAndFinaliserGetsALiveToken()
    {
        var (hang, started) = Hangs("xen-banner", TimeSpan.FromSeconds(60));
        bool finaliserTokenLive = false;
        var off = new DelegateStage("power-off", TimeSpan.FromSeconds(30), (_, ct) => { finaliserTokenLive = !ct.IsCancellationRequested; return Task.CompletedTask; }, alwaysRun: true);
        using var cts = new CancellationTokenSource();
        var run = new StagePipeline(_time).RunAsync([hang, Ok("commands"), off], _ctx, JobTimeout, cts.Token);
        await started;
        await cts.CancelAsync();
        var r = await run;
        Assert.That(r.Verdict, Is.EqualTo(Verdict.Incomplete));
        Assert.That(r.Failure!.Message, Does.StartWith("run cancelled during stage 'xen-banner'"));
        Assert.That(r.Failure.Message, Does.Not.Contain("timed out"));
        Assert.That(r.Stages[1].Status, Is.EqualTo(StageStatus.Skipped));
        Assert.That(r.Stages[2].Status, Is.EqualTo(StageStatus.Passed));
        Assert.That(finaliserTokenLive, Is.True);
    }

    [Test]
    public async Task JobTimeoutEndsTheRunEvenWhenEachStageIsWithinItsOwn()
    {
        var (hang, started) = Hangs("commands", TimeSpan.FromMinutes(10));
        var run = new StagePipeline(_time).RunAsync([hang], _ctx, TimeSpan.FromMinutes(2), default);
        await started;
        _time.Advance(TimeSpan.FromMinutes(2));
        var r = await run;
        Assert.That(r.Failure!.Message, Is.EqualTo("job timed out after 120s during stage 'commands'"));
        Assert.That(r.Verdict, Is.EqualTo(Verdict.Incomplete));
    }

    [Test]
    public async Task UnexpectedExceptionIsAFarmBugNeverBlamedOnTheSystemUnderTestNorTheLab()
    {
        var r = await new StagePipeline(_time).RunAsync([Throws("checks", new NullReferenceException("oops"))], _ctx, JobTimeout, default);
        Assert.That(r.Verdict, Is.EqualTo(Verdict.Error), "an error (Farm's), not incomplete (the lab's) nor fail (the system's)");
        Assert.That(r.Failure!.FailureClass, Is.EqualTo(FailureClass.FarmBug));
        Assert.That(r.Stages[0].FailureClass, Is.EqualTo("farm-bug"));
        Assert.That(r.Failure!.Message, Does.Contain("crashed: NullReferenceException: oops"));
        Assert.That(r.Failure.Evidence, Has.Some.Contains("System.NullReferenceException: oops").And.Some.Contains(" at "), "with its stack");
    }

    [Test]
    public async Task StageDurationComesFromTheTimeProvider()
    {
        var slow = new DelegateStage("power-on", TimeSpan.FromSeconds(30), (ctx, _) => { ((FakeTimeProvider)ctx.Time).Advance(TimeSpan.FromSeconds(7)); return Task.CompletedTask; });
        var r = await new StagePipeline(_time).RunAsync([slow], _ctx, JobTimeout, default);
        Assert.That(r.Stages[0].Duration, Is.EqualTo(TimeSpan.FromSeconds(7)));
        Assert.That(r.Stages[0].Start, Is.EqualTo(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero)));
    }
}

sealed class FakeConsole(params string[] lines) : IConsole
{
    public System.Threading.Channels.ChannelReader<ConsoleLine> Subscribe(bool replay = false) => throw new NotSupportedException();
    public Task WriteAsync(string text, CancellationToken ct) => Task.CompletedTask;
    public IReadOnlyList<string> Tail(int count) => lines.TakeLast(count).ToList();
    public Farm.Serial.ConsoleCursor Cursor(bool fromStart = true) => throw new NotSupportedException();
    IDisposable IConsole.Observe(Farm.Serial.IConsoleObserver observer) => throw new NotSupportedException();
}
