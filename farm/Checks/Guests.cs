using System.Text.RegularExpressions;
using Farm.Checks.Parsers;
using Farm.Guests;

namespace Farm.Checks;

/// <summary>What a guest check may need from one guest before its verdict means anything.</summary>
internal enum GuestNeed
{
    /// <summary>xl create ran and the guest's Linux booted (its own dmesg or console says so).</summary>
    Booted,
    /// <summary>The guest's xl.cfg asks for at least one PCI device.</summary>
    Devices,
    /// <summary>The guest shows a PCI device through its virtual host bridge: Xen gave this domU vPCI.</summary>
    Vpci,
    /// <summary><c>lspci -vvv</c> ran inside the guest.</summary>
    Lspci,
    /// <summary>The guest's device tree was dumped (<c>dtc -I fs -O dts /proc/device-tree</c>).</summary>
    DeviceTree,
    /// <summary>The guest ran the NVMe DMA probe (<c>FARM-PROBE nvme-dma</c>).</summary>
    NvmeDmaProbe,
    /// <summary>The guest and dom0 ran the NIC TCP probe (<c>FARM-PROBE nic-tcp</c>).</summary>
    NicTcpProbe,
    /// <summary>The guest did I/O through a passed-through device (one of its probes ran).</summary>
    GuestIo,
    /// <summary>The job detached and re-attached a device (<c>hotplug-*</c> and <c>pci-list-*</c> lifecycle steps).</summary>
    Hotplug,
    /// <summary>The job handed the devices back to dom0 and used them there (<c>after-deassign</c> steps).</summary>
    AfterDeassign,
}

/// <summary>One dom0-side lifecycle command of a guest (key <c>dom0:&lt;g&gt;:&lt;stage&gt;:&lt;command&gt;</c>) and its <c>FARM-EXIT</c> code.</summary>
internal sealed record GuestStep(string Stage, string Command, IReadOnlyList<string> Lines, int? ExitCode)
{
    public bool Succeeded => ExitCode == 0;

    public override string ToString() => $"{Stage}: {Command} (FARM-EXIT {(ExitCode is { } c ? c.ToString(System.Globalization.CultureInfo.InvariantCulture) : "missing")})";
}

/// <summary>
/// One guest's evidence, parsed once: only keys <c>domU:&lt;g&gt;:*</c> (inside the guest) and
/// <c>dom0:&lt;g&gt;:*</c> (its lifecycle in dom0), never another guest's or dom0's own commands
/// (docs: /work/notes/guest-contract.md; written by the guest stages). Never throws on garbage.
/// </summary>
internal sealed partial class Guest
{
    public const string NicTcpMarker = "FARM-PROBE nic-tcp";

    /// <summary>Stages whose refusal means the guest never ran.</summary>
    static readonly string[] StartStages = ["assign", "create"];

    /// <summary>
    /// Toolstack refusals that are a known gap of the platform, each with the source that prints it. libxl
    /// refuses pci=[...] when Xen reports no IOMMU (physinfo.cap_hvm_directio); Xen cannot quarantine a device
    /// without one. Either is a gap only where the target shows no IOMMU: with one enabled, it is a failure.
    /// </summary>
    public static readonly IReadOnlyList<(string Text, string Source)> PlatformGaps =
    [
        ("passthrough not supported on this platform", "tools/libs/light/libxl_create.c libxl__domain_config_setdefault: LOGD(ERROR, domid, \"passthrough not supported on this platform\\n\")"),
        ("failed to quarantine", "tools/libs/light/libxl_pci.c libxl__device_pci_assignable_add: LOG(ERROR, \"failed to quarantine \"PCI_BDF, ...)"),
    ];

    /// <summary>
    /// Refusals where Xen answered ENOSYS: the hypervisor does not implement an operation the
    /// toolstack needs for the device on this architecture, whatever the IOMMU (seen on the stage-2
    /// SMMU board: libxl 4.17 asks Arm's Xen for the e1000e's I/O-port BAR, which Arm has no such
    /// thing as). A gap of the platform, xfail with the line, never a pass.
    /// </summary>
    public static readonly IReadOnlyList<(string Text, string Source)> NotImplemented =
    [
        ("Function not implemented", "tools/libs/light/libxl_pci.c pci_add_dm_done: LOGED(ERROR, domid, \"xc_domain_ioport_permission 0x%x/0x%x (error %d)\", ...) with errno ENOSYS from xen/arch/arm/domctl.c (no XEN_DOMCTL_ioport_permission)"),
    ];

    /// <summary>The first of <paramref name="lines"/> that holds one of the <paramref name="known"/> texts, with that text's source.</summary>
    public static (string Line, string Source)? FirstKnown(IReadOnlyList<(string Text, string Source)> known, IEnumerable<string> lines) =>
        lines.SelectMany(l => known.Where(k => l.Contains(k.Text, StringComparison.Ordinal)).Select(k => ((string, string)?)(l, k.Source))).FirstOrDefault();

    Guest(string name, EvidenceBundle bundle)
    {
        Name = name;
        string domU = $"domU:{name}:", dom0 = $"dom0:{name}:";
        var commands = new Dictionary<string, string>(StringComparer.Ordinal);
        var steps = new List<GuestStep>();
        foreach (var (key, value) in bundle.Commands.OrderBy(k => k.Key, StringComparer.Ordinal))
        {
            if (key.StartsWith(domU, StringComparison.Ordinal)) commands[key[domU.Length..]] = value ?? "";
            else if (key.StartsWith(dom0, StringComparison.Ordinal) && key[dom0.Length..].Split(':', 2) is [var stage, var command])
                steps.Add(Step(stage, command, value));
        }
        Commands = commands;
        Steps = steps;
        Console = commands.GetValueOrDefault("console");
        if (commands.GetValueOrDefault("xl.cfg") is { } cfg)
        {
            try { Config = XlConfig.Parse(cfg, $"domU:{name}:xl.cfg"); }
            catch (ConfigurationException e) { ConfigError = e.Message; }
        }
        var dmesg = Output("dmesg");
        Dmesg = LinuxDmesgParser.Parse(string.IsNullOrEmpty(dmesg) ? Console : dmesg);
        // A guest that crashed after its commands ran shows it on the console only.
        Crashes = Dmesg.Oopses.Concat(string.IsNullOrEmpty(dmesg) ? [] : LinuxDmesgParser.Parse(Console).Oopses).Distinct().ToList();
        Lspci = LspciParser.Parse(Output("lspci -vvv") ?? Find("lspci"));
        Iomem = ProcParsers.Iomem(Output("cat /proc/iomem"));
        Interrupts = ProcParsers.Interrupts(Output("cat /proc/interrupts"));
        var dts = Find("dtc");
        DeviceTree = dts is null ? null : DeviceTreeParser.Parse(dts);
        NvmeDma = Probe(Target.NvmeDmaMarker);
        NicTcp = Probe(NicTcpMarker);
        NicTcpHost = steps.Select(s => s.Lines).Where(l => l.Any(x => x.Contains(NicTcpMarker, StringComparison.Ordinal)))
            .Select(l => (IReadOnlyList<string>)l.SkipWhile(x => !x.Contains(NicTcpMarker, StringComparison.Ordinal)).ToList()).FirstOrDefault();
        Outcome = LogText.Lines(Output("outcome")).Select(l => l.Split(' ', 3)).Where(p => p.Length >= 2)
            .Select(p => (p[0], p[1], p.Length > 2 ? p[2] : "")).ToList();
    }

    public string Name { get; }

    /// <summary>Outputs of commands run inside the guest (and console, xl.cfg, outcome), keyed without the <c>domU:&lt;g&gt;:</c> prefix.</summary>
    public IReadOnlyDictionary<string, string> Commands { get; }
    public IReadOnlyList<GuestStep> Steps { get; }
    public string? Console { get; }
    public XlConfig? Config { get; }
    public string? ConfigError { get; }
    public IReadOnlyList<PciDevice> Requested => Config?.Pci ?? [];
    public LinuxDmesg Dmesg { get; }

    /// <summary>Oops and panic lines of the guest kernel, from its dmesg and its console.</summary>
    public IReadOnlyList<string> Crashes { get; }
    public IReadOnlyList<LspciDevice> Lspci { get; }
    public IReadOnlyList<IomemEntry> Iomem { get; }
    public IReadOnlyList<InterruptRow> Interrupts { get; }
    public IReadOnlyList<DtNode>? DeviceTree { get; }
    public IReadOnlyList<string>? NvmeDma { get; }

    /// <summary>The guest's end of the NIC TCP probe, and dom0's (a <c>dom0:&lt;g&gt;:*</c> step printing the same marker).</summary>
    public IReadOnlyList<string>? NicTcp { get; }
    public IReadOnlyList<string>? NicTcpHost { get; }
    public IReadOnlyList<(string Stage, string Status, string Message)> Outcome { get; }

    public string? Output(string command) => Commands.TryGetValue(command, out var s) ? s : null;

    public IEnumerable<GuestStep> StepsOf(string stage) => Steps.Where(s => s.Stage == stage);

    /// <summary>The first assign/create step the toolstack refused (non-zero FARM-EXIT), its output first, or a failed assign/create in the outcome.</summary>
    public (string Stage, IReadOnlyList<string> Lines)? Refusal =>
        Steps.FirstOrDefault(s => StartStages.Contains(s.Stage) && s.ExitCode is not 0) is { } step ? (step.Stage, [.. step.Lines, step.ToString()])
        : Outcome.FirstOrDefault(o => StartStages.Contains(o.Stage) && o.Status is "failed" or "error") is { Stage: not null } o ? (o.Stage, [$"{o.Stage} {o.Status} {o.Message}"])
        : null;

    /// <summary>The bridge node libxl writes for pci=[...] (compatible pci-host-ecam-generic), if the guest's device tree has one.</summary>
    public DtNode? VpciBridge => DeviceTree is null ? null
        : DeviceTreeParser.HostBridges(DeviceTree).FirstOrDefault(n => n.Get("compatible")?.Contains("pci-host-ecam-generic", StringComparison.Ordinal) ?? false);

    public Capability this[GuestNeed need] => need switch
    {
        GuestNeed.Booted => Crashes.FirstOrDefault() is { } crash ? new(false, $"guest {Name} crashed (lifecycle.guest-kernel-healthy fails on it): {crash}")
            : Dmesg.Lines.FirstOrDefault(l => l.Contains("Linux version", StringComparison.Ordinal)) is { } v ? new(true, v)
            : new(false, Console is null && !Commands.ContainsKey("dmesg") ? $"guest {Name}: no console and no dmesg captured" : $"guest {Name}: no 'Linux version' line in its console or dmesg"),
        GuestNeed.Devices => Requested.Count > 0 ? new(true, $"guest {Name}: pci = [ {string.Join(", ", Requested.Select(p => p.Render()))} ]")
            : new(false, ConfigError ?? (Config is null ? $"guest {Name}: no xl.cfg recorded" : $"guest {Name}: xl.cfg requests no PCI device")),
        GuestNeed.Vpci => VpciEvidence(),
        GuestNeed.Lspci => Lspci.Count > 0 || Commands.Keys.Any(k => k.Contains("lspci", StringComparison.Ordinal)) ? new(true, $"guest {Name}: lspci ran")
            : new(false, $"guest {Name}: the job ran no lspci in the guest"),
        GuestNeed.DeviceTree => DeviceTree is not null ? new(true, $"guest {Name}: device tree dumped")
            : new(false, $"guest {Name}: the job did not dump the guest's device tree (dtc -I fs -O dts /proc/device-tree)"),
        GuestNeed.NvmeDmaProbe => NvmeDma is { } p ? new(true, p[0]) : new(false, $"guest {Name}: ran no '{Target.NvmeDmaMarker}' command"),
        GuestNeed.NicTcpProbe => NicTcp is { } n && NicTcpHost is not null ? new(true, n[0])
            : new(false, $"guest {Name}: no '{NicTcpMarker}' output on {(NicTcp is null ? "the guest" : "dom0")}'s end"),
        GuestNeed.GuestIo => (NvmeDma ?? NicTcp) is { } io ? new(true, io[0]) : new(false, $"guest {Name}: ran no I/O probe ({Target.NvmeDmaMarker}, {NicTcpMarker})"),
        GuestNeed.Hotplug => StepsOf("hotplug-detach").Any() && StepsOf("hotplug-attach").Any() && StepsOf("pci-list-before").Any() && StepsOf("pci-list-after").Any()
            ? new(true, StepsOf("hotplug-detach").First().ToString()) : new(false, $"guest {Name}: the job did not detach and re-attach a device (hotplug-detach/-attach, pci-list-before/-after)"),
        GuestNeed.AfterDeassign => StepsOf("after-deassign").FirstOrDefault() is { } a ? new(true, a.ToString())
            : new(false, $"guest {Name}: the job did not use the devices in dom0 after deassign"),
        _ => new(false, need.ToString()),
    };

    /// <summary>
    /// Upstream Xen on Arm gives no domU vPCI: a guest with pci=[...] then boots with libxl's bridge node but
    /// enumerates nothing behind it. Only a device the guest itself enumerated shows that this Xen does.
    /// </summary>
    Capability VpciEvidence()
    {
        if (Dmesg.Devices.FirstOrDefault() is { } d) return new(true, d.Line);
        if (Lspci.FirstOrDefault() is { } l) return new(true, l.Header);
        var why = Dmesg.Lines.Where(x => x.Contains("pci-host-generic", StringComparison.Ordinal) || x.Contains("pcie@10000000", StringComparison.Ordinal)
                                          || x.Contains("10000000.pcie", StringComparison.Ordinal)).Take(3).ToList();
        return new(false, why.Count > 0 ? string.Join(" / ", why)
            : $"guest {Name} enumerated no PCI device (upstream Xen on Arm: vPCI for the hardware domain only)");
    }

    /// <summary>The guest's probe output from the marker on, searched only in this guest's own commands.</summary>
    IReadOnlyList<string>? Probe(string marker) =>
        Commands.Where(c => c.Key is not ("console" or "xl.cfg" or "outcome")).Select(c => c.Value).Where(o => o.Contains(marker, StringComparison.Ordinal))
            .Select(o => (IReadOnlyList<string>)LogText.Lines(o).SkipWhile(l => !l.Contains(marker, StringComparison.Ordinal)).ToList())
            .FirstOrDefault();

    string? Find(string word) => Commands.FirstOrDefault(c => c.Key.Contains(word, StringComparison.Ordinal) && c.Key is not ("console" or "xl.cfg" or "outcome")).Value;

    static GuestStep Step(string stage, string command, string? output)
    {
        var lines = LogText.Lines(output).ToList();
        int? code = null;
        int last = lines.FindLastIndex(l => l.StartsWith("FARM-EXIT ", StringComparison.Ordinal));
        if (last >= 0)
        {
            if (LogText.TryInt(lines[last]["FARM-EXIT ".Length..].Trim(), out var c)) code = c;
            lines.RemoveAt(last);
        }
        while (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        return new GuestStep(stage, command, lines, code);
    }

    /// <summary>Every guest with evidence in the bundle, by name, in name order.</summary>
    public static IReadOnlyList<Guest> All(EvidenceBundle bundle) =>
        bundle.Commands.Keys.Select(k => GuestKey().Match(k)).Where(m => m.Success).Select(m => m.Groups["g"].Value)
            .Distinct().Order(StringComparer.Ordinal).Select(g => new Guest(g, bundle)).ToList();

    /// <summary>A guest evidence key: <c>domU:&lt;g&gt;:...</c> or <c>dom0:&lt;g&gt;:&lt;stage&gt;:...</c>, with the guest name rule of job files.</summary>
    [GeneratedRegex(@"^(?:domU|dom0):(?<g>[a-z0-9][a-z0-9-]{0,31}):")]
    private static partial Regex GuestKey();
}
