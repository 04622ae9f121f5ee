using System.Net;
using System.Net.Sockets;
using Farm.Serial;

namespace Farm.Scenarios.Sim;

/// <summary>Debian's ser2net (v4) serving one tty on 127.0.0.1, raw or telnet (RFC 2217), as a lab's console server.</summary>
sealed class Ser2NetServer(SupervisedProcess process, int port) : IAsyncDisposable
{
    bool _stopped;

    public int Port { get; } = port;

    public async ValueTask DisposeAsync()
    {
        if (_stopped) return;
        _stopped = true;
        await process.KillAsync(TimeSpan.FromSeconds(2));
        await process.DisposeAsync();
    }

    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public static async Task<Ser2NetServer> StartAsync(string dir, string tty, Ser2NetMode mode, CancellationToken ct)
    {
        var port = FreePort();
        var accepter = mode == Ser2NetMode.Raw ? $"tcp,127.0.0.1,{port}" : $"telnet(rfc2217),tcp,127.0.0.1,{port}";
        var config = Path.Combine(dir, $"ser2net-{port}.yaml");
        await File.WriteAllTextAsync(config, $"""
            %YAML 1.1
            ---
            connection: &board
              accepter: {accepter}
              connector: serialdev,{tty},115200n81,local
              options:
                kickolduser: true
            """, ct);
        var bin = SupervisedProcess.Resolve("ser2net", "install ser2net: ci/setup.sh");
        var p = SupervisedProcess.Start(bin, ["-n", "-d", "-c", config, "-P", Path.Combine(dir, $"ser2net-{port}.pid")], Path.Combine(dir, $"ser2net-{port}.log"));
        // Ready when the port accepts (ser2net binds it after reading the configuration).
        while (true)
        {
            using var probe = new Socket(SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await probe.ConnectAsync(IPAddress.Loopback, port, ct);
                return new Ser2NetServer(p, port);
            }
            catch (SocketException) when (!p.HasExited)
            {
                await Task.Delay(20, ct);
            }
            catch (SocketException)
            {
                throw new InvalidOperationException("ser2net exited: " + string.Join("\n", p.OutputTail()));
            }
        }
    }
}
