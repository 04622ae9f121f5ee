using System.Diagnostics;

namespace Farm.Scenarios.Sim;

/// <summary>
/// A throwaway PostgreSQL cluster (Debian's server binaries) under a temp directory, listening on
/// 127.0.0.1 at a free port, owned by the postgres user (initdb refuses root), stopped and deleted after.
/// </summary>
sealed class PostgresCluster : IAsyncDisposable
{
    readonly string _dir;
    readonly string _bin;

    PostgresCluster(string dir, string bin, int port) => (_dir, _bin, Port) = (dir, bin, port);

    public int Port { get; }

    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=farm;Database=postgres;Maximum Pool Size=100;Timeout=30;Command Timeout=60";

    public static async Task<PostgresCluster> StartAsync(CancellationToken ct)
    {
        var bin = Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin"))
            .Where(d => File.Exists(Path.Combine(d, "initdb"))).OrderByDescending(d => d, StringComparer.Ordinal).FirstOrDefault()
            ?? throw new InvalidOperationException("no PostgreSQL server under /usr/lib/postgresql (apt-get install postgresql; ci/setup.sh does)");
        var dir = Path.Combine(Path.GetTempPath(), $"farm-pg-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        await RunAsync("chown", ["-R", "postgres:postgres", dir], ct);
        var port = Ser2NetServer.FreePort();
        await AsPostgresAsync(Path.Combine(bin, "initdb"), ["-D", Path.Combine(dir, "data"), "-A", "trust", "-U", "farm", "--no-sync"], ct);
        await AsPostgresAsync(Path.Combine(bin, "pg_ctl"), ["-D", Path.Combine(dir, "data"), "-l", Path.Combine(dir, "server.log"), "-w", "-o",
            $"-p {port} -k {dir} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off", "start"], ct);
        return new PostgresCluster(dir, bin, port);
    }

    /// <summary>Stops the server the hard way (a crash) and starts it again on the same data: what a restart mid-run looks like.</summary>
    public async Task RestartAsync(CancellationToken ct)
    {
        await AsPostgresAsync(Path.Combine(_bin, "pg_ctl"), ["-D", Path.Combine(_dir, "data"), "-m", "immediate", "-w", "stop"], ct);
        await AsPostgresAsync(Path.Combine(_bin, "pg_ctl"), ["-D", Path.Combine(_dir, "data"), "-l", Path.Combine(_dir, "server.log"), "-w", "-o",
            $"-p {Port} -k {_dir} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off", "start"], ct);
    }

    static Task AsPostgresAsync(string program, string[] args, CancellationToken ct) =>
        Environment.UserName == "root" ? RunAsync("runuser", ["-u", "postgres", "--", program, .. args], ct) : RunAsync(program, args, ct);

    static async Task RunAsync(string program, string[] args, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(program, args) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/tmp" };
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync(ct);
        var e = p.StandardError.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct);
        if (p.ExitCode != 0) throw new InvalidOperationException($"{program} {string.Join(' ', args)} exited {p.ExitCode}: {await o}{await e}");
    }

    public async ValueTask DisposeAsync()
    {
        try { await AsPostgresAsync(Path.Combine(_bin, "pg_ctl"), ["-D", Path.Combine(_dir, "data"), "-m", "immediate", "stop"], CancellationToken.None); }
        catch (InvalidOperationException) { }
        Directory.Delete(_dir, recursive: true);
    }
}
