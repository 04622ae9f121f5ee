using Farm.Checks.Catalog;

namespace Farm.Checks;

/// <summary>
/// The check catalog and how job files name parts of it: <c>vpci</c> (everything), a group
/// (<c>ecam</c>, <c>bar</c>, <c>interrupts</c>, <c>dma-iommu</c>, <c>lifecycle</c>, <c>negative</c>) or a check id.
/// </summary>
internal static class CheckSuite
{
    public static IReadOnlyList<Check> All { get; } =
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
        new DmaDomUNvmeRoundTrip(), new DmaDomUNicTcp(), new DmaDomUNoSmmuFaults(),
        new LifecycleDomUKernelHealthy(), new LifecycleDomUHotplug(), new LifecycleDomUDeviceBackInDom0(),
    ];

    public static IReadOnlyList<string> Groups { get; } = All.Select(c => c.Group).Distinct().ToList();

    /// <summary>The checks named by a job's <c>checks:</c> list, in catalog order; an unknown name lists the known ones.</summary>
    public static IReadOnlyList<Check> Resolve(IEnumerable<string> names)
    {
        var selected = new HashSet<Check>();
        foreach (var name in names)
        {
            var matched = name == "vpci" ? All : All.Where(c => c.Group == name || c.Id == name).ToList();
            if (matched.Count == 0)
                throw new ConfigurationException(
                    $"unknown check or group '{name}'; known: vpci, {string.Join(", ", Groups)}, or one of: {string.Join(", ", All.Select(c => c.Id))}");
            selected.UnionWith(matched);
        }
        return All.Where(selected.Contains).ToList();
    }
}
