using Farm.Web;

namespace Farm.Tests.Web;

/// <summary>Power and console summaries as /api/boards and the dashboard show them (issue 15, item 6).</summary>
public class SecretMaskTests
{
    [TestCase("redfish https://root:calvin@bmc1.lab/redfish/v1", "redfish https://***@bmc1.lab/redfish/v1")]
    [TestCase("command pdu-ctl --password hunter2 on 3", "command pdu-ctl --password *** on 3")]
    [TestCase("command pdu-ctl --password=hunter2 on 3", "command pdu-ctl --password=*** on 3")]
    [TestCase("command ipmitool -H bmc -U admin -P 'hunter 2' power on", "command ipmitool -H bmc -U admin -P *** power on")]
    [TestCase("command snmpset -v2c -c private pdu1 1.3.6.1 i 1", "command snmpset -v2c -c *** pdu1 1.3.6.1 i 1")]
    [TestCase("command curl http://relay/cm?user=admin&password=hunter2&cmnd=Power%20On", "command curl http://relay/cm?user=admin&password=***&cmnd=Power%20On")]
    [TestCase("command TOKEN=abc123 relay-ctl on", "command TOKEN=*** relay-ctl on")]
    [TestCase("snmp pdu1.lab:161 outlet 3", "snmp pdu1.lab:161 outlet 3")]
    [TestCase("ser2net console1.lab:2001 (telnet)", "ser2net console1.lab:2001 (telnet)")]
    [TestCase("command usbrelay R_1=1", "command usbrelay R_1=1")]
    public void SecretsAreMaskedAndTheRestIsKept(string summary, string shown) =>
        Assert.That(SecretMask.Mask(summary), Is.EqualTo(shown));
}
