using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using Spectre.Console.Cli;

namespace Farm.Cli;

internal static class FarmApp
{
    public static async Task<int> RunAsync(string[] args)
    {
        using var farm = FarmContext.CreateDefault();
        return await RunAsync(args, farm);
    }

    /// <summary>Runs one command with <paramref name="farm"/> as its composition root (each command reads it with <see cref="FarmContext.Of"/>).</summary>
    // Spectre.Console.Cli makes commands and their settings by reflection. Under Native AOT that holds
    // because the trimming is partial (Farm.csproj): Spectre.Console.Cli and Farm are kept whole, and
    // the CLI scenarios run the published executable (FARM_CLI).
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = "Spectre.Console.Cli and Farm are not trimmed; scenarios/CliScenarios run the AOT build")]
    internal static async Task<int> RunAsync(string[] args, FarmContext farm)
    {
        // SIGINT/SIGTERM cancel the run instead of killing Farm, so finalisers power boards off,
        // transcripts are flushed and the run is recorded (as incomplete: cancelled).
        using var cts = new CancellationTokenSource();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
        void Cancel(PosixSignalContext c)
        {
            c.Cancel = true;
            cts.Cancel();
        }

        // Piped output (CI logs) is not a terminal: do not squeeze tables into 80 columns.
        if (Console.IsOutputRedirected) Spectre.Console.AnsiConsole.Profile.Width = 160;
        var app = new CommandApp();
        app.Configure(c =>
        {
            c.SetApplicationName("farm");
            c.PropagateExceptions();
            c.AddCommand<RunCommand>("run").WithData(farm).WithDescription("Run a job file on a board; writes <out>/<run-id>/.")
                .WithExample("run", "jobs/xen-smoke.yaml", "--out", "artifacts");
            c.AddCommand<NightlyCommand>("nightly").WithData(farm).WithDescription("Run the vPCI matrix on healthy boards, retrying lab failures elsewhere; exit code = worst verdict.")
                .WithExample("nightly", "--out", "artifacts");
            c.AddCommand<LeaseBenchCommand>("lease-bench").WithData(farm).WithDescription("Measure lease grants under contention (ci/bench).").IsHidden();
            c.AddCommand<TrendBenchCommand>("trend-bench").WithData(farm).WithDescription("Measure a year of trends for 20 targets (ci/bench).").IsHidden();
            c.AddCommand<BuildCommand>("build").WithData(farm).WithDescription("Cross-build Xen for arm64 in a container (Docker engine), cached, with provenance.")
                .WithExample("build", "xen", "--source", "debian:bookworm", "--patch", "ci/xen/patches/xen-4.17-arm-pci-passthrough.patch", "--artifacts-from", "bookworm");
            c.AddCommand<BisectCommand>("bisect").WithData(farm).WithDescription("Find the Xen commit that broke a check (flake-aware: repeats candidates until sure).")
                .WithExample("bisect", "--source", "../xen", "--good", "v1", "--bad", "v2", "--job", "jobs/xen-vpci-smoke.yaml", "--check", "ecam.xen-traps-dom0-config-space");
            c.AddCommand<HealthCheckCommand>("health").WithData(farm).WithDescription("Run each board's health job (power, console, banner, SSH); health follows from the results.");
            c.AddCommand<AgentCommand>("agent").WithData(farm).WithDescription("Run queued jobs on this host's boards (one agent per bench host).");
            c.AddCommand<QueueCommand>("queue").WithData(farm).WithDescription("Queue jobs for the agents, or list the queue.");
            c.AddCommand<ServeCommand>("serve").WithData(farm).WithDescription("Serve the lab API (boards, leases, operator actions, runs) with bearer tokens.");
            c.AddCommand<TokenCommand>("token").WithData(farm).WithDescription("Make an API token for a user and role (printed once; its hash is stored).");
            c.AddCommand<CaptureCommand>("capture").WithData(farm).WithDescription("Record serial consoles to transcripts until they close (or Ctrl-C).")
                .WithExample("capture", "/dev/ttyUSB0", "--out", "artifacts/capture");
            c.AddCommand<ImportMetricsCommand>("import-metrics").WithData(farm).WithDescription("Record measurements (ci/bench JSON) as a run, for trends.")
                .WithExample("import-metrics", "artifacts/bench/bench.json");
            c.AddCommand<ReserveCommand>("reserve").WithData(farm).WithDescription("Take a board for a while (a lease that expires unless renewed).")
                .WithExample("reserve", "qemu-xen", "--for", "2h", "--note", "bisecting vPCI");
            c.AddCommand<RenewCommand>("renew").WithData(farm).WithDescription("Extend your lease on a board.");
            c.AddCommand<ReleaseCommand>("release").WithData(farm).WithDescription("Give a board back.");
            c.AddCommand<QuarantineCommand>("quarantine").WithData(farm).WithDescription("Take a board out of service (the scheduler skips it).");
            c.AddCommand<ReturnCommand>("return").WithData(farm).WithDescription("Bring a quarantined board back into service.");
            c.AddCommand<LeasesCommand>("leases").WithData(farm).WithDescription("Who holds which board, or a board's lease history (--audit).");
            c.AddCommand<BoardsCommand>("boards").WithData(farm).WithDescription("List the boards of the lab.");
            c.AddCommand<AnalyzeCommand>("analyze").WithData(farm).WithDescription("Judge logs captured elsewhere (serial capture, dmesg, lspci, /proc/interrupts, xl): facts and check verdicts.")
                .WithExample("analyze", "board-console.log", "--json");
            c.AddCommand<ReportCommand>("report").WithData(farm).WithDescription("List recorded runs and render their Allure HTML report.")
                .WithExample("report", "--out", "artifacts", "--latest", "5");
        });
        try
        {
            return await app.RunAsync(args, cts.Token);
        }
        catch (FarmException e)
        {
            await Console.Error.WriteLineAsync($"farm: {e.Verdict.ToWire()}: {e.Describe()}");
            return e.Verdict.ExitCode();
        }
        catch (CommandAppException e)
        {
            await Console.Error.WriteLineAsync($"farm: error: {e.Message}");
            return Verdict.Error.ExitCode();
        }
    }
}
