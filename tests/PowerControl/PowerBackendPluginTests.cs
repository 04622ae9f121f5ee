using Farm.Boards.Physical;
using Farm.Boards.Spec;
using Farm.PowerControl;

namespace Farm.Tests.PowerControl;

/// <summary>
/// The power backend extension point is real: a backend written here, in the test project, is
/// registered, named by a lab file, validated at its line, and switches a physical board,
/// with no edit to farm/.
/// </summary>
public class PowerBackendPluginTests
{
    /// <summary>A relay board that answers in memory (what a new backend's one file holds: record, reader, backend).</summary>
    sealed record MemoryRelayPower(string Bank, int Channel) : PowerSpec
    {
        public static readonly PowerBackendEntry Entry = new("memory-relay", ["bank", "channel"], f =>
        {
            var all = f.Require("bank", "channel");
            var (bank, channel) = (f.Text("bank"), f.Integer("channel", min: 1));
            return all && bank is not null && channel is { } c ? new MemoryRelayPower(bank, c) : null;
        });

        public override string Backend => "memory-relay";
        public override string Summary => $"memory-relay {Bank} channel {Channel}";
        internal override IPowerBackend Create(PowerContext context) => new MemoryRelay($"memory-relay {Bank}", Channel);
    }

    sealed class MemoryRelay(string device, int channel) : IPowerBackend
    {
        public static readonly Dictionary<string, PowerState> States = new();
        public string Device => device;
        public string Describe => $"{device} channel {channel}";
        public Task SwitchAsync(PowerState state, CancellationToken ct) { lock (States) States[Describe] = state; return Task.CompletedTask; }
        public Task<PowerState> ReadAsync(CancellationToken ct) { lock (States) return Task.FromResult(States.GetValueOrDefault(Describe, PowerState.Off)); }
        public IReadOnlyList<string> LastExchange => [];
    }

    static string Lab(string power) => $$"""
        board-types:
          bench:
            kind: uboot
            mode: native
            linux-cmdline: console=ttyAMA0
        boards:
          - name: b1
            type: bench
            power: {{power}}
            serial: {device: /dev/ttyUSB9}
            network: {ip: 192.168.10.21, server-ip: 192.168.10.1, tftp-root: /srv/tftp}
        """;

    [OneTimeSetUp]
    public void Register() => PowerBackends.Register(MemoryRelayPower.Entry);

    [Test]
    public async Task ARegisteredBackendIsReadFromTheLabFileAndSwitchesTheBoard()
    {
        var board = LabFile.Parse(Lab("{backend: memory-relay, bank: rack2, channel: 4}"), "lab/plugin.yaml").Find("b1")!;
        var bench = (UBootBoardSpec)board.Hardware;
        Assert.That(bench.Power, Is.EqualTo(new MemoryRelayPower("rack2", 4)));
        Assert.That(bench.Power!.Summary, Is.EqualTo("memory-relay rack2 channel 4"));
        // A physical board is composed from it (its constructor makes the backend), and Farm's verified switch drives it.
        await using var physical = new PhysicalBoard(new PhysicalBoardConfig(board.Name, board.Mode, null, board.LinuxCmdline, bench.Power, bench.Serial, bench.Network, new UBootSpec()),
            Path.Combine(Path.GetTempPath(), $"farm-plugin-{Guid.NewGuid():N}"));
        var power = new VerifiedPowerSwitch(bench.Power.Create(new PowerContext("b1")), TimeProvider.System);
        await power.SetAsync(PowerState.On, CancellationToken.None);
        Assert.That(await power.GetAsync(CancellationToken.None), Is.EqualTo(PowerState.On));
        Assert.That(MemoryRelay.States["memory-relay rack2 channel 4"], Is.EqualTo(PowerState.On));
    }

    [Test]
    public void ItsKeysAreValidatedAtTheirLinesAndOthersBackendsKeysAreNotItsOwn()
    {
        var e = Assert.Throws<ConfigurationException>(() => LabFile.Parse(Lab("{backend: memory-relay, bank: rack2, channel: 0, community: 'env:X'}"), "lab/plugin.yaml"))!;
        Assert.That(e.Evidence, Has.Some.StartsWith("lab/plugin.yaml:9:").And.Contains("channel"));
        Assert.That(e.Evidence, Has.Some.Contains("power.community: unknown key for the memory-relay backend").And.Contains("it takes: bank, channel"));
        var missing = Assert.Throws<ConfigurationException>(() => LabFile.Parse(Lab("{backend: memory-relay, bank: rack2}"), "lab/plugin.yaml"))!;
        Assert.That(missing.Evidence, Has.Some.Contains("the memory-relay backend needs bank, channel"));
        var unknown = Assert.Throws<ConfigurationException>(() => LabFile.Parse(Lab("{backend: memory-relais, bank: rack2, channel: 1}"), "lab/plugin.yaml"))!;
        Assert.That(unknown.Evidence, Has.Some.Contains("did you mean \"memory-relay\"").And.Contains("snmp"));
    }

    [Test]
    public void TwoBackendsCannotClaimOneName() =>
        Assert.Throws<ArgumentException>(() => PowerBackends.Register(SnmpPower.Entry with { Read = _ => null }));
}
