using Farm.PowerControl;
using Farm.Scenarios.Sim;

namespace Farm.Scenarios;

/// <summary>Power backends against real simulators (HTTP ones are in tests/PowerControl).</summary>
[Category("Power")]
public class PowerScenarios
{
    static readonly PowerPolicy Quick = new() { Retries = 1, RetryDelay = TimeSpan.FromMilliseconds(100), Settle = TimeSpan.FromSeconds(2), PollInterval = TimeSpan.FromMilliseconds(100) };

    [Test]
    public async Task SnmpPduSwitchesAnOutletAndReadsItBack()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var pdu = await SnmpPdu.StartAsync(Path.Combine(ScenarioArtifacts.NewRunDirectory(), "pdu"), cts.Token);
        var outlet3 = new VerifiedPowerSwitch(new SnmpPowerBackend("127.0.0.1", pdu.Port, 3, SnmpPdu.Community, TimeSpan.FromSeconds(2)), policy: Quick);
        await outlet3.SetAsync(PowerState.On, cts.Token);
        Assert.That(await outlet3.GetAsync(cts.Token), Is.EqualTo(PowerState.On));
        Assert.That(File.ReadAllText(Path.Combine(pdu.Directory, "outlet3")).Trim(), Is.EqualTo("1"), "the agent's outlet table changed");
        var outlet4 = new VerifiedPowerSwitch(new SnmpPowerBackend("127.0.0.1", pdu.Port, 4, SnmpPdu.Community, TimeSpan.FromSeconds(2)), policy: Quick);
        Assert.That(await outlet4.GetAsync(cts.Token), Is.EqualTo(PowerState.Off), "other outlets untouched");
        await outlet3.SetAsync(PowerState.Off, cts.Token);
        Assert.That(await outlet3.GetAsync(cts.Token), Is.EqualTo(PowerState.Off));
    }

    [Test]
    public async Task SnmpOutletThatDoesNotSwitchAndWrongCommunityAreIncomplete()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var pdu = await SnmpPdu.StartAsync(Path.Combine(ScenarioArtifacts.NewRunDirectory(), "pdu"), cts.Token);
        // A relay welded open: the status hook always says off.
        var status = Path.Combine(pdu.Directory, "outlet5.status");
        await File.WriteAllTextAsync(status, "#!/bin/sh\necho 2\n", cts.Token);
        File.SetUnixFileMode(status, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var stuck = new VerifiedPowerSwitch(new SnmpPowerBackend("127.0.0.1", pdu.Port, 5, SnmpPdu.Community, TimeSpan.FromSeconds(2)), policy: Quick with { Settle = TimeSpan.FromMilliseconds(500) });
        var e = await Assert.ThrowsAsync<InfrastructureException>(() => stuck.SetAsync(PowerState.On, cts.Token));
        Assert.That(e!.Message, Does.StartWith($"power: snmp 127.0.0.1:{pdu.Port} outlet 5 reads back off"));
        Assert.That(e.Evidence, Has.Some.Contains("snmpget -v2c -c *** "), "the exchange, community masked");

        var wrong = new VerifiedPowerSwitch(new SnmpPowerBackend("127.0.0.1", pdu.Port, 1, "guess", TimeSpan.FromSeconds(1)), policy: Quick);
        e = await Assert.ThrowsAsync<InfrastructureException>(() => wrong.SetAsync(PowerState.On, cts.Token));
        Assert.That(e!.Message, Does.Contain("snmpset failed: Timeout").And.Contain("is the community right?"));
        Assert.That(e.Message + string.Join("\n", e.Evidence), Does.Not.Contain("guess"));
    }

    [Test]
    public async Task PduDaemonSwitchesAndTheStatusCommandReadsBack()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var pdud = await PduDaemon.StartAsync(Path.Combine(ScenarioArtifacts.NewRunDirectory(), "pdudaemon"), cts.Token);
        var state = Path.Combine(pdud.Directory, "outlet3");
        var status = new CommandPowerBackend("sim-3", "true", "true", $"cat {state} 2>/dev/null || echo off", TimeSpan.FromSeconds(5));
        using var backend = new PduDaemonPowerBackend(pdud.Uri, "sim", 3, status, TimeSpan.FromSeconds(5));
        // pdudaemon queues requests: the read-back waits for the outlet to change.
        var power = new VerifiedPowerSwitch(backend, policy: Quick with { Settle = TimeSpan.FromSeconds(10) });
        await power.SetAsync(PowerState.On, cts.Token);
        Assert.That(File.ReadAllText(state).Trim(), Is.EqualTo("on"));
        await power.SetAsync(PowerState.Off, cts.Token);
        Assert.That(await power.GetAsync(cts.Token), Is.EqualTo(PowerState.Off));

        // An outlet whose load never comes up: pdudaemon accepts, the status says off.
        var never = new CommandPowerBackend("sim-4", "true", "true", "echo off", TimeSpan.FromSeconds(5));
        using var stuck = new PduDaemonPowerBackend(pdud.Uri, "sim", 4, never, TimeSpan.FromSeconds(5));
        var m = await Assert.ThrowsAsync<InfrastructureException>(() =>
            new VerifiedPowerSwitch(stuck, policy: Quick with { Settle = TimeSpan.FromMilliseconds(500) }).SetAsync(PowerState.On, cts.Token));
        Assert.That(m!.Message, Does.StartWith($"power: pdudaemon {pdud.Uri.GetLeftPart(UriPartial.Authority)} sim port 4 reads back off"));

        using var unknown = new PduDaemonPowerBackend(pdud.Uri, "no-such-pdu", 1, status, TimeSpan.FromSeconds(5));
        var e = await Assert.ThrowsAsync<InfrastructureException>(() => new VerifiedPowerSwitch(unknown, policy: Quick).SetAsync(PowerState.On, cts.Token));
        Assert.That(e!.Message, Does.StartWith($"power: pdudaemon {pdud.Uri.GetLeftPart(UriPartial.Authority)} no-such-pdu port 1: GET /power/control/on?hostname=no-such-pdu&port=1 answered 500"));
    }

    [Test]
    public async Task IpmiBmcSwitchesChassisPowerAndReadsItBack()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var bmc = await IpmiSim.StartAsync(Path.Combine(ScenarioArtifacts.NewRunDirectory(), "bmc"), cts.Token);
        var power = new VerifiedPowerSwitch(new IpmiPowerBackend("127.0.0.1", bmc.Port, IpmiSim.User, IpmiSim.Password, TimeSpan.FromSeconds(2)), policy: Quick);
        await power.SetAsync(PowerState.On, cts.Token);
        Assert.That(await power.GetAsync(cts.Token), Is.EqualTo(PowerState.On));
        Assert.That(File.ReadAllText(Path.Combine(bmc.Directory, "power")).Trim(), Is.EqualTo("1"), "the BMC's chassis control was driven");
        await power.SetAsync(PowerState.Off, cts.Token);
        Assert.That(await power.GetAsync(cts.Token), Is.EqualTo(PowerState.Off));
    }

    [Test]
    public async Task IpmiChassisThatStaysOffAndWrongPasswordAreIncomplete()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var bmc = await IpmiSim.StartAsync(Path.Combine(ScenarioArtifacts.NewRunDirectory(), "bmc"), cts.Token);
        var status = Path.Combine(bmc.Directory, "power.status");
        await File.WriteAllTextAsync(status, "#!/bin/sh\necho 0\n", cts.Token);   // the server does not come up
        File.SetUnixFileMode(status, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var dead = new VerifiedPowerSwitch(new IpmiPowerBackend("127.0.0.1", bmc.Port, IpmiSim.User, IpmiSim.Password, TimeSpan.FromSeconds(2)),
            policy: Quick with { Settle = TimeSpan.FromMilliseconds(500) });
        var e = await Assert.ThrowsAsync<InfrastructureException>(() => dead.SetAsync(PowerState.On, cts.Token));
        Assert.That(e!.Message, Does.StartWith($"power: ipmi 127.0.0.1:{bmc.Port} reads back off"));
        Assert.That(e.Evidence, Has.Some.EqualTo("Chassis Power is off"));

        var wrong = new VerifiedPowerSwitch(new IpmiPowerBackend("127.0.0.1", bmc.Port, IpmiSim.User, "guess", TimeSpan.FromSeconds(1)), policy: Quick);
        e = await Assert.ThrowsAsync<InfrastructureException>(() => wrong.SetAsync(PowerState.On, cts.Token));
        Assert.That(e!.Message, Does.Contain("are the user and password right?"));
        Assert.That(e.Message + string.Join("\n", e.Evidence), Does.Not.Contain("guess"));
    }
}
