using System.Net.Sockets;
using System.Text;
using Polly;
using Polly.Retry;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace Farm.Ssh;

internal sealed record SshEndpoint(string Host, int Port, string User);

/// <summary>Runs commands on the target over SSH (SSH.NET), one connection per run.</summary>
internal sealed class SshCommandRunner : ICommandRunner, Farm.Guests.ITerminalHost, IDisposable
{
    readonly SshClient _client;
    readonly TimeProvider _time;

    SshCommandRunner(SshClient client, TimeProvider time, string hostKey)
    {
        _client = client;
        _time = time;
        HostKeyFingerprint = hostKey;
    }

    /// <summary>SHA256 fingerprint of the host key the target presented (its key is made at boot).</summary>
    public string HostKeyFingerprint { get; }

    /// <summary>
    /// Connects, retrying while the target is still booting (QEMU's host forward accepts TCP
    /// before the guest's sshd listens, so early attempts are reset). The caller's token — the
    /// ssh-ready stage timeout — bounds the retries.
    /// </summary>
    /// <remarks>With <paramref name="pinned"/> (the fingerprints the target printed on its console, <see cref="HostKeyPin"/>),
    /// a host presenting another key is refused at once, never retried: something else answers on that port.</remarks>
    public static async Task<SshCommandRunner> ConnectAsync(SshEndpoint ep, SshKey key, TimeProvider time, CancellationToken ct, IReadOnlyCollection<string>? pinned = null)
    {
        pinned ??= [];
        var retry = new ResiliencePipelineBuilder<SshCommandRunner> { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions<SshCommandRunner>
            {
                ShouldHandle = new PredicateBuilder<SshCommandRunner>().Handle<SshException>().Handle<SocketException>()
                    .Handle<IOException>().Handle<ObjectDisposedException>(),
                MaxRetryAttempts = int.MaxValue,
                Delay = TimeSpan.FromMilliseconds(100),
                BackoffType = DelayBackoffType.Constant,
            })
            .Build();
        return await retry.ExecuteAsync(async token =>
        {
            using var pem = new MemoryStream(Encoding.ASCII.GetBytes(key.PrivateKeyPem));
            var info = new ConnectionInfo(ep.Host, ep.Port, ep.User, new PrivateKeyAuthenticationMethod(ep.User, new PrivateKeyFile(pem)))
            {
                Timeout = TimeSpan.FromSeconds(10),
            };
            var client = new SshClient(info);
            string fingerprint = "";
            bool refused = false;
            // Every boot makes a new host key: the one the console printed if it did, else trust on first use; recorded either way.
            client.HostKeyReceived += (_, e) =>
            {
                fingerprint = e.FingerPrintSHA256;
                e.CanTrust = HostKeyPin.Accepts(pinned, fingerprint);
                refused = !e.CanTrust;
            };
            try
            {
                await client.ConnectAsync(token).ConfigureAwait(false);
                return new SshCommandRunner(client, time, fingerprint);
            }
            catch (Exception e) when (refused)
            {
                client.Dispose();
                throw new InfrastructureException(
                    $"ssh: {ep.Host}:{ep.Port} presented host key SHA256:{HostKeyPin.Normalize(fingerprint)}, not one the target printed on its console: not logging in",
                    [.. pinned.Select(p => $"console printed SHA256:{HostKeyPin.Normalize(p)}"), $"presented SHA256:{HostKeyPin.Normalize(fingerprint)}"], e);
            }
            catch
            {
                client.Dispose();
                throw;
            }
        }, ct).ConfigureAwait(false);
    }

    public async Task<CommandResult> RunAsync(string command, TimeSpan timeout, CancellationToken ct)
    {
        long t0 = _time.GetTimestamp();
        using var cmd = _client.CreateCommand(command);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(timeout);
        try
        {
            await cmd.ExecuteAsync(limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new InfrastructureException($"ssh: '{command}' did not finish within {timeout.TotalSeconds:0.#}s", [cmd.Result]);
        }
        catch (Exception e) when (e is SshException or SocketException or IOException)
        {
            throw new InfrastructureException($"ssh: '{command}' failed: {e.Message}", null, e);
        }
        return new CommandResult(command, cmd.ExitStatus ?? -1, cmd.Result, cmd.Error, _time.GetElapsedTime(t0));
    }

    /// <summary>A login shell on a wide pseudo-terminal (long typed lines do not wrap), e.g. for xl console.</summary>
    public Stream OpenTerminal() => new Farm.Guests.TerminalStream(_client.CreateShellStream("dumb", 1000, 50, 0, 0, 1 << 16));

    public void Dispose()
    {
        if (_client.IsConnected) _client.Disconnect();
        _client.Dispose();
    }
}
