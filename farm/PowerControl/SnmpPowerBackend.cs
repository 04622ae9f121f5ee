using System.Diagnostics;

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
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // -Oqv: the bare value; -t/-r: one attempt bounded by the timeout (Farm's retry policy retries); no MIBs to load.
        foreach (var a in new[] { "-v2c", "-c", community, "-Oqv", "-m", "", "-t", Math.Max(1, (int)timeout.TotalSeconds).ToString(), "-r", "0", $"{host}:{port}" }.Concat(args))
            psi.ArgumentList.Add(a);
        psi.Environment["MIBS"] = "";
        using var p = Process.Start(psi) ?? throw new InfrastructureException($"power: {Describe}: cannot start {tool}");
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
        var shown = $"{tool} -v2c -c *** {host}:{port} {string.Join(' ', args)}";
        _last = [shown, .. o.Split('\n', StringSplitOptions.RemoveEmptyEntries), .. e.Split('\n', StringSplitOptions.RemoveEmptyEntries), $"exit {p.ExitCode}"];
        if (p.ExitCode != 0)
            throw new InfrastructureException(
                $"power: {Describe}: {tool} failed: {e.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? $"exit {p.ExitCode}"}" +
                (e.Contains("Timeout") ? " (is the PDU reachable, and is the community right?)" : ""), _last);
        return o;
    }
}
