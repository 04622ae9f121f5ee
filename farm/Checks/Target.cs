using Farm.Checks.Parsers;

namespace Farm.Checks;

/// <summary>What a check may need from a target before its verdict means anything.</summary>
internal enum Need
{
    /// <summary>Linux booted and its log is in the evidence.</summary>
    Linux,
    /// <summary>The target runs Xen (dom0 is where the evidence comes from).</summary>
    Xen,
    /// <summary>Linux on bare metal: the baseline.</summary>
    Native,
    /// <summary>Xen built with PCI support (HAS_PCI/HAS_VPCI, PCI_PASSTHROUGH) and using it.</summary>
    XenPci,
    /// <summary>A domU with devices passed through by vPCI (not in upstream Xen on Arm).</summary>
    DomUPci,
    /// <summary>An IOMMU (SMMU) translating device DMA.</summary>
    Iommu,
    /// <summary>A GICv3 ITS, which Arm needs for MSI/MSI-X.</summary>
    Its,
    /// <summary>PCI MSI/MSI-X usable by the kernel.</summary>
    Msi,
    Nvme,
    E1000e,
    /// <summary>The NVMe DMA probe ran (a FARM-PROBE nvme-dma command in the job).</summary>
    NvmeDmaProbe,
    /// <summary>The assignability probe ran (a FARM-PROBE pci-assign command in the job).</summary>
    PciAssignProbe,
    /// <summary>A Linux kernel log: a boot ('Linux version'), or kernel lines of an excerpt (an oops, SMMU faults).</summary>
    KernelLog,
    /// <summary>Linux's PCI enumeration from its start: a boot, or an excerpt that shows the host bridge (ECAM, ACPI root bridge, MMCONFIG, root bus resources).</summary>
    PciLog,
    /// <summary>Linux's BAR assignments: a boot, or an excerpt with assigned BARs or bridge windows.</summary>
    PciBars,
    /// <summary>Toolstack output: libxl/xl or QEMU xen-pci-passthrough lines outside Farm's own probes.</summary>
    Toolstack,
}

/// <summary>Whether a target has something, and the line of evidence that says so.</summary>
internal sealed record Capability(bool Present, string Evidence);

/// <summary>
/// One target's evidence, parsed once, with its capabilities: what checks evaluate. Built from an
/// <see cref="EvidenceBundle"/> (console transcript + command outputs); never throws on garbage.
/// </summary>
internal sealed class Target
{
    public const string NvmeDmaMarker = "FARM-PROBE nvme-dma";
    public const string PciAssignMarker = "FARM-PROBE pci-assign";

    /// <param name="builtWith">The Kconfig options the booted Xen was built with, when Farm built it (MANIFEST xen_build_pci).</param>
    public Target(EvidenceBundle bundle, IReadOnlyList<string>? expectedPci = null, IReadOnlyCollection<string>? builtWith = null)
    {
        Bundle = bundle;
        ExpectedPci = expectedPci ?? [];
        BuiltWith = builtWith ?? [];
        var dmesg = bundle.Output("dmesg");
        Dmesg = LinuxDmesgParser.Parse(string.IsNullOrEmpty(dmesg) ? bundle.ConsoleLog : dmesg);
        Xen = XenLogParser.Parse(bundle.Output("xl dmesg") is { Length: > 0 } xd ? xd : bundle.ConsoleLog);
        XlInfo = XenLogParser.XlInfo(bundle.Output("xl info"));
        Lspci = LspciParser.Parse(bundle.Output("lspci -vvv"));
        Interrupts = ProcParsers.Interrupts(bundle.Output("cat /proc/interrupts"));
        Iomem = ProcParsers.Iomem(bundle.Output("cat /proc/iomem"));
        NvmeDma = Probe(NvmeDmaMarker);
        PciAssign = Probe(PciAssignMarker);
        Toolstack = ToolstackParser.Parse(ToolstackText());
        Guests = Guest.All(bundle);
        var capabilities = Detect();
        DetectFromExcerpts(capabilities);
        Capabilities = capabilities;
    }

    public EvidenceBundle Bundle { get; }
    public string Name => Bundle.Target;
    public IReadOnlyList<string> ExpectedPci { get; }

    /// <summary>Kconfig options of a Xen Farm built (empty for a packaged Xen): what the boot should show.</summary>
    public IReadOnlyCollection<string> BuiltWith { get; }
    public LinuxDmesg Dmesg { get; }
    public XenLog Xen { get; }
    public IReadOnlyDictionary<string, string> XlInfo { get; }
    public IReadOnlyList<LspciDevice> Lspci { get; }
    public IReadOnlyList<InterruptRow> Interrupts { get; }
    public IReadOnlyList<IomemEntry> Iomem { get; }
    public IReadOnlyList<string>? NvmeDma { get; }
    public IReadOnlyList<string>? PciAssign { get; }
    public IReadOnlyDictionary<Need, Capability> Capabilities { get; }

    /// <summary>Toolstack errors on the console and in command outputs (not in Farm's probes, which judge their own).</summary>
    public IReadOnlyList<ToolstackError> Toolstack { get; }

    /// <summary>The job's guests, each with only its own evidence (domU:&lt;g&gt;:*, dom0:&lt;g&gt;:*).</summary>
    public IReadOnlyList<Guest> Guests { get; }

    public Capability this[Need need] => Capabilities[need];

    public LspciDevice? Nvme => Lspci.FirstOrDefault(d => d.ClassName.StartsWith("Non-Volatile memory controller", StringComparison.Ordinal));

    public LspciDevice? E1000e => Lspci.FirstOrDefault(d => d.Driver == "e1000e" || d.Name.Contains("82574", StringComparison.Ordinal));

    /// <summary>The NVMe interrupt rows the nvme-dma probe printed before and after its I/O, one pair per IRQ.</summary>
    public IReadOnlyList<(InterruptRow Before, InterruptRow After)> NvmeDmaInterrupts()
    {
        if (NvmeDma is null) return [];
        var rows = ProcParsers.Interrupts("CPU0 CPU1 CPU2 CPU3 CPU4 CPU5 CPU6 CPU7\n" + string.Join('\n', NvmeDma.Where(l => l.Contains("nvme", StringComparison.Ordinal) && l.Contains(':'))));
        return rows.GroupBy(r => r.Id).Where(g => g.Count() >= 2).Select(g => (g.First(), g.Last())).ToList();
    }

    // dom0's probes only: a guest's (domU:/dom0:<g>:) are that guest's evidence, never dom0's.
    IReadOnlyList<string>? Probe(string marker) =>
        Bundle.Commands.Where(c => !c.Key.StartsWith("domU:", StringComparison.Ordinal) && !c.Key.StartsWith("dom0:", StringComparison.Ordinal)).Select(c => c.Value).Where(o => o.Contains(marker, StringComparison.Ordinal))
            .Select(o => (IReadOnlyList<string>)LogText.Lines(o).SkipWhile(l => !l.Contains(marker, StringComparison.Ordinal)).ToList())
            .FirstOrDefault();

    string ToolstackText() => string.Join('\n',
        Bundle.Commands.Where(c => !c.Value.Contains("FARM-PROBE", StringComparison.Ordinal)).Select(c => c.Value).Prepend(Bundle.ConsoleLog));

    /// <summary>
    /// What an excerpt (a log captured elsewhere, cut to the interesting part) still shows: kernel lines
    /// without a 'Linux version', PCI lines, Xen lines without the banner, toolstack output. Gates only ever
    /// open here, never close: on a whole boot log every capability reads as before.
    /// </summary>
    void DetectFromExcerpts(Dictionary<Need, Capability> c)
    {
        var linux = c[Need.Linux];
        var kernel = Dmesg.Oopses.FirstOrDefault() ?? Dmesg.SmmuFaults.FirstOrDefault() ?? Dmesg.KernelLines.FirstOrDefault();
        c[Need.KernelLog] = linux.Present ? linux : kernel is not null ? new(true, kernel) : linux;
        // An excerpt that starts mid-enumeration shows no host bridge: the host-bridge checks cannot judge it, the BAR checks can.
        var hostBridge = Dmesg.Bridges.Select(b => b.Line).Concat(Dmesg.AcpiBridges.Select(b => b.Line)).Concat(Dmesg.Windows.Select(w => w.Line)).FirstOrDefault();
        c[Need.PciLog] = linux.Present ? linux : hostBridge is not null ? new(true, hostBridge) : linux;
        var bars = Dmesg.Bars.Where(b => b.Assigned).Select(b => b.Line).Concat(Dmesg.BarFailures).FirstOrDefault();
        c[Need.PciBars] = linux.Present ? linux : bars is not null ? new(true, bars) : linux;

        var ts = Toolstack.FirstOrDefault()?.Line ?? LogText.Lines(ToolstackText()).FirstOrDefault(l => l.Contains("libxl", StringComparison.Ordinal));
        c[Need.Toolstack] = ts is not null ? new(true, ts) : new(false, "no libxl/xl or QEMU passthrough output in this evidence");

        if (!c[Need.Xen].Present && (Xen.Lines.FirstOrDefault() ?? Toolstack.FirstOrDefault()?.Line) is { } xenish)
        {
            // Xen's lines (or its toolstack's) without the banner: a Xen target, seen through an excerpt.
            c[Need.Xen] = new(true, xenish);
            if (c[Need.Native].Present) c[Need.Native] = new(false, xenish);
            c[Need.XenPci] = Dmesg.XenAddFailures.FirstOrDefault() is { } refused ? new(false, refused)
                : Xen.PciLines.FirstOrDefault(l => l.Contains("vPCI", StringComparison.Ordinal) || l.Contains("pci-passthrough", StringComparison.Ordinal)) is { } p
                    ? new(true, p) : new(false, "no vPCI/PCI passthrough line in the Xen log");
            if (Xen.IommuLine is { } io) c[Need.Iommu] = new(Xen.IommuEnabled == true, io);
        }
        if (!c[Need.XenPci].Present && c[Need.Xen].Present && Xen.BarRefusals.FirstOrDefault() is { } refusal)
            c[Need.XenPci] = new(true, refusal.Line); // vPCI's own header.c printed it: vPCI is handling dom0's BARs
        if (!c[Need.DomUPci].Present && c[Need.XenPci].Present && !Bundle.Commands.Keys.Any(k => k.StartsWith("domU:", StringComparison.Ordinal)))
            c[Need.DomUPci] = new(false, "no domU evidence in this job (upstream Xen on Arm: vPCI for the hardware domain only)");
        if (!c[Need.Iommu].Present && Xen.IommuLine is null
            && Xen.SmmuGlobalFaults.Select(f => f.Line).Concat(Xen.SmmuFaults).Concat(Dmesg.SmmuFaults).FirstOrDefault() is { } fault)
            c[Need.Iommu] = new(true, fault); // an SMMU that faults is an SMMU that translates
    }

    Dictionary<Need, Capability> Detect()
    {
        var c = new Dictionary<Need, Capability>();
        var linuxLine = Dmesg.Lines.FirstOrDefault(l => l.Contains("Linux version", StringComparison.Ordinal));
        c[Need.Linux] = linuxLine is not null ? new(true, linuxLine) : new(false, "no 'Linux version' line in dmesg or the console");

        var xenLine = Xen.VersionLine ?? (XlInfo.TryGetValue("xen_version", out var xv) ? $"xl info: xen_version : {xv}" : null);
        c[Need.Xen] = xenLine is not null ? new(true, xenLine) : new(false, "no '(XEN) Xen version' line and no xl info: not a Xen target");
        c[Need.Native] = xenLine is null && linuxLine is not null ? new(true, linuxLine) : new(false, xenLine ?? "no Linux boot log");

        // dom0 Linux registers every PCI device with Xen (drivers/xen/pci.c, PHYSDEVOP_pci_device_add);
        // a Xen without HAS_PCI refuses and Linux says so for each device.
        if (xenLine is null) c[Need.XenPci] = new(false, "not a Xen target");
        else if (Dmesg.XenAddFailures.FirstOrDefault() is { } refused) c[Need.XenPci] = new(false, refused);
        else if (Xen.PciLines.FirstOrDefault(l => l.Contains("vPCI", StringComparison.Ordinal) || l.Contains("pci-passthrough", StringComparison.Ordinal)) is { } pci)
            c[Need.XenPci] = new(true, pci);
        else c[Need.XenPci] = new(false, "no vPCI/PCI passthrough line in xl dmesg (Xen built without HAS_PCI/HAS_VPCI, or pci-passthrough=on not given)");

        // Upstream Xen on Arm gives vPCI to the hardware domain only; a domU with pci=[...] needs out-of-tree patches.
        // With guests, each guest's own evidence decides (Guest's GuestNeeds); this only says there is a guest to judge.
        c[Need.DomUPci] = Guests.Count > 0
            ? new(true, $"guest evidence for {string.Join(", ", Guests.Select(g => g.Name))}")
            : !c[Need.XenPci].Present ? new(false, c[Need.XenPci].Evidence)
            : new(false, "no domU evidence in this job (upstream Xen on Arm: vPCI for the hardware domain only)");

        if (xenLine is not null)
            c[Need.Iommu] = Xen.IommuEnabled == true ? new(true, Xen.IommuLine!) : new(false, Xen.IommuLine ?? "no '(XEN) I/O virtualisation' line");
        else
            c[Need.Iommu] = Dmesg.SmmuLines.FirstOrDefault() is { } s ? new(true, s)
                : Dmesg.IommuGroups.FirstOrDefault() is { Line: { } g } ? new(true, g) : new(false, "no arm-smmu line and no iommu group in dmesg");

        c[Need.Its] = Dmesg.ItsLines.FirstOrDefault() is { } its ? new(true, its)
            : new(false, Xen.ItsLines.FirstOrDefault() ?? "no ITS line in dmesg: MSI on Arm needs a GICv3 ITS (Xen: HAS_ITS)");
        c[Need.Msi] = Dmesg.MsiDomainLines.FirstOrDefault() is { } msi ? new(true, msi)
            : new(false, Dmesg.Warnings.FirstOrDefault(w => w.Contains("msi", StringComparison.OrdinalIgnoreCase)) ?? "no 'PCI/MSI: ... domain created' line in dmesg");

        c[Need.Nvme] = Nvme is { } n ? new(true, n.Header) : new(false, "no NVMe controller in lspci -vvv");
        c[Need.E1000e] = E1000e is { } e ? new(true, e.Header) : new(false, "no e1000e (82574L) in lspci -vvv");
        c[Need.NvmeDmaProbe] = NvmeDma is { } p ? new(true, p[0]) : new(false, $"the job ran no '{NvmeDmaMarker}' command");
        c[Need.PciAssignProbe] = PciAssign is { } a ? new(true, a[0]) : new(false, $"the job ran no '{PciAssignMarker}' command");
        return c;
    }
}
