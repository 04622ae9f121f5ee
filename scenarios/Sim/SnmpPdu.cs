using System.Net;
using System.Net.Sockets;

namespace Farm.Scenarios.Sim;

/// <summary>
/// A simulated SNMP PDU: Debian's real snmpd on 127.0.0.1 with ci/sim/snmp-outlet.sh serving an
/// APC-style outlet table from a directory (hooks there can start and stop a "board").
/// </summary>
sealed class SnmpPdu : IAsyncDisposable
{
    readonly SupervisedProcess _snmpd;

    SnmpPdu(SupervisedProcess snmpd, int port, string dir) => (_snmpd, Port, Directory) = (snmpd, port, dir);

    public int Port { get; }

    public string Directory { get; }

    public const string Community = "farm-private";

    public static async Task<SnmpPdu> StartAsync(string dir, CancellationToken ct)
    {
        System.IO.Directory.CreateDirectory(dir);
        int port;
        using (var u = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0))) port = ((IPEndPoint)u.Client.LocalEndPoint!).Port;
        var script = Path.Combine(ScenarioArtifacts.RepoRoot, "ci", "sim", "snmp-outlet.sh");
        var conf = Path.Combine(dir, "snmpd.conf");
        await File.WriteAllTextAsync(conf, $"""
            agentAddress udp:127.0.0.1:{port}
            rwcommunity {Community} 127.0.0.1
            pass .1.3.6.1.4.1.318.1.1.4.4.2.1.3 /bin/sh {script} {dir}
            """, ct);
        var snmpd = SupervisedProcess.Resolve("/usr/sbin/snmpd", "install snmpd: ci/setup.sh");
        var p = SupervisedProcess.Start(snmpd, ["-f", "-Lo", "-C", "-c", conf, "-p", Path.Combine(dir, "snmpd.pid")], Path.Combine(dir, "snmpd.log"));
        var pdu = new SnmpPdu(p, port, dir);
        // Ready when it answers: ask for outlet 1 until it does.
        var probe = new Farm.PowerControl.SnmpPowerBackend("127.0.0.1", port, 1, Community, TimeSpan.FromSeconds(1));
        for (int i = 0; ; i++)
        {
            try
            {
                await probe.ReadAsync(ct);
                return pdu;
            }
            catch (InfrastructureException) when (i < 50 && !p.HasExited)
            {
                await Task.Delay(100, ct);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _snmpd.KillAsync(TimeSpan.FromSeconds(2));
        await _snmpd.DisposeAsync();
    }
}
