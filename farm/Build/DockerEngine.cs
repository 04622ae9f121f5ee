using Docker.DotNet;

namespace Farm.Build;

/// <summary>
/// Where Farm finds a container engine: <c>DOCKER_HOST</c> when set (a lab's existing engine,
/// local or <c>tcp://</c>), else the system engine's socket, else the one <c>ci/setup-docker.sh</c>
/// starts for Farm. An engine that does not answer is bad set-up, not a flaky lab: the message says
/// how to start one.
/// </summary>
internal static class DockerEngine
{
    public const string FarmSocket = "unix:///run/farm-docker.sock";
    public const string SystemSocket = "unix:///var/run/docker.sock";
    public const string HowToStart = "start one with `bash ci/setup-docker.sh` (Farm's own dockerd on /run/farm-docker.sock), or set DOCKER_HOST to a lab's engine (unix:///var/run/docker.sock, tcp://host:2375)";

    public static string Locate(string? dockerHost = null)
    {
        if (!string.IsNullOrWhiteSpace(dockerHost)) return dockerHost;
        if (Environment.GetEnvironmentVariable("DOCKER_HOST") is { Length: > 0 } env) return env;
        foreach (var candidate in new[] { SystemSocket, FarmSocket })
            if (File.Exists(new Uri(candidate).LocalPath)) return candidate;
        return FarmSocket;
    }

    /// <summary>A client for the engine at <paramref name="host"/>, after it answered a ping.</summary>
    public static async Task<DockerClient> ConnectAsync(string host, CancellationToken ct)
    {
        Uri uri;
        try { uri = new Uri(host); }
        catch (UriFormatException) { throw new ConfigurationException($"container engine \"{host}\" is not a URI; {HowToStart}"); }
        var client = new DockerClientConfiguration(uri, defaultTimeout: TimeSpan.FromMinutes(30)).CreateClient();
        using var ping = CancellationTokenSource.CreateLinkedTokenSource(ct);
        ping.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            await client.System.PingAsync(ping.Token).ConfigureAwait(false);
            return client;
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            client.Dispose();
            throw new ConfigurationException($"no container engine answers at {host} ({e.GetBaseException().Message}); {HowToStart}", [host], e);
        }
    }
}
