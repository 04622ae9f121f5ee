using System.Net;
using System.Net.Sockets;

namespace Farm.Scenarios.Sim;

/// <summary>A simulated BMC: OpenIPMI's ipmi_sim (Debian's) on 127.0.0.1 with ci/sim/ipmi-chassis.sh as its chassis control.</summary>
sealed class IpmiSim : IAsyncDisposable
{
    readonly SupervisedProcess _process;

    IpmiSim(SupervisedProcess process, int port, string dir) => (_process, Port, Directory) = (process, port, dir);

    public int Port { get; }

    public string Directory { get; }

    public const string User = "farm", Password = "farm-bmc-secret";

    public static async Task<IpmiSim> StartAsync(string dir, CancellationToken ct)
    {
        System.IO.Directory.CreateDirectory(Path.Combine(dir, "state"));
        int port;
        using (var u = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0))) port = ((IPEndPoint)u.Client.LocalEndPoint!).Port;
        var chassis = Path.Combine(ScenarioArtifacts.RepoRoot, "ci", "sim", "ipmi-chassis.sh");
        var conf = Path.Combine(dir, "lan.conf");
        await File.WriteAllTextAsync(conf, $"""
            name "farm-bmc"
            set_working_mc 0x20
              startlan 1
                addr 127.0.0.1 {port}
                priv_limit admin
                allowed_auths_callback none md2 md5 straight
                allowed_auths_user none md2 md5 straight
                allowed_auths_operator none md2 md5 straight
                allowed_auths_admin none md2 md5 straight
                guid a123456789abcdefa123456789abcdef
              endlan
              chassis_control "/bin/sh {chassis} {dir} 0x20"
              user 1 false "" "unused" user 10 none md2 md5 straight
              user 2 true "{User}" "{Password}" admin 10 none md2 md5 straight
            """, ct);
        var emu = Path.Combine(dir, "bmc.emu");
        await File.WriteAllTextAsync(emu, "mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\nmc_enable 0x20\n", ct);
        var bin = SupervisedProcess.Resolve("ipmi_sim", "install openipmi: ci/setup.sh");
        var p = SupervisedProcess.Start(bin, ["-n", "-c", conf, "-f", emu, "-s", Path.Combine(dir, "state")], Path.Combine(dir, "ipmi_sim.log"));
        var probe = new Farm.PowerControl.IpmiPowerBackend("127.0.0.1", port, User, Password, TimeSpan.FromSeconds(1));
        for (int i = 0; ; i++)
        {
            try
            {
                await probe.ReadAsync(ct);
                return new IpmiSim(p, port, dir);
            }
            catch (InfrastructureException) when (i < 30 && !p.HasExited)
            {
                await Task.Delay(100, ct);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _process.KillAsync(TimeSpan.FromSeconds(2));
        await _process.DisposeAsync();
    }
}
