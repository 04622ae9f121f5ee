namespace Farm.PowerControl;

/// <summary>
/// An SNMP PDU with APC PowerNet outlet control (the de-facto standard most rack PDUs also
/// answer): <c>sPDUOutletCtl.N</c> (<c>1.3.6.1.4.1.318.1.1.4.4.2.1.3.N</c>) is written 1 (immediateOn)
/// or 2 (immediateOff) and reads back 1 (on) or 2 (off). SNMP v2c through net-snmp's
/// <c>snmpget</c>/<c>snmpset</c>; the community string never appears in messages or evidence, nor on
/// the tools' command line (where <c>ps</c> shows it to every user of the host): each call gets a private
/// directory (0700) with an <c>snmp.conf</c> (0600) holding <c>defCommunity</c>, found through SNMPCONFPATH.
/// </summary>
internal sealed class SnmpPowerBackend(string host, int port, int outlet, string community, TimeSpan timeout, string? tools = null) : IPowerBackend
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
        var exe = SupervisedProcess.Resolve(tools is null ? tool : Path.Combine(tools, tool), "install net-snmp's tools: apt-get install snmp");
        // snmp.conf reads a token up to white space; a quote or a line break would change what it reads.
        if (community.Length == 0 || community.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '"' or '\'' or '#' or '\\'))
            throw new ConfigurationException($"power: {Describe}: the SNMP community must be one word without quotes, '#' or '\\'");
        // -Oqv: the bare value; -t/-r: one attempt bounded by the timeout (Farm's retry policy retries); no MIBs to load.
        string[] argv = ["-v2c", "-Oqv", "-m", "", "-t", Math.Max(1, (int)timeout.TotalSeconds).ToString(), "-r", "0", $"{host}:{port}", .. args];
        var shown = $"{tool} -v2c -c *** {host}:{port} {string.Join(' ', args)}";
        var conf = Directory.CreateTempSubdirectory("farm-snmp-");
        ToolOutput? r;
        try
        {
            var file = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite };
            await using (var w = new StreamWriter(Path.Combine(conf.FullName, "snmp.conf"), System.Text.Encoding.ASCII, file))
                await w.WriteAsync($"defCommunity {community}\n".AsMemory(), ct).ConfigureAwait(false);
            // SNMPCONFPATH replaces the search path: no ~/.snmp or /etc/snmp file can override or add to it.
            r = await PowerTool.RunAsync(exe, argv, new Dictionary<string, string> { ["MIBS"] = "", ["SNMPCONFPATH"] = conf.FullName }, timeout * 4, ct).ConfigureAwait(false);
        }
        finally
        {
            conf.Delete(recursive: true);
        }
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
