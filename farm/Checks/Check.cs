namespace Farm.Checks;

/// <summary>A verdict with the lines that justify it.</summary>
public sealed record Finding(CheckVerdict Verdict, string Summary, IReadOnlyList<string> Evidence)
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
public abstract class Check
{
    public abstract string Id { get; }
    public abstract string Group { get; }
    public abstract string Title { get; }
    public abstract string Source { get; }
    public virtual IReadOnlyList<Need> Needs => [Need.Linux];

    public abstract Finding Evaluate(Target t);
}

/// <summary>Runs checks over a target, gating each on its needs.</summary>
public static class CheckRunner
{
    /// <summary>Needs whose absence is a known gap of the Xen build/platform (xfail), not a different kind of target (n/a).</summary>
    static readonly HashSet<Need> XenFeatures = [Need.XenPci, Need.DomUPci, Need.Iommu, Need.Its, Need.Msi];

    /// <summary>The build option that promises a feature: a Xen built with it that does not show the feature is a failure, not an xfail.</summary>
    static readonly Dictionary<Need, string> PromisedBy = new() { [Need.XenPci] = "CONFIG_HAS_VPCI", [Need.Its] = "CONFIG_HAS_ITS" };

    public static IReadOnlyList<CheckResult> Run(Target target, IEnumerable<Check> checks) => checks.Select(c => Run(target, c)).ToList();

    public static CheckResult Run(Target t, Check check)
    {
        foreach (var need in check.Needs)
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
        Finding f;
        try
        {
            f = check.Evaluate(t);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A bug in a check must not take the run down or pass silently: report it as a failure that was not expected.
            f = Finding.Fail($"check crashed: {e.GetType().Name}: {e.Message}", e.StackTrace?.Split('\n').FirstOrDefault());
        }
        var expected = f.Verdict == CheckVerdict.NotApplicable ? CheckVerdict.NotApplicable : CheckVerdict.Pass;
        return new CheckResult(check.Id, check.Group, f.Verdict, expected, $"{check.Title}: {f.Summary}", f.Evidence, check.Source);
    }

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
