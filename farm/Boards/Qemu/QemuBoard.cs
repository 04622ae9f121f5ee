using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Farm.Boards.Spec;
using Farm.Serial;
using Farm.Ssh;

namespace Farm.Boards.Qemu;

/// <summary>What a QEMU board is, as data (from the lab file).</summary>
public sealed record QemuBoardConfig(
    string Name,
    BoardMode Mode,
    string Binary,
    string Machine,
    string Cpu,
    int Smp,
    int MemoryMb,
    string Iommu,
    IReadOnlyList<string> Devices,
    string? XenCmdline,
    string LinuxCmdline,
    bool ShareArtifacts = true,
    string Firmware = "direct",
    string UBootBinary = "/usr/lib/u-boot/qemu_arm64/u-boot.bin") : IBoardConfig;


/// <summary>
/// A QEMU instance behind the same capability interfaces a physical board fills: power (process
/// start/stop read back through QMP), console (the serial chardev), deploy (direct kernel boot),
/// and SSH through a host port forwarded to a management NIC on virtio-mmio — not on PCI, so the
/// NVMe and e1000e under test stay free for passthrough.
/// With a <see cref="SnapshotStore"/>, it also resumes saved boots: deploy hashes everything that
/// determines the booted machine into a key; on a hit, power-on starts QEMU with
/// <c>-incoming</c> from the saved state instead of booting.
/// </summary>
public sealed partial class QemuBoard : IAsyncDisposable, IBootSnapshots
{
    const string SnapshotFormat = "farm-qemu-snapshot-1";
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
    public IBootloader? Bootloader => _config.Firmware == "u-boot" ? new UBootLoader(this) : null;

    /// <summary>The run's TFTP root U-Boot loads from (u-boot firmware only); set by deploy.</summary>
    public string? TftpDirectory { get; private set; }

    /// <summary>The U-Boot commands deploy prepared (for the run's evidence and tests).</summary>
    public IReadOnlyList<string> UBootCommands => _uboot ?? [];

    sealed class UBootLoader(QemuBoard board) : IBootloader
    {
        public Task BootAsync(IConsole console, ConsoleCursor cursor, CancellationToken ct) =>
            Farm.Deploy.UBootDriver.RunAsync(console, cursor,
                board._uboot ?? throw new InfrastructureException($"board {board._config.Name}: bootloader before deploy"), UBootPrompt(), ct);
    }

    [GeneratedRegex("=> $")]
    private static partial Regex UBootPrompt();

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
        var args = new List<string>
        {
            "-machine", _config.Iommu is "none" or "" ? _config.Machine : $"{_config.Machine},iommu=smmuv3",
            "-cpu", _config.Cpu, "-smp", _config.Smp.ToString(), "-m", _config.MemoryMb.ToString(), "-no-reboot",
        };
        // QEMU 10's SMMUv3 can translate at stage 2 (QEMU 7.2 rejects the property and exits at start).
        if (_config.Iommu == "smmuv3-stage2") args.AddRange(["-global", "arm-smmuv3.stage=2"]);
        var linux = string.Join(' ', new[] { _config.LinuxCmdline }.Concat(request.KernelArguments));
        string? tftp = null;
        if (_config.Firmware == "u-boot")
        {
            // As on a physical board: U-Boot from flash, images over TFTP from a per-run directory
            // (QEMU's user network serves it at 10.0.2.2), then booti.
            if (!File.Exists(_config.UBootBinary))
                throw new ConfigurationException($"board {_config.Name}: U-Boot firmware {_config.UBootBinary} not found (install u-boot-qemu: ci/setup.sh)");
            TftpDirectory = tftp = Path.Combine(_boardDirectory, "tftp");
            Directory.CreateDirectory(tftp);
            foreach (var f in new[] { a.Xen, a.Kernel, a.Initrd })
                if (File.Exists(f) && !File.Exists(Path.Combine(tftp, Path.GetFileName(f))))
                    File.CreateSymbolicLink(Path.Combine(tftp, Path.GetFileName(f)), f);
            args.AddRange(["-bios", _config.UBootBinary]);
            _uboot = Farm.Deploy.UBootScript.For(new Farm.Deploy.UBootBoot(_config.Mode == BoardMode.Xen, Path.GetFileName(a.Xen),
                Path.GetFileName(a.Kernel), Path.GetFileName(a.Initrd), _config.XenCmdline, linux, "10.0.2.2", "10.0.2.15", Farm.Deploy.UBootLayout.QemuVirt,
                // The management NIC is the first virtio-mmio device, which QEMU's virt machine puts in the last transport slot.
                Interface: "virtio-net#31"));
        }
        else if (_config.Mode == BoardMode.Xen)
        {
            // guest-loader options are QemuOpts: a comma inside a value is written ",,".
            args.AddRange([
                "-kernel", a.Xen, "-append", _config.XenCmdline ?? "",
                "-device", $"guest-loader,addr=0x49000000,kernel={a.Kernel},bootargs={linux.Replace(",", ",,")}",
                "-device", $"guest-loader,addr=0x50000000,initrd={a.Initrd}",
            ]);
        }
        else
        {
            args.AddRange(["-kernel", a.Kernel, "-initrd", a.Initrd, "-append", linux]);
        }
        foreach (var device in _config.Devices)
        {
            switch (device)
            {
                case "nvme":
                    var disk = Path.Combine(_boardDirectory, "nvme.img");
                    await CreateNvmeDiskAsync(disk, ct).ConfigureAwait(false);
                    args.AddRange(["-drive", $"file={disk},if=none,id=nv0,format=raw", "-device", "nvme,drive=nv0,serial=farm0"]);
                    break;
                case "e1000e":
                    // romfile= : no iPXE ROM (absent without ipxe-qemu); restrict=on: no way out of QEMU.
                    args.AddRange(["-netdev", "user,id=n0,restrict=on", "-device", "e1000e,netdev=n0,romfile="]);
                    break;
                default:
                    throw new ConfigurationException($"board {_config.Name}: unknown QEMU device '{device}' (known: nvme, e1000e)");
            }
        }
        args.AddRange(["-netdev", $"user,id=mgmt,restrict=on,hostfwd=tcp:{Ssh.Host}:{Ssh.Port}-:22{(tftp is null ? "" : $",tftp={tftp}")}", "-device", "virtio-net-device,netdev=mgmt"]);
        // A mounted 9p share blocks migration: boards meant for snapshots go without it.
        if (_config.ShareArtifacts)
            args.AddRange(["-fsdev", $"local,id=art,path={a.Directory},security_model=none,readonly=on", "-device", "virtio-9p-device,fsdev=art,mount_tag=artifacts"]);
        _launchArgs = args;
        if (_snapshots is not null) FindSnapshot(a);
    }

    /// <summary>
    /// The snapshot key: QEMU's argv with this run's own values (SSH port, run directory, artifact
    /// path, SSH key) written as placeholders, the QEMU binary's identity and every artifact's sha256.
    /// On a hit the argv takes the snapshot's SSH key (its bytes are in the saved RAM) and <c>-incoming</c>.
    /// </summary>
    void FindSnapshot(ArtifactSet a)
    {
        var binary = SupervisedProcess.Resolve(_config.Binary, "install QEMU: sudo ci/setup.sh, or set qemu.binary in the board file");
        var bin = new FileInfo(binary);
        var argv = _launchArgs!.Select(x => SshKeyArg().Replace(x, "farm.sshkey={run-key}")
            .Replace(_boardDirectory, "{board-dir}").Replace(a.Directory, "{artifacts}").Replace($":{Ssh.Port}-", ":{ssh-port}-"));
        _snapshotInputs =
        [
            $"format={SnapshotFormat}",
            $"qemu={bin.FullName} {bin.Length} {bin.LastWriteTimeUtc:O}",
            $"argv={string.Join(' ', argv)}",
            .. a.Sha256.OrderBy(x => x.Key, StringComparer.Ordinal).Select(x => $"sha256:{x.Key}={x.Value}"),
        ];
        Key = SnapshotStore.KeyOf(_snapshotInputs);
        Resume = _snapshots!.Find(_config.Name, Key);
        if (Resume is null)
        {
            ColdBootReason = _snapshots.Explain(_config.Name, _snapshotInputs);
            return;
        }
        using var key = SshKey.FromPem(Resume.SshPrivateKeyPem);
        var state = _snapshots.StatePath(_config.Name, Key);
        _launchArgs = [.. _launchArgs!.Select(x => SshKeyArg().Replace(x, key.KernelParameter)), "-incoming", $"exec:cat {ShellQuote(state)}"];
    }

    static string ShellQuote(string s) => "'" + s.Replace("'", "'\\''") + "'";

    [GeneratedRegex(@"farm\.sshkey=[^\s,]+")]
    private static partial Regex SshKeyArg();

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
                new JsonObject { ["uri"] = $"exec:cat > {ShellQuote(Path.Combine(tmp, "state"))}" }, ct).ConfigureAwait(false);
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

    sealed class QemuPowerSwitch(QemuBoard board) : IPowerSwitch
    {
        public Task SetAsync(PowerState state, CancellationToken ct) => state switch
        {
            PowerState.On => board.PowerOnAsync(ct),
            PowerState.Off => board.StopAsync(ct),
            _ => throw new ArgumentOutOfRangeException(nameof(state)),
        };

        public Task<PowerState> GetAsync(CancellationToken ct) => board.ReadStateAsync(ct);
    }

    sealed class QemuConsole(QemuBoard board) : IConsole
    {
        public System.Threading.Channels.ChannelReader<ConsoleLine> Subscribe(bool replay = false) => board.CurrentConsole.Subscribe(replay);

        public Task WriteAsync(string text, CancellationToken ct) => board.CurrentConsole.WriteAsync(text, ct);

        public IReadOnlyList<string> Tail(int count) => board._machine?.Console?.Tail(count) ?? [];

        public ConsoleCursor Cursor(bool fromStart = true) => board.CurrentConsole.Cursor(fromStart);
    }

    sealed class QemuDirectBoot(QemuBoard board) : IDeployer
    {
        public Task DeployAsync(DeployRequest request, CancellationToken ct) => board.PrepareAsync(request, ct);
    }
}
