namespace Farm.PowerControl;

/// <summary>
/// An SNMP PDU with APC PowerNet outlet control (the de-facto standard most rack PDUs also
/// answer): <c>sPDUOutletCtl.N</c> (<c>1.3.6.1.4.1.318.1.1.4.4.2.1.3.N</c>) is written 1 (immediateOn)
/// or 2 (immediateOff) and reads back 1 (on) or 2 (off). SNMP v2c through net-snmp's
/// <c>snmpget</c>/<c>snmpset</c>; the community string never appears in messages or evidence.
/// </summary>
public sealed class SnmpPowerBackend(string host, int port, int outlet, string community, TimeSpan timeout) : IPowerBackend
{
    public const string OutletControl = ".1.3.6.1.4.1.318.1.1.4.4.2.1.3";
    IReadOnlyList<string> _last = [];

    string Oid => $"{OutletControl}.{outlet}";

    public string Device => $"snmp {host}:{port}";

    public string Describe => $"snmp {host}:{port} outlet {outlet}";

    public IReadOnlyList<string> LastExchange => _last;

    public Task SwitchAsync(PowerState state, CancellationToken ct) =>
        RunAsync("snmpset", [Oid, "i", state == PowerState.On ? "1" : "2"], ct);

    public async Task<PowerState> ReadAsync(CancellationToken ct) => (await RunAsync("snmpget", [Oid], ct).ConfigureAwait(false)).Trim() switch
    {
        "1" => PowerState.On,
        "2" => PowerState.Off,
        var other => throw new InfrastructureException($"power: {Describe}: outlet state \"{other}\" is neither 1 (on) nor 2 (off)", _last),
    };

    async Task<string> RunAsync(string tool, string[] args, CancellationToken ct)
    {
        var exe = SupervisedProcess.Resolve(tool, "install net-snmp's tools: apt-get install snmp");
        // -Oqv: the bare value; -t/-r: one attempt bounded by the timeout (Farm's retry policy retries); no MIBs to load.
        string[] argv = ["-v2c", "-c", community, "-Oqv", "-m", "", "-t", Math.Max(1, (int)timeout.TotalSeconds).ToString(), "-r", "0", $"{host}:{port}", .. args];
        var shown = $"{tool} -v2c -c *** {host}:{port} {string.Join(' ', args)}";
        var r = await PowerTool.RunAsync(exe, argv, new Dictionary<string, string> { ["MIBS"] = "" }, timeout * 4, ct).ConfigureAwait(false);
        if (r is null)
        {
            _last = [shown, "(no answer)"];
            throw new InfrastructureException($"power: {Describe}: {tool}: no answer within {(timeout * 4).TotalSeconds:0.#}s", _last);
        }
        _last = r.Evidence(shown);
        if (r.ExitCode != 0)
            throw new InfrastructureException(
                $"power: {Describe}: {tool} failed: {r.ErrLines.FirstOrDefault() ?? $"exit {r.ExitCode}"}" +
                (r.StdErr.Contains("Timeout") ? " (is the PDU reachable, and is the community right?)" : ""), _last);
        return r.StdOut;
    }
}
