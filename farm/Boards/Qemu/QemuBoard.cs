using System.Net;
using Farm.Boards.Spec;
using System.Net.Sockets;
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
    string LinuxCmdline);


/// <summary>
/// A QEMU instance behind the same capability interfaces a physical board fills: power (process
/// start/stop read back through QMP), console (the serial chardev), deploy (direct kernel boot),
/// and SSH through a host port forwarded to a management NIC on virtio-mmio — not on PCI, so the
/// NVMe and e1000e under test stay free for passthrough.
/// </summary>
public sealed class QemuBoard : IAsyncDisposable
{
    readonly QemuBoardConfig _config;
    readonly string _boardDirectory;
    readonly TimeProvider _time;
    QemuMachine? _machine;
    ConsoleTranscript? _transcript;
    IReadOnlyList<string>? _launchArgs;

    public QemuBoard(QemuBoardConfig config, string boardDirectory, TimeProvider? time = null)
    {
        _config = config;
        _boardDirectory = boardDirectory;
        _time = time ?? TimeProvider.System;
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
            "-machine", _config.Iommu is "none" or "" ? _config.Machine : $"{_config.Machine},iommu={_config.Iommu}",
            "-cpu", _config.Cpu, "-smp", _config.Smp.ToString(), "-m", _config.MemoryMb.ToString(), "-no-reboot",
        };
        var linux = string.Join(' ', new[] { _config.LinuxCmdline }.Concat(request.KernelArguments));
        if (_config.Mode == BoardMode.Xen)
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
        args.AddRange([
            "-netdev", $"user,id=mgmt,restrict=on,hostfwd=tcp:{Ssh.Host}:{Ssh.Port}-:22", "-device", "virtio-net-device,netdev=mgmt",
            "-fsdev", $"local,id=art,path={a.Directory},security_model=none,readonly=on", "-device", "virtio-9p-device,fsdev=art,mount_tag=artifacts",
        ]);
        _launchArgs = args;
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
