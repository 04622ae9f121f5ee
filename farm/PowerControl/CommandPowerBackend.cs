namespace Farm.PowerControl;

/// <summary>
/// Power by external commands (labgrid's ExternalPowerDriver): <c>on</c>, <c>off</c> and
/// <c>status</c> command lines run by <c>/bin/sh -c</c>; status prints <c>on</c> or <c>off</c>.
/// A command that fails or hangs past <paramref name="timeout"/> is a lab fault, with its output.
/// </summary>
internal sealed class CommandPowerBackend(string device, string on, string off, string status, TimeSpan timeout) : IPowerBackend
{
    IReadOnlyList<string> _last = [];

    public string Device => $"command {device}";

    public string Describe => $"command {device}";

    public IReadOnlyList<string> LastExchange => _last;

    public async Task SwitchAsync(PowerState state, CancellationToken ct) =>
        await RunAsync(state == PowerState.On ? on : off, ct).ConfigureAwait(false);

    public async Task<PowerState> ReadAsync(CancellationToken ct)
    {
        var output = (await RunAsync(status, ct).ConfigureAwait(false)).Trim().ToLowerInvariant();
        return output switch
        {
            "on" => PowerState.On,
            "off" => PowerState.Off,
            _ => throw new InfrastructureException($"power: {Describe}: status printed \"{output}\", expected on or off", _last),
        };
    }

    async Task<string> RunAsync(string command, CancellationToken ct)
    {
        var r = await PowerTool.RunAsync("/bin/sh", ["-c", command], null, timeout, ct).ConfigureAwait(false);
        if (r is null)
        {
            _last = [$"$ {command}", $"(killed after {timeout.TotalSeconds:0.#}s)"];
            throw new InfrastructureException($"power: {Describe}: '{command}' did not finish within {timeout.TotalSeconds:0.#}s", _last);
        }
        _last = r.Evidence($"$ {command}");
        if (r.ExitCode != 0)
            throw new InfrastructureException($"power: {Describe}: '{command}' exited with code {r.ExitCode}", _last);
        return r.StdOut;
    }
}
