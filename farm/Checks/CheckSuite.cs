using Farm.Checks.Catalog;

namespace Farm.Checks;

/// <summary>
/// The check catalog and how job files name parts of it: <c>vpci</c> (everything), a group
/// (<c>ecam</c>, <c>bar</c>, <c>interrupts</c>, <c>dma-iommu</c>, <c>lifecycle</c>, <c>negative</c>) or a check id.
/// Farm's own checks are listed here; a check written elsewhere joins through <see cref="Register"/>
/// and is then named by job files, gated on its needs and shown in every report like these.
/// </summary>
internal static class CheckSuite
{
    static readonly IReadOnlyList<Check> Catalog =
    [
        new EcamHostBridgeRegistered(), new EcamWindowCoversBusRange(), new EcamWindowReserved(), new EcamDevicesEnumerated(),
        new EcamXenTrapsDom0(), new EcamDomUBridgeAtGuestBase(),
        new BarAllAssigned(), new BarNoAssignmentFailures(), new BarInsideRootWindows(), new BarNoOverlaps(),
        new BarClaimedInIomem(), new BarLspciMatchesKernel(), new BarDomURelocated(), new BarXenMapsEveryBar(),
        new IrqMsiDomainOnIts(), new IrqDevicesUseMsiX(), new IrqNvmeDelivered(), new IrqNicDelivered(), new IrqIntxRouted(), new IrqNoMsiWarnings(),
        new IommuDevicesGrouped(), new DmaNoIommuFaults(), new DmaNvmeRoundTrip(), new DmaNvmeInterruptsRise(),
        new LifecycleExpectedDevicesPresent(), new LifecycleDriversBound(), new LifecycleNoKernelOops(), new LifecycleXenHealthy(), new LifecycleAssignDeassign(),
        new LifecycleNoXenCrash(), new LifecycleNoToolstackPciErrors(),
        new NegativeDom0RegistrationRefusedLoudly(), new NegativeUnassignableRefused(),
        // What each guest sees (Catalog/Guest.cs): run once per guest on its own evidence.
        new EcamDomUBridgeNodeMatchesLayout(), new EcamDomUDevicesAtVirtualSbdf(), new BarDomUHostSizes(),
        new IrqDomUIntxDelivered(), new DmaDomUNvmeRoundTrip(), new DmaDomUNicTcp(), new DmaDomUNoSmmuFaults(),
        new LifecycleDomUKernelHealthy(), new LifecycleDomUHotplug(), new LifecycleDomUDeviceBackInDom0(),
    ];

    /// <summary>The catalog followed by the registered checks, in registration order.</summary>
    static readonly Registry<Check> Registered = new(Catalog);

    public static IReadOnlyList<Check> All => Registered.All;

    public static IReadOnlyList<string> Groups => All.Select(c => c.Group).Distinct().ToList();

    /// <summary>
    /// Adds a check to the suite until the returned registration is disposed. A check without an id,
    /// group, title or cited source, or whose id is taken (by a check, a group or <c>vpci</c>), is a
    /// programming error, refused here rather than at the first job that names it.
    /// </summary>
    public static IDisposable Register(Check check)
    {
        ArgumentNullException.ThrowIfNull(check);
        foreach (var (what, value) in new[] { ("id", check.Id), ("group", check.Group), ("title", check.Title), ("source", check.Source) })
            if (string.IsNullOrWhiteSpace(value))
                throw new ArgumentException($"check {check.GetType().Name} has no {what}; every check names itself and cites the source string it matches", nameof(check));
        return Registered.Add(check, all =>
        {
            if (check.Id == "vpci" || all.Any(c => c.Id == check.Id || c.Group == check.Id))
                throw new ArgumentException($"check id \"{check.Id}\" is taken already (a check, a group or vpci)", nameof(check));
        });
    }

    /// <summary>The checks named by a job's <c>checks:</c> list, in catalog order; an unknown name lists the known ones.</summary>
    public static IReadOnlyList<Check> Resolve(IEnumerable<string> names)
    {
        var all = All;
        var selected = new HashSet<Check>();
        foreach (var name in names)
        {
            var matched = name == "vpci" ? all : all.Where(c => c.Group == name || c.Id == name).ToList();
            if (matched.Count == 0)
                throw new ConfigurationException(
                    $"unknown check or group '{name}'; known: vpci, {string.Join(", ", all.Select(c => c.Group).Distinct())}, or one of: {string.Join(", ", all.Select(c => c.Id))}");
            selected.UnionWith(matched);
        }
        return all.Where(selected.Contains).ToList();
    }
}
