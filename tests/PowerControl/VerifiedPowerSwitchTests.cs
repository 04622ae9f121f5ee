using Farm.PowerControl;
using Microsoft.Extensions.Time.Testing;

namespace Farm.Tests.PowerControl;

/// <summary>Read-back, bounded retries and one-call-at-a-time per device, on a scripted backend.</summary>
public class VerifiedPowerSwitchTests
{
    sealed class ScriptedBackend(string device) : IPowerBackend
    {
        int _inFlight;
        public PowerState State = PowerState.Off;
        public Func<PowerState, PowerState>? Apply;              // what a switch really does (default: obeys)
        public Queue<Exception> SwitchFaults { get; } = new();
        public Queue<PowerState> Readings { get; } = new();      // scripted read-backs before the real state
        public int Switches, MaxInFlight;

        public string Device => device;
        public string Describe => $"{device} outlet 3";
        public IReadOnlyList<string> LastExchange => ["GET /status", "200 OK"];

        public async Task SwitchAsync(PowerState state, CancellationToken ct)
        {
            MaxInFlight = Math.Max(MaxInFlight, Interlocked.Increment(ref _inFlight));
            await Task.Yield();
            Switches++;
            Interlocked.Decrement(ref _inFlight);
            if (SwitchFaults.TryDequeue(out var e)) throw e;
            State = Apply?.Invoke(state) ?? state;
        }

        public Task<PowerState> ReadAsync(CancellationToken ct) => Task.FromResult(Readings.TryDequeue(out var r) ? r : State);
    }

    static readonly PowerPolicy Quick = new() { Retries = 2, RetryDelay = TimeSpan.Zero, Settle = TimeSpan.Zero };

    [Test]
    public async Task SwitchIsReadBack()
    {
        var b = new ScriptedBackend("pdu-a");
        var power = new VerifiedPowerSwitch(b, new FakeTimeProvider(), Quick);
        await power.SetAsync(PowerState.On, CancellationToken.None);
        Assert.That(await power.GetAsync(CancellationToken.None), Is.EqualTo(PowerState.On));
        Assert.That(b.Switches, Is.EqualTo(1));
    }

    [Test]
    public async Task OutletThatIgnoresTheSwitchIsIncompleteNamingIt()
    {
        var b = new ScriptedBackend("pdu-b") { Apply = _ => PowerState.Off };   // a stuck relay
        var power = new VerifiedPowerSwitch(b, new FakeTimeProvider(), Quick);
        var e = (await Assert.ThrowsAsync<InfrastructureException>(() => power.SetAsync(PowerState.On, CancellationToken.None)))!;
        Assert.That(e.Verdict, Is.EqualTo(Verdict.Incomplete));
        Assert.That(e.Message, Is.EqualTo("power: pdu-b outlet 3 reads back off 0s after switching on"));
        Assert.That(e.Evidence, Is.EqualTo(new[] { "GET /status", "200 OK" }));
    }

    [Test]
    public async Task ReadBackWaitsForTheStateToSettle()
    {
        var time = new FakeTimeProvider();
        var b = new ScriptedBackend("bmc-c");
        foreach (var r in new[] { PowerState.Unknown, PowerState.Unknown }) b.Readings.Enqueue(r);   // "PoweringOn"
        var power = new VerifiedPowerSwitch(b, time, Quick with { Settle = TimeSpan.FromSeconds(10), PollInterval = TimeSpan.FromSeconds(1) });
        var set = power.SetAsync(PowerState.On, CancellationToken.None);
        for (int i = 0; i < 50 && !set.IsCompleted; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(1);
        }
        await set;
        Assert.That(b.Readings, Is.Empty, "polled through the transition");
    }

    [Test]
    public async Task TransientFaultsAreRetriedWithinTheBudget()
    {
        var b = new ScriptedBackend("pdu-d");
        b.SwitchFaults.Enqueue(new InfrastructureException("connection reset"));
        b.SwitchFaults.Enqueue(new InfrastructureException("connection reset"));
        await new VerifiedPowerSwitch(b, new FakeTimeProvider(), Quick).SetAsync(PowerState.On, CancellationToken.None);
        Assert.That(b.Switches, Is.EqualTo(3));
        Assert.That(b.State, Is.EqualTo(PowerState.On));
    }

    [Test]
    public async Task BudgetExhaustedIsIncomplete()
    {
        var b = new ScriptedBackend("pdu-e");
        for (int i = 0; i < 5; i++) b.SwitchFaults.Enqueue(new InfrastructureException($"timeout {i}"));
        var e = (await Assert.ThrowsAsync<InfrastructureException>(() => new VerifiedPowerSwitch(b, new FakeTimeProvider(), Quick).SetAsync(PowerState.On, CancellationToken.None)))!;
        Assert.That(e.Message, Is.EqualTo("timeout 2"));
        Assert.That(b.Switches, Is.EqualTo(3), "1 try + 2 retries");
    }

    [Test]
    public async Task BadSettingsAreNotRetried()
    {
        var b = new ScriptedBackend("pdu-f");
        b.SwitchFaults.Enqueue(new ConfigurationException("401 Unauthorized: check the credentials"));
        await Assert.ThrowsAsync<ConfigurationException>(() => new VerifiedPowerSwitch(b, new FakeTimeProvider(), Quick).SetAsync(PowerState.On, CancellationToken.None));
        Assert.That(b.Switches, Is.EqualTo(1));
    }

    [Test]
    public async Task OneDeviceSwitchesOneOutletAtATime()
    {
        var device = new ScriptedBackend("pdu-g");
        // Eight boards on the same PDU, switched at once.
        var boards = Enumerable.Range(0, 8).Select(_ => new VerifiedPowerSwitch(device, new FakeTimeProvider(), Quick)).ToList();
        await Task.WhenAll(boards.Select((b, i) => Task.Run(() => b.SetAsync(i % 2 == 0 ? PowerState.On : PowerState.Off, CancellationToken.None))));
        Assert.That(device.Switches, Is.EqualTo(8));
        Assert.That(device.MaxInFlight, Is.EqualTo(1));
    }
}
