using System.Text.RegularExpressions;
using Farm.Jobs.Spec;
using Farm.PowerControl;

namespace Farm.Boards.Spec;

/// <summary>
/// Loads lab files (<c>boards/*.yaml</c>): board types and the boards built from them. All files
/// are read before anything is judged, because a board may use a type from another file and a
/// name may clash across files; then every mistake in every file is thrown as one
/// <see cref="ConfigurationException"/>, one line each.
/// </summary>
internal static partial class LabFile
{
    /// <summary>Where <c>farm</c> looks when given no lab paths.</summary>
    public const string DefaultDirectory = "boards";

    static readonly string[] FileKeys = ["board-types", "boards"];
    static readonly string[] SettingKeys = ["kind", "mode", "qemu", "uboot", "xen-cmdline", "linux-cmdline", "expected-pci", "crash-patterns"];
    static readonly string[] BoardKeys = ["name", "type", "tags", "power", "serial", "network", .. SettingKeys];
    static readonly string[] UBootKeys = ["prompt", "interface", "xen-addr", "kernel-addr", "initrd-addr", "fdt-addr"];
    static readonly string[] SerialKeys = ["device", "baud", "data-bits", "parity", "stop-bits", "flow", "ser2net", "mode"];
    static readonly Dictionary<string, Farm.Serial.Parity> Parities = new() { ["none"] = Farm.Serial.Parity.None, ["even"] = Farm.Serial.Parity.Even, ["odd"] = Farm.Serial.Parity.Odd };
    static readonly Dictionary<string, Farm.Serial.FlowControl> Flows = new()
    {
        ["none"] = Farm.Serial.FlowControl.None, ["rtscts"] = Farm.Serial.FlowControl.RtsCts, ["xonxoff"] = Farm.Serial.FlowControl.XonXoff,
    };
    static readonly string[] NetworkKeys = ["ip", "server-ip", "tftp-root", "ssh"];
    static readonly Dictionary<string, Farm.Serial.Ser2NetMode> SerialModes = new() { ["raw"] = Farm.Serial.Ser2NetMode.Raw, ["telnet"] = Farm.Serial.Ser2NetMode.Telnet };
    static readonly string[] QemuKeys = ["binary", "machine", "cpu", "smp", "memory-mb", "iommu", "devices", "share", "firmware"];

    static readonly Dictionary<string, BoardKind> Kinds = new() { ["qemu"] = BoardKind.Qemu, ["uboot"] = BoardKind.UBoot };
    static readonly Dictionary<string, BoardMode> Modes = new() { ["xen"] = BoardMode.Xen, ["native"] = BoardMode.Native };
    static readonly Dictionary<string, QemuFirmware> Firmwares = new() { ["direct"] = QemuFirmware.Direct, ["u-boot"] = QemuFirmware.UBoot };
    static readonly Dictionary<string, bool> Shares = new() { ["artifacts"] = true, ["none"] = false };
    static readonly Dictionary<string, QemuDevice> QemuDevices = new() { ["nvme"] = QemuDevice.Nvme, ["e1000e"] = QemuDevice.E1000e };
    static readonly Dictionary<string, IommuModel> Iommus = new() { ["none"] = IommuModel.None, ["smmuv3"] = IommuModel.SmmuV3, ["smmuv3-stage2"] = IommuModel.SmmuV3Stage2 };

    [GeneratedRegex(@"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$", RegexOptions.CultureInvariant)]
    private static partial Regex Bdf();

    /// <summary>
    /// Loads lab files; each path is a file or a directory whose <c>*.yaml</c> files are all read
    /// (in name order). With no paths, reads <see cref="DefaultDirectory"/>.
    /// </summary>
    public static LabSpec Load(params string[] paths)
    {
        if (paths.Length == 0) paths = [DefaultDirectory];
        var files = new List<(string SourceName, string Yaml)>();
        foreach (var path in paths)
        {
            if (Directory.Exists(path))
            {
                var found = Directory.GetFiles(path, "*.yaml").Concat(Directory.GetFiles(path, "*.yml")).Order(StringComparer.Ordinal).ToList();
                if (found.Count == 0) throw new ConfigurationException($"no *.yaml lab files in {path}", [Path.GetFullPath(path)]);
                files.AddRange(found.Select(f => (f, JobFile.ReadSource(f, "lab file"))));
            }
            else
            {
                files.Add((path, JobFile.ReadSource(path, "lab file")));
            }
        }
        return Parse(files);
    }

    public static LabSpec Parse(string yaml, string sourceName) => Parse([(sourceName, yaml)]);

    /// <summary>Validates several lab files as one lab; names must be unique across all of them.</summary>
    public static LabSpec Parse(IEnumerable<(string SourceName, string Yaml)> files)
    {
        var errors = new List<SpecError>();
        var types = new Dictionary<string, BoardTypeSpec>(StringComparer.Ordinal);
        var entries = new List<BoardEntry>();
        foreach (var (sourceName, yaml) in files)
        {
            var reader = new SpecReader(sourceName);
            if (reader.Root(yaml, FileKeys) is { } root)
            {
                foreach (var type in ReadTypes(root))
                {
                    if (types.TryGetValue(type.Name, out var first))
                        errors.Add(new SpecError(type.At, $"board-types.{type.Name}", $"duplicate board type (first defined at {first.At})"));
                    else
                        types[type.Name] = type;
                }
                entries.AddRange(ReadBoards(root));
            }
            errors.AddRange(reader.Errors);
        }

        var boards = new List<BoardSpec>();
        var seen = new Dictionary<string, BoardEntry>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            if (seen.TryGetValue(entry.Name, out var first))
            {
                errors.Add(new SpecError(entry.NameAt, $"{entry.Path}.name", $"duplicate board \"{entry.Name}\" (first defined at {first.NameAt})"));
                continue;
            }
            seen[entry.Name] = entry;
            if (!types.TryGetValue(entry.TypeName, out var type))
            {
                var known = types.Count == 0 ? "none are defined" : "known: " + string.Join(", ", types.Keys);
                errors.Add(new SpecError(entry.TypeAt, $"{entry.Path}.type",
                    $"unknown board type \"{entry.TypeName}\"{NearMiss.Hint(entry.TypeName, types.Keys)}; {known}"));
                continue;
            }
            if (Build(entry, type, errors) is { } board) boards.Add(board);
        }

        if (errors.Count > 0) throw SpecError.Combine(errors);
        return new LabSpec { BoardTypes = types, Boards = boards };
    }

    /// <summary>A board as written, before its type is known (the type may be in a later file).</summary>
    sealed record BoardEntry(string Name, string TypeName, IReadOnlyList<string> Tags, BoardSettings Overrides,
        string Path, SpecPosition At, SpecPosition NameAt, SpecPosition TypeAt,
        PowerSpec? Power = null, SerialSpec? Serial = null, NetworkSpec? Network = null, IReadOnlySet<string>? Written = null);

    static IEnumerable<BoardTypeSpec> ReadTypes(SpecMapping root)
    {
        if (root.Mapping("board-types", null) is not { } map) yield break;
        foreach (var (name, key, value) in map.Entries)
        {
            var path = map.PathOf(name);
            if (!JobFile.Name().IsMatch(name))
                root.Reader.Report(key, path, $"\"{name}\" is not a valid name ({JobFile.NameRule})");
            if (root.Reader.Mapping(value, path, SettingKeys) is not { } fields) continue;
            var at = root.Reader.At(key);
            yield return new BoardTypeSpec
            {
                Name = name,
                Settings = ReadSettings(fields),
                SourcePath = at.Source,
                Line = at.Line,
                Column = at.Column,
            };
        }
    }

    static IEnumerable<BoardEntry> ReadBoards(SpecMapping root)
    {
        if (root.Value("boards") is not { } node) yield break;
        if (node is not YamlDotNet.RepresentationModel.YamlSequenceNode list)
        {
            root.Reader.Report(node, "boards", $"expected a list of boards ('- name: ...'), got {SpecReader.Describe(node)}");
            yield break;
        }
        for (var i = 0; i < list.Children.Count; i++)
        {
            var path = $"boards[{i}]";
            if (root.Reader.Mapping(list.Children[i], path, BoardKeys) is not { } board) continue;
            var name = board.Text("name", required: true);
            if (name is not null && !JobFile.Name().IsMatch(name))
                board.Report("name", $"\"{name}\" is not a valid name ({JobFile.NameRule})");
            var type = board.Text("type", required: true, "a key of board-types");
            var tags = board.TextList("tags", "tag", duplicateReason: "listed twice") ?? [];
            var overrides = ReadSettings(board);
            var power = board.Mapping("power", null) is { } p ? ReadPower(p) : null;
            var serial = board.Mapping("serial", SerialKeys) is { } s ? ReadSerial(s) : null;
            var network = board.Mapping("network", NetworkKeys) is { } n ? ReadNetwork(n) : null;
            if (name is null || type is null) continue;
            yield return new BoardEntry(name, type, tags, overrides, path, board.At,
                board.Reader.At(board.Value("name")!), board.Reader.At(board.Value("type")!), power, serial, network,
                new[] { "power", "serial", "network" }.Where(board.Has).ToHashSet());
        }
    }

    static BoardSettings ReadSettings(SpecMapping m)
    {
        var kind = m.Choice("kind", Kinds);
        var xen = m.Text("xen-cmdline");
        return new BoardSettings
        {
            Kind = kind,
            Mode = m.Choice("mode", Modes),
            Qemu = m.Mapping("qemu", QemuKeys) is { } q ? ReadQemu(q) : QemuSettings.Empty,
            UBoot = m.Mapping("uboot", UBootKeys) is { } u ? ReadUBoot(u) : null,
            XenCmdline = xen,
            LinuxCmdline = m.Text("linux-cmdline"),
            ExpectedPci = m.TextList("expected-pci", "BDF", duplicateReason: "listed twice",
                check: bdf => Bdf().IsMatch(bdf) ? null : $"\"{bdf}\" is not a PCI address like 0000:00:01.0 (lower-case hex)"),
            CrashPatterns = m.CrashPatternMap("crash-patterns"),
        };
    }

    static UBootSpec ReadUBoot(SpecMapping u)
    {
        var d = new UBootSpec();
        return new UBootSpec
        {
            Prompt = u.Text("prompt") ?? d.Prompt,
            Interface = u.Text("interface"),
            XenAddr = Address(u, "xen-addr") ?? d.XenAddr,
            KernelAddr = Address(u, "kernel-addr") ?? d.KernelAddr,
            InitrdAddr = Address(u, "initrd-addr") ?? d.InitrdAddr,
            FdtAddr = Address(u, "fdt-addr") ?? d.FdtAddr,
        };
    }

    static ulong? Address(SpecMapping m, string key)
    {
        if (m.Text(key) is not { } text) return null;
        if (text.StartsWith("0x", StringComparison.Ordinal) &&
            ulong.TryParse(text.AsSpan(2), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out var a))
            return a;
        m.Report(key, $"\"{text}\" is not a hex address like 0x40400000");
        return null;
    }

    /// <summary><c>host:port</c>; the port is required when <paramref name="defaultPort"/> is null.</summary>
    static (string Host, int Port)? Endpoint(SpecMapping m, string key, int? defaultPort, bool required)
    {
        if (m.Text(key, required, "host:port") is not { } text) return null;
        if (HostPort.TryParse(text, defaultPort, out var host, out var port)) return (host, port);
        m.Report(key, $"\"{text}\" is not host:port");
        return null;
    }

    /// <summary><c>power:</c> read by the backend it names, from the registry; a key that backend does not take is reported at its line.</summary>
    static PowerSpec? ReadPower(SpecMapping p)
    {
        if (p.Text("backend", required: true) is not { } name) return null;
        if (PowerBackends.Find(name) is not { } entry)
        {
            p.Report("backend", $"unknown value \"{name}\"{NearMiss.Hint(name, PowerBackends.Names)}; expected one of: {string.Join(", ", PowerBackends.Names)}");
            return null;
        }
        var fields = new PowerFields(p, name, entry.Keys);
        fields.RejectForeignKeys();
        return entry.Read(fields);
    }

    static SerialSpec? ReadSerial(SpecMapping s)
    {
        var device = s.Text("device");
        var ser2net = s.Has("ser2net") ? Endpoint(s, "ser2net", null, required: true) : null;
        if ((device is null) == !s.Has("ser2net"))
        {
            s.Report(device is null ? "ser2net" : "device", "give exactly one of device (a local tty) or ser2net (host:port of a console server)");
            return null;
        }
        var d = Farm.Serial.SerialSettings.Default;
        var line = new Farm.Serial.SerialSettings(s.Integer("baud", min: 50) ?? d.Baud, s.Integer("data-bits", min: 5) ?? d.DataBits,
            s.Choice("parity", Parities) ?? d.Parity, s.Integer("stop-bits", min: 1) ?? d.StopBits, s.Choice("flow", Flows) ?? d.Flow);
        if (line.Problem() is { } problem) s.Report(s.Has("baud") ? "baud" : "device", problem);
        return new SerialSpec
        {
            Device = device,
            Line = line,
            Ser2NetHost = ser2net?.Host,
            Ser2NetPort = ser2net?.Port ?? 0,
            Mode = s.Choice("mode", SerialModes) ?? Farm.Serial.Ser2NetMode.Raw,
        };
    }

    static NetworkSpec? ReadNetwork(SpecMapping n)
    {
        var ip = n.Text("ip", required: true, "the address U-Boot takes");
        var server = n.Text("server-ip", required: true, "the TFTP server's address as the board sees it");
        var root = n.Text("tftp-root", required: true, "the directory the TFTP server serves; Farm writes each run's images under it");
        var ssh = n.Has("ssh") ? Endpoint(n, "ssh", 22, required: false) : null;
        if (ip is null || server is null || root is null) return null;
        return new NetworkSpec { Ip = ip, ServerIp = server, TftpRoot = root, SshHost = ssh?.Host ?? ip, SshPort = ssh?.Port ?? 22 };
    }

    static QemuSettings ReadQemu(SpecMapping q)
    {
        var machine = q.Text("machine");
        // The IOMMU is a separate field so a board can switch it without restating the machine.
        if (machine is not null && machine.Contains("iommu=", StringComparison.Ordinal))
            q.Report("machine", "set the IOMMU with qemu.iommu, not iommu= in the machine string");
        var binary = q.Text("binary");
        // A path is the checkout's (.cache/qemu-10/...): it must stay inside it.
        if (binary is not null && (binary.Length == 0 || binary.Split('/').Contains("..") || binary.Any(char.IsControl)))
            q.Report("binary", $"\"{binary}\" is not a QEMU program: give a name on PATH, an absolute path, or a path relative to the checkout without '..'");
        return new QemuSettings
        {
            Binary = binary,
            BinaryAt = q.Value("binary") is { } b ? q.Reader.At(b) : null,
            Machine = machine,
            Cpu = q.Text("cpu"),
            Smp = q.Integer("smp", min: 1),
            MemoryMb = q.Integer("memory-mb", min: 64),
            Iommu = q.Choice("iommu", Iommus),
            Devices = q.TextList("devices", "device", duplicateReason: "listed twice",
                check: d => QemuDevices.ContainsKey(d) ? null : $"unknown QEMU device \"{d}\"{NearMiss.Hint(d, QemuDevices.Keys)}; known: {string.Join(", ", QemuDevices.Keys)}")
                ?.Where(QemuDevices.ContainsKey).Select(d => QemuDevices[d]).ToList(),
            ShareArtifacts = q.Choice("share", Shares),
            Firmware = q.Choice("firmware", Firmwares),
        };
    }

    /// <summary>The type with the board's overrides laid over it, checked as a whole.</summary>
    static BoardSpec? Build(BoardEntry entry, BoardTypeSpec type, List<SpecError> errors)
    {
        var s = entry.Overrides.Over(type.Settings);
        var before = errors.Count;
        void Problem(string field, string message) =>
            errors.Add(new SpecError(entry.At, $"{entry.Path}.{field}", $"{message} (board {entry.Name}, type {type.Name})"));
        string Origin(Func<BoardSettings, object?> field) =>
            field(entry.Overrides) is not null ? "set on the board" : $"from board type {type.Name} at {type.At}";
        const string where = "required field is missing; set it on the board type or the board";

        if (s.Kind is null) Problem("kind", where);
        if (s.Mode is null) Problem("mode", where);
        if (s.LinuxCmdline is null) Problem("linux-cmdline", where);
        if (s.Kind == BoardKind.Qemu && s.Qemu.Machine is null) Problem("qemu.machine", where);
        if (s.Mode == BoardMode.Xen)
        {
            if (s.XenCmdline is null) Problem("xen-cmdline", "required in xen mode; set it on the board type or the board");
            // Xen runs at EL2; without virtualization=on QEMU's virt machine has none.
            if (s.Qemu.Machine is { } m && !m.Split(',').Contains("virtualization=on"))
                Problem("qemu.machine", $"Xen needs EL2: add virtualization=on to \"{m}\" ({Origin(x => x.Qemu.Machine)})");
            // QEMU's default SMMUv3 translates at stage 1 only. A Xen with an SMMUv3 driver needs stage 2
            // (xen/drivers/passthrough/arm/smmu-v3.c: "no stage-2 translation support!") and declines
            // it; one without (Debian's 4.17) leaves the SMMU to dom0. Either way nothing gives dom0's
            // DMA a translation: NVMe and e1000e DMA faults until the boot times out (xen-on-qemu
            // README, gotchas). QEMU 10's arm-smmuv3.stage=2 gives Xen's driver the stage it needs.
            if (s.Qemu.Iommu == IommuModel.SmmuV3)
                Problem("qemu.iommu", "smmuv3 is QEMU's stage-1 SMMU, which hangs a Xen boot: Xen's SMMUv3 driver needs stage-2 translation and declines it, " +
                    "leaving dom0's DMA to fault; use smmuv3-stage2 with QEMU 10 (binary: .cache/qemu-10/usr/bin/qemu-system-aarch64, from ci/setup-qemu10.sh), " +
                    $"or smmuv3 in native mode only ({Origin(x => x.Qemu.Iommu)})");
        }
        // Verified on Xen 4.17 under QEMU's virt machine: the board boots and powers off normally but
        // the UART stays silent (its tree has no serial0 alias), so every console stage would time out.
        if (s.Kind == BoardKind.Qemu && s.XenCmdline is { } xc && xc.Split(' ').Contains("dtuart=serial0"))
            Problem("xen-cmdline", $"dtuart=serial0 makes Xen print nothing on QEMU's UART; use dtuart=/pl011@9000000 (or just console=dtuart) ({Origin(x => x.XenCmdline)})");
        if (s.Mode == BoardMode.Native && s.XenCmdline is not null)
            Problem("xen-cmdline", $"set, but mode is native and Xen is not booted; remove it ({Origin(x => x.XenCmdline)})");

        if (s.Kind == BoardKind.UBoot)
        {
            // A section that is written but wrong has been reported where it is wrong; only say what is absent.
            bool Absent(string section) => entry.Written?.Contains(section) != true;
            if (Absent("power")) Problem("power", "a uboot board needs power: {backend: ..., ...} (how Farm switches it)");
            if (Absent("serial")) Problem("serial", "a uboot board needs serial: {device: /dev/ttyUSB0} or {ser2net: host:port}");
            if (Absent("network")) Problem("network", "a uboot board needs network: {ip, server-ip, tftp-root}");
            if (s.Qemu != QemuSettings.Empty) Problem("qemu", $"set, but kind is uboot: QEMU settings apply to kind qemu only ({Origin(x => x.Qemu == QemuSettings.Empty ? null : x.Qemu)})");
        }
        else if (s.Kind == BoardKind.Qemu)
        {
            foreach (var (field, value) in new (string, object?)[] { ("power", entry.Power), ("serial", entry.Serial), ("network", entry.Network) })
                if (value is not null) Problem(field, "set, but kind is qemu: Farm powers, watches and reaches a QEMU board itself; use kind: uboot for a physical board");
        }
        if (errors.Count > before || (s.Kind == BoardKind.UBoot && (entry.Power is null || entry.Serial is null || entry.Network is null))) return null;
        var board = new BoardSpec
        {
            Name = entry.Name,
            TypeName = type.Name,
            Kind = s.Kind!.Value,
            Mode = s.Mode!.Value,
            XenCmdline = s.XenCmdline,
            LinuxCmdline = s.LinuxCmdline!,
            ExpectedPci = s.ExpectedPci ?? [],
            CrashPatterns = Farm.Jobs.CrashPatterns.Merge(Farm.Jobs.CrashPatterns.Defaults, s.CrashPatterns, $"board type {type.Name} / board {entry.Name}"),
            Tags = entry.Tags,
            SourcePath = entry.At.Source,
            Line = entry.At.Line,
        };
        if (s.Kind == BoardKind.UBoot)
            return board with { Power = entry.Power, Serial = entry.Serial, Network = entry.Network, UBoot = s.UBoot ?? new UBootSpec() };
        var defaults = new QemuSpec { Machine = "" };
        var (binary, binaryProblem) = QemuBinary(s.Qemu, defaults.Binary);
        return board with
        {
            Qemu = new QemuSpec
            {
                Binary = binary,
                BinaryProblem = binaryProblem,
                Machine = s.Qemu.Machine!,
                Cpu = s.Qemu.Cpu ?? defaults.Cpu,
                Smp = s.Qemu.Smp ?? defaults.Smp,
                MemoryMb = s.Qemu.MemoryMb ?? defaults.MemoryMb,
                Iommu = s.Qemu.Iommu ?? defaults.Iommu,
                Devices = s.Qemu.Devices ?? defaults.Devices,
                ShareArtifacts = s.Qemu.ShareArtifacts ?? defaults.ShareArtifacts,
                Firmware = s.Qemu.Firmware ?? defaults.Firmware,
            },
        };
    }

    /// <summary>
    /// The QEMU a board runs, resolved: a name is looked up on PATH when QEMU starts; a relative
    /// path is the checkout's (the directory with Farm.sln above the lab file, else the lab file's
    /// directory), so a lab file can name a private QEMU such as <c>.cache/qemu-10/usr/bin/qemu-system-aarch64</c>.
    /// A missing file makes the board refuse jobs with its position and the script that provides it
    /// (<c>.cache/qemu-N/</c> comes from <c>ci/setup-qemuN.sh</c>), while the rest of the lab stays usable.
    /// </summary>
    static (string Binary, string? Problem) QemuBinary(QemuSettings q, string fallback)
    {
        if (q.Binary is not { } written || !written.Contains('/')) return (q.Binary ?? fallback, null);
        var root = q.BinaryAt is { Source: var source } ? CheckoutOf(source) : Directory.GetCurrentDirectory();
        var path = Path.GetFullPath(written, root);
        if (File.Exists(path)) return (path, null);
        var private10 = PrivateQemu().Match(written);
        var hint = private10.Success
            ? $"run ci/setup-qemu{private10.Groups[1].Value}.sh (ci/setup.sh runs it) to unpack QEMU {private10.Groups[1].Value} there"
            : "install that QEMU or correct qemu.binary";
        return (path, $"{q.BinaryAt}: qemu.binary: {path} does not exist; {hint}");
    }

    static string CheckoutOf(string labFile)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(labFile))!;
        for (var d = new DirectoryInfo(dir); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Farm.sln"))) return d.FullName;
        return dir;
    }

    [GeneratedRegex(@"(?:^|/)\.cache/qemu-(\d+)/")]
    private static partial Regex PrivateQemu();
}
