using System.Diagnostics;

namespace Farm.PowerControl;

/// <summary>
/// Power by external commands (labgrid's ExternalPowerDriver): <c>on</c>, <c>off</c> and
/// <c>status</c> command lines run by <c>/bin/sh -c</c>; status prints <c>on</c> or <c>off</c>.
/// A command that fails or hangs past <paramref name="timeout"/> is a lab fault, with its output.
/// </summary>
public sealed class CommandPowerBackend(string device, string on, string off, string status, TimeSpan timeout) : IPowerBackend
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
        var psi = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(command);
        using var p = Process.Start(psi) ?? throw new InfrastructureException($"power: {Describe}: cannot start /bin/sh");
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(timeout);
        try
        {
            await p.WaitForExitAsync(limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            _last = [$"$ {command}", $"(killed after {timeout.TotalSeconds:0.#}s)"];
            ct.ThrowIfCancellationRequested();
            throw new InfrastructureException($"power: {Describe}: '{command}' did not finish within {timeout.TotalSeconds:0.#}s", _last);
        }
        var (o, e) = (await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
        _last = [$"$ {command}", .. o.Split('\n', StringSplitOptions.RemoveEmptyEntries), .. e.Split('\n', StringSplitOptions.RemoveEmptyEntries), $"exit {p.ExitCode}"];
        if (p.ExitCode != 0)
            throw new InfrastructureException($"power: {Describe}: '{command}' exited with code {p.ExitCode}", _last);
        return o;
    }
}
