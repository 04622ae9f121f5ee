using Farm.PowerControl;

namespace Farm.Tests.PowerControl;

/// <summary>
/// Issue 15, item 6: the SNMP community never reaches snmpget's or snmpset's command line (ps shows
/// argv to every user of the host). Shims in place of the tools record the argv and the config they got;
/// the real tools against a real snmpd are in scenarios/PowerScenarios.
/// </summary>
public class SnmpCommunityTests
{
    string _tools = "";

    [SetUp]
    public void SetUp()
    {
        _tools = Directory.CreateTempSubdirectory("farm-snmp-shim-").FullName;
        foreach (var tool in new[] { "snmpget", "snmpset" })
        {
            var shim = Path.Combine(_tools, tool);
            File.WriteAllText(shim, $"""
                #!/bin/sh
                d=$(dirname "$0")
                printf '%s\n' "$@" > "$d/{tool}.argv"
                cat "$SNMPCONFPATH/snmp.conf" > "$d/{tool}.conf"
                stat -c %a "$SNMPCONFPATH/snmp.conf" > "$d/{tool}.mode"
                echo "$SNMPCONFPATH" > "$d/{tool}.dir"
                echo 1
                """);
            File.SetUnixFileMode(shim, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_tools, recursive: true);

    [Test]
    public async Task TheCommunityGoesThroughAPrivateConfigFileNotTheCommandLine()
    {
        var pdu = new SnmpPowerBackend("127.0.0.1", 16161, 3, "s3cret-community", TimeSpan.FromSeconds(2), _tools);
        Assert.That(await pdu.ReadAsync(default), Is.EqualTo(PowerState.On));
        await pdu.SwitchAsync(PowerState.Off, default);
        foreach (var tool in new[] { "snmpget", "snmpset" })
        {
            var argv = File.ReadAllLines(Path.Combine(_tools, tool + ".argv"));
            Assert.That(argv, Has.None.Contains("s3cret"), $"{tool}'s argv: {string.Join(' ', argv)}");
            Assert.That(argv, Has.None.EqualTo("-c"));
            Assert.That(argv, Does.Contain("127.0.0.1:16161"));
            Assert.That(File.ReadAllText(Path.Combine(_tools, tool + ".conf")), Is.EqualTo("defCommunity s3cret-community\n"));
            Assert.That(File.ReadAllText(Path.Combine(_tools, tool + ".mode")).Trim(), Is.EqualTo("600"), "only Farm's user reads it");
            Assert.That(Directory.Exists(File.ReadAllText(Path.Combine(_tools, tool + ".dir")).Trim()), Is.False, "removed after the call");
        }
        Assert.That(string.Join("\n", pdu.LastExchange), Does.Not.Contain("s3cret"));
    }

    [TestCase("two words")]
    [TestCase("line\ndefCommunity x")]
    [TestCase("quote\"")]
    [TestCase("")]
    public async Task ACommunityThatTheConfigFileWouldMisreadIsBadInput(string community)
    {
        var pdu = new SnmpPowerBackend("127.0.0.1", 16161, 3, community, TimeSpan.FromSeconds(2), _tools);
        await Assert.ThrowsAsync<ConfigurationException>(() => pdu.ReadAsync(default));
    }
}
