namespace Farm.PowerControl;

/// <summary>
/// A server's BMC over IPMI 2.0 (RMCP+): <c>ipmitool -I lanplus chassis power on|off|status</c>.
/// The password reaches ipmitool through its environment (<c>-E</c>, <c>IPMI_PASSWORD</c>), never
/// its command line, messages or evidence.
/// </summary>
internal sealed class IpmiPowerBackend(string host, int port, string user, string password, TimeSpan timeout) : IPowerBackend
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
        var seconds = Math.Max(1, (int)timeout.TotalSeconds).ToString();
        var shown = $"ipmitool -I lanplus -H {host} -p {port} -U {user} -E chassis power {action}";
        var r = await PowerTool.RunAsync(exe, ["-I", "lanplus", "-H", host, "-p", port.ToString(), "-U", user, "-E", "-N", seconds, "-R", "1", "chassis", "power", action],
            new Dictionary<string, string> { ["IPMI_PASSWORD"] = password }, timeout * 4, ct).ConfigureAwait(false);
        if (r is null)
        {
            _last = [shown, "(no answer)"];
            throw new InfrastructureException($"power: {Describe}: chassis power {action}: no answer within {(timeout * 4).TotalSeconds:0.#}s", _last);
        }
        _last = r.Evidence(shown);
        if (r.ExitCode != 0)
            throw new InfrastructureException($"power: {Describe}: chassis power {action} failed: {r.ErrLines.LastOrDefault() ?? $"exit {r.ExitCode}"}" +
                (r.StdErr.Contains("RMCP+ session") ? " (is the BMC reachable, and are the user and password right?)" : ""), _last);
        return r.StdOut;
    }
}
