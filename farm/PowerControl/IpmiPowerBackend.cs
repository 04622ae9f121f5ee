using System.Diagnostics;

namespace Farm.PowerControl;

/// <summary>
/// A server's BMC over IPMI 2.0 (RMCP+): <c>ipmitool -I lanplus chassis power on|off|status</c>.
/// The password reaches ipmitool through its environment (<c>-E</c>, <c>IPMI_PASSWORD</c>), never
/// its command line, messages or evidence.
/// </summary>
public sealed class IpmiPowerBackend(string host, int port, string user, string password, TimeSpan timeout) : IPowerBackend
{
    IReadOnlyList<string> _last = [];

    public string Device => $"ipmi {host}:{port}";

    public string Describe => $"ipmi {host}:{port}";

    public IReadOnlyList<string> LastExchange => _last;

    public Task SwitchAsync(PowerState state, CancellationToken ct) => RunAsync(state == PowerState.On ? "on" : "off", ct);

    public async Task<PowerState> ReadAsync(CancellationToken ct)
    {
        // "Chassis Power is on" / "Chassis Power is off" (ipmitool lib/ipmi_chassis.c)
        var o = (await RunAsync("status", ct).ConfigureAwait(false)).Trim();
        return o.EndsWith(" on", StringComparison.Ordinal) ? PowerState.On
            : o.EndsWith(" off", StringComparison.Ordinal) ? PowerState.Off
            : throw new InfrastructureException($"power: {Describe}: unexpected answer \"{o}\"", _last);
    }

    async Task<string> RunAsync(string action, CancellationToken ct)
    {
        var exe = SupervisedProcess.Resolve("ipmitool", "install ipmitool: apt-get install ipmitool");
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        var seconds = Math.Max(1, (int)timeout.TotalSeconds).ToString();
        foreach (var a in new[] { "-I", "lanplus", "-H", host, "-p", port.ToString(), "-U", user, "-E", "-N", seconds, "-R", "1", "chassis", "power", action })
            psi.ArgumentList.Add(a);
        psi.Environment["IPMI_PASSWORD"] = password;
        using var p = Process.Start(psi) ?? throw new InfrastructureException($"power: {Describe}: cannot start ipmitool");
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        try
        {
            await p.WaitForExitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            p.Kill();
            throw;
        }
        var (o, e) = (await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
        var errors = e.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        _last = [$"ipmitool -I lanplus -H {host} -p {port} -U {user} -E chassis power {action}", .. o.Split('\n', StringSplitOptions.RemoveEmptyEntries), .. errors, $"exit {p.ExitCode}"];
        if (p.ExitCode != 0)
            throw new InfrastructureException($"power: {Describe}: chassis power {action} failed: {errors.LastOrDefault() ?? $"exit {p.ExitCode}"}" +
                (e.Contains("RMCP+ session") ? " (is the BMC reachable, and are the user and password right?)" : ""), _last);
        return o;
    }
}
