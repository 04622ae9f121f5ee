using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Farm.Boards.Spec;
using Farm.Serial;
using Farm.Ssh;

namespace Farm.Boards.Qemu;

/// <summary>
/// A QEMU instance behind the same capability interfaces a physical board fills: power (process
/// start/stop read back through QMP), console (the serial chardev), deploy (direct kernel boot),
/// and SSH through a host port forwarded to a management NIC on virtio-mmio — not on PCI, so the
/// NVMe and e1000e under test stay free for passthrough.
/// With a <see cref="SnapshotStore"/>, it also resumes saved boots: deploy hashes everything that
/// determines the booted machine into a key; on a hit, power-on starts QEMU with
/// <c>-incoming</c> from the saved state instead of booting.
/// </summary>
internal sealed partial class QemuBoard : IAsyncDisposable, IBootSnapshots
{
    readonly QemuBoardConfig _config;
    readonly string _boardDirectory;
    readonly TimeProvider _time;
    readonly SnapshotStore? _snapshots;
    QemuMachine? _machine;
    ConsoleTranscript? _transcript;
    IReadOnlyList<string>? _launchArgs;
    IReadOnlyList<string> _snapshotInputs = [];
    IReadOnlyList<string>? _uboot;

    public QemuBoard(QemuBoardConfig config, string boardDirectory, TimeProvider? time = null, SnapshotStore? snapshots = null)
    {
        _config = config;
        _boardDirectory = boardDirectory;
        _time = time ?? TimeProvider.System;
        _snapshots = snapshots;
        Ssh = new SshEndpoint("127.0.0.1", FreeTcpPort(), "root");
        Power = new QemuPowerSwitch(this);
        Console = new QemuConsole(this);
        Deployer = new QemuDirectBoot(this);
    }

    public QemuBoardConfig Config => _config;

    public IPowerSwitch Power { get; }

    public IConsole Console { get; }

    public IDeployer Deployer { get; }

    public SshEndpoint Ssh { get; }

    public QemuMachine? Machine => _machine;

    /// <summary>QEMU's arguments as deploy prepared them (before Farm adds its console and QMP sockets).</summary>
    internal IReadOnlyList<string>? LaunchArguments => _launchArgs;

    /// <summary>U-Boot, when the board boots through it (<c>qemu.firmware: u-boot</c>); set by deploy.</summary>
    public IBootloader? Bootloader => _config.Firmware == QemuFirmware.UBoot ? new QemuUBootLoader(this) : null;

    /// <summary>The run's TFTP root U-Boot loads from (u-boot firmware only); set by deploy.</summary>
    public string? TftpDirectory { get; private set; }

    /// <summary>The U-Boot commands deploy prepared (for the run's evidence and tests).</summary>
    public IReadOnlyList<string> UBootCommands => _uboot ?? [];

    [GeneratedRegex("=> $")]
    internal static partial Regex UBootPrompt();

    /// <summary>This board's snapshot capability, when it was given a store.</summary>
    public IBootSnapshots? Snapshots => _snapshots is null ? null : this;

    public ResumePoint? Resume { get; private set; }

    public string? Key { get; private set; }

    /// <summary>Why this deploy boots cold although snapshots are on (no snapshot yet, which inputs changed).</summary>
    public string? ColdBootReason { get; private set; }

    static int FreeTcpPort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    internal async Task PrepareAsync(DeployRequest request, CancellationToken ct)
    {
        var a = request.Artifacts;
        var plan = QemuCommandLine.Build(_config, new QemuLaunchInputs(a, request.KernelArguments, _boardDirectory, Ssh));
        if (plan.TftpDirectory is { } tftp)
        {
            if (!File.Exists(_config.UBootBinary))
                throw new ConfigurationException($"board {_config.Name}: U-Boot firmware {_config.UBootBinary} not found (install u-boot-qemu: ci/setup.sh)");
            Directory.CreateDirectory(tftp);
            foreach (var f in new[] { a.Xen, a.Kernel, a.Initrd })
                if (File.Exists(f) && !File.Exists(Path.Combine(tftp, Path.GetFileName(f))))
                    File.CreateSymbolicLink(Path.Combine(tftp, Path.GetFileName(f)), f);
            TftpDirectory = tftp;
        }
        if (plan.NvmeDisk is { } disk) await CreateNvmeDiskAsync(disk, ct).ConfigureAwait(false);
        if (plan.NicPeerScript is { } peer) await File.WriteAllTextAsync(peer, NicPeer.Script(_boardDirectory), ct).ConfigureAwait(false);
        _uboot = plan.UBootCommands;
        _launchArgs = plan.Arguments;
        if (_snapshots is not null) FindSnapshot(a);
    }

    /// <summary>
    /// The snapshot key: QEMU's argv with this run's own values (SSH port, run directory, artifact
    /// path, SSH key) written as placeholders, the QEMU binary's identity and every artifact's sha256.
    /// On a hit the argv takes the snapshot's SSH key (its bytes are in the saved RAM) and <c>-incoming</c>.
    /// </summary>
    void FindSnapshot(ArtifactSet a)
    {
        var binary = new FileInfo(SupervisedProcess.Resolve(_config.Binary, "install QEMU: sudo ci/setup.sh, or set qemu.binary in the board file"));
        _snapshotInputs = QemuSnapshotInputs.For(new QemuBinaryIdentity(binary.FullName, binary.Length, binary.LastWriteTimeUtc), _launchArgs!, _boardDirectory, a, Ssh.Port);
        Key = SnapshotStore.KeyOf(_snapshotInputs);
        Resume = _snapshots!.Find(_config.Name, Key);
        if (Resume is null)
        {
            ColdBootReason = _snapshots.Explain(_config.Name, _snapshotInputs);
            return;
        }
        using var key = SshKey.FromPem(Resume.SshPrivateKeyPem);
        var state = _snapshots.StatePath(_config.Name, Key);
        _launchArgs = [.. _launchArgs!.Select(x => QemuSnapshotInputs.WithSshKey(x, key.KernelParameter)), "-incoming", $"exec:cat {SupervisedProcess.ShellQuote(state)}"];
    }


    public async Task WaitResumedAsync(CancellationToken ct)
    {
        var machine = _machine ?? throw new InfrastructureException($"board {_config.Name}: resume before power-on");
        while (true)
        {
            string status;
            try
            {
                status = await machine.Qmp!.QueryStatusAsync(ct).ConfigureAwait(false);
            }
            catch (InfrastructureException) when (machine.Process is { HasExited: true })
            {
                status = "exited";
            }
            if (status == "running") return;
            if (status is not ("inmigrate" or "prelaunch"))
                throw new InfrastructureException(
                    $"board {_config.Name}: QEMU did not resume snapshot {Key} (status {status}); delete {Path.GetDirectoryName(_snapshots!.StatePath(_config.Name, Key!))} to force a cold boot",
                    machine.Process?.OutputTail());
            await Task.Delay(TimeSpan.FromMilliseconds(10), _time, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Migrates the running machine to a file (QEMU pauses it meanwhile, then it continues). QEMU's
    /// refusal (a non-migratable device such as NVMe on QEMU 7.2, a mounted 9p share) is returned as the reason.
    /// </summary>
    public async Task<SnapshotOutcome> SaveAsync(SnapshotContents contents, CancellationToken ct)
    {
        var machine = _machine ?? throw new InfrastructureException($"board {_config.Name}: snapshot while off");
        if (_snapshots is null || Key is null) return new SnapshotOutcome(false, "snapshots are off for this board");
        var qmp = machine.Qmp!;
        var tmp = _snapshots.BeginSave(_config.Name, Key);
        try
        {
            // Unthrottled: the stream goes to a local file, and the guest is paused until it is written.
            await qmp.TryExecuteAsync("migrate-set-parameters", new JsonObject { ["max-bandwidth"] = 1L << 40 }, ct).ConfigureAwait(false);
            var (_, refused) = await qmp.TryExecuteAsync("migrate",
                new JsonObject { ["uri"] = $"exec:cat > {SupervisedProcess.ShellQuote(Path.Combine(tmp, "state"))}" }, ct).ConfigureAwait(false);
            if (refused is not null)
            {
                SnapshotStore.Abandon(tmp);
                return new SnapshotOutcome(false, $"QEMU cannot save this machine: {refused}");
            }
            string? failed = null;
            while (true)
            {
                var m = await qmp.ExecuteAsync("query-migrate", null, ct).ConfigureAwait(false);
                var status = m?["status"]?.ToString();
                if (status == "completed") break;
                if (status is "failed" or "cancelled") { failed = m?["error-desc"]?.ToString() ?? status; break; }
                await Task.Delay(TimeSpan.FromMilliseconds(20), _time, ct).ConfigureAwait(false);
            }
            if (await qmp.QueryStatusAsync(ct).ConfigureAwait(false) != "running")
                await qmp.ExecuteAsync("cont", null, ct).ConfigureAwait(false);
            if (failed is not null)
            {
                SnapshotStore.Abandon(tmp);
                return new SnapshotOutcome(false, $"migration failed: {failed}");
            }
            var bytes = await _snapshots.CommitAsync(tmp, _config.Name, Key, _snapshotInputs, contents, _time.GetUtcNow(), ct).ConfigureAwait(false);
            return new SnapshotOutcome(true, $"saved {Key} ({bytes / 1e6:0.0} MB)", bytes);
        }
        catch
        {
            SnapshotStore.Abandon(tmp);
            throw;
        }
    }

    /// <summary>64 MiB sparse disk, sector 0 = a signature the guest reads back through the NVMe.</summary>
    static async Task CreateNvmeDiskAsync(string path, CancellationToken ct)
    {
        await using var f = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 4096, useAsync: true);
        await f.WriteAsync("FARM-NVME-DISK-0001"u8.ToArray(), ct).ConfigureAwait(false);
        f.SetLength(64L << 20);
    }

    internal async Task PowerOnAsync(CancellationToken ct)
    {
        if (_machine is { IsRunning: true }) return;
        var args = _launchArgs ?? throw new ConfigurationException($"board {_config.Name}: power-on before deploy: nothing to boot");
        if (_machine is not null) await StopAsync(ct).ConfigureAwait(false);
        Directory.CreateDirectory(_boardDirectory);
        var machine = new QemuMachine(_config.Name, _config.Binary, args, _boardDirectory, _time);
        _machine = machine;
        await machine.StartAsync(ct).ConfigureAwait(false);
        _transcript = ConsoleTranscript.Start(machine.Console!, Path.Combine(_boardDirectory, "console.log"), Path.Combine(_boardDirectory, "console.raw"));
    }

    internal async Task StopAsync(CancellationToken ct)
    {
        if (_machine is null) return;
        await _machine.StopAsync(TimeSpan.FromSeconds(5), ct).ConfigureAwait(false);
        if (_transcript is not null) await _transcript.DisposeAsync().ConfigureAwait(false);
        _transcript = null;
    }

    internal Task<PowerState> ReadStateAsync(CancellationToken ct) =>
        _machine is null ? Task.FromResult(PowerState.Off) : _machine.ReadStateAsync(ct);

    internal IReadOnlyList<string> ConsoleTail(int count) => _machine?.Console?.Tail(count) ?? [];

    internal ConsoleBroker CurrentConsole =>
        _machine?.Console ?? throw new InfrastructureException($"board {_config.Name}: console not connected (board is off)");

    public async ValueTask DisposeAsync()
    {
        if (_machine is not null)
        {
            await StopAsync(CancellationToken.None).ConfigureAwait(false);
            await _machine.DisposeAsync().ConfigureAwait(false);
        }
    }
}
