namespace Farm.Scenarios.Sim;

/// <summary>LAVA's pdudaemon (Debian's) on 127.0.0.1 with a localcmdline PDU "sim" whose outlets are files in a directory.</summary>
sealed class PduDaemon : IAsyncDisposable
{
    readonly SupervisedProcess _process;

    PduDaemon(SupervisedProcess process, int port, string dir) => (_process, Port, Directory) = (process, port, dir);

    public int Port { get; }

    public string Directory { get; }

    public Uri Uri => new($"http://127.0.0.1:{Port}");

    public static async Task<PduDaemon> StartAsync(string dir, CancellationToken ct)
    {
        System.IO.Directory.CreateDirectory(dir);
        var port = Ser2NetServer.FreePort();
        var conf = Path.Combine(dir, "pdudaemon.conf");
        await File.WriteAllTextAsync(conf, $$$"""
            { "daemon": {"hostname": "127.0.0.1", "port": {{{port}}}, "logging_level": "DEBUG", "listener": "http"},
              "pdus": {"sim": {"driver": "localcmdline", "cmd_on": "echo on > {{{dir}}}/outlet%s", "cmd_off": "echo off > {{{dir}}}/outlet%s"}} }
            """, ct);
        var bin = SupervisedProcess.Resolve("/usr/sbin/pdudaemon", "install pdudaemon: ci/setup.sh");
        var p = SupervisedProcess.Start(bin, ["--conf", conf, "--logfile", Path.Combine(dir, "pdudaemon.log"), "--loglevel", "DEBUG"], Path.Combine(dir, "stdout.log"));
        using var http = new HttpClient();
        for (int i = 0; ; i++)
        {
            try
            {
                // An unknown PDU answers 500: the listener is up without switching anything.
                using var r = await http.GetAsync($"http://127.0.0.1:{port}/power/control/on?hostname=probe&port=0", ct);
                return new PduDaemon(p, port, dir);
            }
            catch (HttpRequestException) when (i < 100 && !p.HasExited)
            {
                await Task.Delay(100, ct);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _process.KillAsync(TimeSpan.FromSeconds(2));
        await _process.DisposeAsync();
    }
}
