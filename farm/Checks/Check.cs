namespace Farm.Checks;

/// <summary>A verdict with the lines that justify it.</summary>
internal sealed record Finding(CheckVerdict Verdict, string Summary, IReadOnlyList<string> Evidence)
{
    public static Finding Pass(string summary, params IEnumerable<string?> evidence) => new(CheckVerdict.Pass, summary, Clean(evidence));

    public static Finding Fail(string summary, params IEnumerable<string?> evidence) => new(CheckVerdict.Fail, summary, Clean(evidence));

    /// <summary>The check could not look: the evidence it needs is not there (a job without that command).</summary>
    public static Finding NotApplicable(string summary, params IEnumerable<string?> evidence) => new(CheckVerdict.NotApplicable, summary, Clean(evidence));

    static List<string> Clean(IEnumerable<string?> lines) => lines.Where(l => !string.IsNullOrEmpty(l)).Select(l => l!).Distinct().Take(40).ToList();
}

/// <summary>
/// One vPCI assertion. <see cref="Needs"/> gate it: when a target lacks one, the runner reports
/// xfail (a Xen feature this build does not have) or n/a (the wrong kind of target, or the job
/// did not collect the evidence) with the capability's evidence line, and never calls
/// <see cref="Evaluate"/> — so no check can pass on a target that lacks what it tests.
/// <see cref="Source"/> cites where the matched strings come from.
/// </summary>
internal abstract class Check
{
    public abstract string Id { get; }
    public abstract string Group { get; }
    public abstract string Title { get; }
    public abstract string Source { get; }
    public virtual IReadOnlyList<Need> Needs => [Need.Linux];

    public abstract Finding Evaluate(Target t);
}

/// <summary>
/// A check of what one domU sees, run once per guest of the job (<see cref="Target.Guests"/>) on that
/// guest's own evidence. Without any guest it is gated on <see cref="Need.DomUPci"/>, so it never passes.
/// <see cref="GuestNeeds"/> gate it per guest, after a refused assign/create and the target's <see cref="Check.Needs"/>.
/// </summary>
internal abstract class GuestCheck : Check
{
    public override IReadOnlyList<Need> Needs => [Need.Xen, Need.DomUPci];
    public virtual IReadOnlyList<GuestNeed> GuestNeeds => [GuestNeed.Booted];

    public sealed override Finding Evaluate(Target t) => Finding.NotApplicable("judged once per guest", t[Need.DomUPci].Evidence);

    public abstract Finding Evaluate(Target t, Guest g);
}

/// <summary>Runs checks over a target, gating each on its needs.</summary>
internal static class CheckRunner
{
    /// <summary>Needs whose absence is a known gap of the Xen build/platform (xfail), not a different kind of target (n/a).</summary>
    static readonly HashSet<Need> XenFeatures = [Need.XenPci, Need.DomUPci, Need.Iommu, Need.Its, Need.Msi];

    /// <summary>The build option that promises a feature: a Xen built with it that does not show the feature is a failure, not an xfail.</summary>
    static readonly Dictionary<Need, string> PromisedBy = new() { [Need.XenPci] = "CONFIG_HAS_VPCI", [Need.Its] = "CONFIG_HAS_ITS" };

    /// <summary>Every result of the checks on a target: one per dom0 check, one per guest (or one gated, without guests) per guest check.</summary>
    public static IReadOnlyList<CheckResult> Run(Target target, IEnumerable<Check> checks) => checks.SelectMany(c => Results(target, c)).ToList();

    public static IReadOnlyList<CheckResult> Results(Target t, Check check) =>
        check is GuestCheck g && t.Guests.Count > 0 ? t.Guests.Select(guest => Run(t, g, guest)).ToList() : [Run(t, check)];

    /// <summary>The check on the target's own (dom0 or native) view; a guest check here is gated on there being a guest at all.</summary>
    public static CheckResult Run(Target t, Check check) => Gate(t, check, check.Needs) ?? Judge(check, () => check.Evaluate(t), null);

    /// <summary>
    /// A guest check on one guest. A refused assign/create decides first (xfail where libxl or xl names a
    /// platform gap on a target without an IOMMU, fail otherwise); then the target's needs, then the guest's own.
    /// </summary>
    public static CheckResult Run(Target t, GuestCheck check, Guest guest)
    {
        if (guest.Refusal is { } refusal)
        {
            if (Guest.FirstKnown(Guest.NotImplemented, refusal.Lines) is { } enosys)
                return new CheckResult(check.Id, check.Group, CheckVerdict.XFail, CheckVerdict.XFail,
                    $"{check.Title}: guest {guest.Name}: {refusal.Stage} refused: Xen does not implement what the toolstack asked for", [enosys.Line, .. refusal.Lines.Take(3), enosys.Source], check.Source, guest.Name);
            var gap = Guest.FirstKnown(Guest.PlatformGaps, refusal.Lines) ?? (null!, null!);
            if (gap.Line is not null && !t[Need.Iommu].Present)
                return new CheckResult(check.Id, check.Group, CheckVerdict.XFail, CheckVerdict.XFail,
                    $"{check.Title}: guest {guest.Name}: {refusal.Stage} refused on a platform without an IOMMU", [gap.Line, t[Need.Iommu].Evidence, gap.Source], check.Source, guest.Name);
            return new CheckResult(check.Id, check.Group, CheckVerdict.Fail, CheckVerdict.Pass,
                $"{check.Title}: guest {guest.Name}: {refusal.Stage} refused" + (gap.Line is not null ? $" although the target has an IOMMU ({t[Need.Iommu].Evidence})" : ""),
                refusal.Lines, check.Source, guest.Name);
        }
        if (Gate(t, check, check.Needs.Where(n => n != Need.DomUPci)) is { } gated) return gated with { Guest = guest.Name };
        foreach (var need in check.GuestNeeds)
        {
            var cap = guest[need];
            if (cap.Present) continue;
            // No domU vPCI is the known gap of upstream Xen on Arm; any other missing piece is evidence the job did not collect.
            var v = need == GuestNeed.Vpci && t[Need.Xen].Present ? CheckVerdict.XFail : CheckVerdict.NotApplicable;
            return new CheckResult(check.Id, check.Group, v, v, $"{check.Title}: guest {guest.Name} lacks {Wire(need)}", [cap.Evidence], check.Source, guest.Name);
        }
        return Judge(check, () => check.Evaluate(t, guest), guest.Name);
    }

    static CheckResult? Gate(Target t, Check check, IEnumerable<Need> needs)
    {
        foreach (var need in needs)
        {
            var cap = t[need];
            if (cap.Present) continue;
            if (t[Need.Xen].Present && PromisedBy.TryGetValue(need, out var option) && t.BuiltWith.Contains(option))
                return new CheckResult(check.Id, check.Group, CheckVerdict.Fail, CheckVerdict.Pass,
                    $"{check.Title}: this Xen was built with {option} but the boot shows no {Wire(need)}", [cap.Evidence, $"built with {option} (MANIFEST xen_build_pci)"], check.Source);
            var gated = XenFeatures.Contains(need) && t[Need.Xen].Present ? CheckVerdict.XFail : CheckVerdict.NotApplicable;
            return new CheckResult(check.Id, check.Group, gated, gated, $"{check.Title}: needs {Wire(need)}, which this target lacks",
                [cap.Evidence], check.Source);
        }
        return null;
    }

    static CheckResult Judge(Check check, Func<Finding> evaluate, string? guest)
    {
        Finding f;
        try
        {
            f = evaluate();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A bug in a check must not take the run down or pass silently: report it as a failure that was not expected.
            f = Finding.Fail($"check crashed: {e.GetType().Name}: {e.Message}", e.StackTrace?.Split('\n').FirstOrDefault());
        }
        var expected = f.Verdict == CheckVerdict.NotApplicable ? CheckVerdict.NotApplicable : CheckVerdict.Pass;
        return new CheckResult(check.Id, check.Group, f.Verdict, expected, $"{check.Title}: {f.Summary}", f.Evidence, check.Source, guest);
    }

    internal static string Wire(GuestNeed n) => n switch
    {
        GuestNeed.Booted => "a booted guest kernel",
        GuestNeed.Devices => "requested PCI devices",
        GuestNeed.Vpci => "domU vPCI (a device enumerated behind its virtual host bridge)",
        GuestNeed.Lspci => "lspci in the guest",
        GuestNeed.DeviceTree => "the guest's device tree",
        GuestNeed.NvmeDmaProbe => "the NVMe DMA probe in the guest",
        GuestNeed.NicTcpProbe => "the NIC TCP probe on both ends",
        GuestNeed.GuestIo => "guest I/O (a probe)",
        GuestNeed.Hotplug => "a hotplug cycle",
        GuestNeed.AfterDeassign => "dom0 use after deassign",
        _ => n.ToString().ToLowerInvariant(),
    };

    internal static string Wire(Need n) => n switch
    {
        Need.XenPci => "Xen PCI/vPCI support",
        Need.DomUPci => "a domU with vPCI devices",
        Need.NvmeDmaProbe => "the NVMe DMA probe",
        Need.PciAssignProbe => "the PCI assignability probe",
        Need.E1000e => "an e1000e NIC",
        Need.Nvme => "an NVMe controller",
        Need.Its => "a GICv3 ITS",
        Need.Msi => "PCI MSI",
        Need.Iommu => "an IOMMU",
        Need.KernelLog => "a Linux kernel log",
        Need.PciLog => "Linux's PCI enumeration from the host bridge on",
        Need.PciBars => "Linux's BAR assignments",
        Need.Toolstack => "toolstack (libxl/xl) output",
        _ => n.ToString().ToLowerInvariant(),
    };
}
