using System.Text.RegularExpressions;
using Farm.Guests;
using Farm.Spec;

namespace Farm.Jobs.Spec;

/// <summary>
/// One domU of a job (<c>guests:</c>): its xl.cfg as typed data, what its console prints when it
/// is ready, the commands run inside it over that console, the devices to hot-unplug and plug
/// back, and its own stage timeouts (guest stage names only; the job's apply otherwise).
/// </summary>
internal sealed partial record GuestSpec
{
    /// <summary>The guest's name: the domain name, the evidence key prefix and a directory name.</summary>
    public required string Name { get; init; }

    /// <summary>The xl.cfg Farm writes; kernel and ramdisk are dom0 paths (artifact-set files are under /mnt/artifacts).</summary>
    public required XlConfig Config { get; init; }

    /// <summary>The guest's shell prompt on its console (<c>expect.prompt</c>).</summary>
    public required Regex Prompt { get; init; }

    /// <summary>Run inside the guest over its console; output is evidence under <c>domU:&lt;name&gt;:&lt;command&gt;</c>.</summary>
    public IReadOnlyList<string> Commands { get; init; } = [];

    /// <summary>Devices of <see cref="XlConfig.Pci"/> to pci-detach and pci-attach again (guest-hotplug).</summary>
    public IReadOnlyList<string> Hotplug { get; init; } = [];

    /// <summary>This guest's own ceilings for guest stages; others come from the job's timeouts.</summary>
    public IReadOnlyDictionary<string, TimeSpan> Timeouts { get; init; } = new Dictionary<string, TimeSpan>();

    public TimeSpan TimeoutFor(StageKind stage, StageTimeouts job) => Timeouts.TryGetValue(stage.Name, out var t) ? t : job[stage];

    [GeneratedRegex(@"^[a-z0-9][a-z0-9-]{0,31}$")]
    internal static partial Regex NameRule();
}
