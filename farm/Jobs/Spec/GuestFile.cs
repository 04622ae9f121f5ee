using System.Text.RegularExpressions;
using Farm.Guests;
using YamlDotNet.RepresentationModel;
using Farm.Spec;

namespace Farm.Jobs.Spec;

/// <summary>Reads a job's <c>guests:</c> list into <see cref="GuestSpec"/>s; every mistake is reported at its line.</summary>
internal static partial class GuestFile
{
    static readonly string[] GuestKeys = ["name", "kernel", "ramdisk", "memory", "vcpus", "extra", "pci", "passthrough", "expect", "commands", "hotplug", "timeouts"];
    static readonly string[] ExpectKeys = ["prompt"];
    static readonly string[] GuestTimeoutKeys = [.. StageKinds.Guest.Select(k => k.Name)];

    /// <summary>Where dom0 mounts the run's artifact set (the board's 9p share, see ci/artifacts.sh /init).</summary>
    public const string ArtifactMount = "/mnt/artifacts";

    /// <summary>The dom0 kernel and initramfs also boot as a domU: the same /init sees no control_d and skips the toolstack.</summary>
    public const string DefaultKernel = "vmlinuz";
    public const string DefaultRamdisk = "initrd.cpio.gz";
    public const string DefaultExtra = "console=hvc0 rdinit=/init";

    public const int MaxGuests = 8;
    public const int MaxCommands = 64;

    public static IReadOnlyList<GuestSpec> Read(SpecMapping root)
    {
        if (root.Value("guests") is not { } node) return [];
        if (node is not YamlSequenceNode seq)
        {
            root.Report("guests", $"expected a list of guests, got {SpecReader.Describe(node)}");
            return [];
        }
        if (seq.Children.Count > MaxGuests) root.Report("guests", $"{seq.Children.Count} guests; at most {MaxGuests} fit a board");
        var guests = new List<GuestSpec>();
        for (int i = 0; i < seq.Children.Count && i < MaxGuests; i++)
        {
            var path = $"guests[{i}]";
            root.Reader.Remember(path, seq.Children[i]);
            if (root.Reader.Mapping(seq.Children[i], path, GuestKeys) is not { } g) continue;
            if (ReadGuest(g) is not { } guest) continue;
            if (guests.Any(x => x.Name == guest.Name))
                g.Report("name", $"guest \"{guest.Name}\" is defined twice (names key its evidence and console directory)");
            else guests.Add(guest);
        }
        return guests;
    }

    static GuestSpec? ReadGuest(SpecMapping g)
    {
        int errors = g.Reader.Errors.Count;
        var name = g.Text("name", required: true, "a domain name like g1");
        if (name is not null && !GuestSpec.NameRule().IsMatch(name))
            g.Report("name", $"\"{name}\" is not a guest name (lowercase letters, digits and '-', at most 32, starting with a letter or digit)");
        var kernel = DomainPath(g, "kernel", DefaultKernel);
        var ramdisk = g.Text("ramdisk") == "none" ? null : DomainPath(g, "ramdisk", DefaultRamdisk);
        var memory = g.Integer("memory", 32) ?? 256;
        var vcpus = g.Integer("vcpus", 1) ?? 1;
        var extra = g.Text("extra") ?? DefaultExtra;
        if (extra.IndexOfAny(['"', '\n', '\\']) >= 0) g.Report("extra", "must not contain '\"', '\\' or a newline (it is an xl.cfg string)");
        var pci = ReadPci(g);
        var passthrough = g.Text("passthrough");
        var prompt = g.Mapping("expect", ExpectKeys, required: true, "expect: {prompt: 'root@farm:~# '}") is { } e
            ? e.Pattern("prompt", required: true, "a regex for the guest's shell prompt, e.g. 'root@farm:~# '") : null;
        var commands = g.TextList("commands", "command",
            duplicateReason: "evidence is stored per command line, so the second output would overwrite the first",
            check: c => c.Contains('\n') ? "a guest command is one line (it is typed on the guest console)" : null) ?? [];
        if (commands.Count > MaxCommands) g.Report("commands", $"{commands.Count} commands; at most {MaxCommands}");
        var hotplug = g.TextList("hotplug", "device", duplicateReason: "listed twice",
            check: d => pci.Any(p => p.Sbdf.Equals(d, StringComparison.OrdinalIgnoreCase)) ? null : $"\"{d}\" is not one of this guest's pci devices") ?? [];
        var timeouts = new Dictionary<string, TimeSpan>(StringComparer.Ordinal);
        if (g.Mapping("timeouts", GuestTimeoutKeys) is { } t)
            foreach (var k in GuestTimeoutKeys)
                if (t.Duration(k) is { } d) timeouts[k] = d;

        if (name is null || kernel is null || prompt is null) return null;
        XlConfig config;
        try
        {
            config = new XlConfig
            {
                Name = name, Kernel = kernel, Ramdisk = ramdisk, MemoryMb = memory, Vcpus = vcpus, Extra = extra,
                Pci = pci, Passthrough = passthrough,
            }.Validate();
        }
        catch (ConfigurationException x)
        {
            foreach (var problem in x.Evidence) g.Report(problem.Split(':')[0] is var field && g.Has(field) ? field : "name", problem);
            return null;
        }
        if (g.Reader.Errors.Count > errors) return null;
        return new GuestSpec { Name = name, Config = config, Prompt = prompt, Commands = commands, Hotplug = hotplug, Timeouts = timeouts };
    }

    /// <summary>A bare file name is a file of the run's artifact set (seen by dom0 under /mnt/artifacts); an absolute path is taken as a dom0 path.</summary>
    static string? DomainPath(SpecMapping g, string key, string fallback)
    {
        var text = g.Text(key) ?? fallback;
        if (text.StartsWith('/'))
        {
            if (!SafePath().IsMatch(text) || text.Split('/').Any(s => s is "." or ".."))
            {
                g.Report(key, $"\"{text}\" is not a plain absolute path (letters, digits, '._-+/', no '.' or '..' segments)");
                return null;
            }
            return text;
        }
        if (!SafeFile().IsMatch(text) || text is "." or "..")
        {
            g.Report(key, $"\"{text}\" is not a file of the artifact set (one name like vmlinuz) or an absolute dom0 path");
            return null;
        }
        return $"{ArtifactMount}/{text}";
    }

    /// <summary><c>pci:</c> items are 'SBDF[,key=value...]' strings (xl's own syntax) or {sbdf: ..., key: value} mappings.</summary>
    static List<PciDevice> ReadPci(SpecMapping g)
    {
        var devices = new List<PciDevice>();
        if (g.Value("pci") is not { } node) return devices;
        if (node is not YamlSequenceNode seq)
        {
            g.Report("pci", $"expected a list of devices, got {SpecReader.Describe(node)} (write ['0000:00:01.0'])");
            return devices;
        }
        for (int i = 0; i < seq.Children.Count; i++)
        {
            var path = $"{g.PathOf("pci")}[{i}]";
            var item = seq.Children[i];
            g.Reader.Remember(path, item);
            if (item is YamlScalarNode { Value: { Length: > 0 } text })
            {
                var parts = text.Split(',', StringSplitOptions.TrimEntries);
                var options = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var o in parts.Skip(1))
                {
                    var kv = o.Split('=', 2);
                    if (kv.Length != 2) g.Reader.Report(item, path, $"option \"{o}\" is not key=value");
                    else options[kv[0]] = kv[1];
                }
                devices.Add(new PciDevice(parts[0], options));
            }
            else if (g.Reader.Mapping(item, path, ["sbdf", .. XlConfig.PciOptionKeys.Order()]) is { } m && m.Text("sbdf", required: true) is { } sbdf)
            {
                var options = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var k in XlConfig.PciOptionKeys.Order())
                    if (m.Text(k) is { } v) options[k] = v;
                devices.Add(new PciDevice(sbdf, options));
            }
        }
        return devices;
    }

    [GeneratedRegex(@"^/[A-Za-z0-9._+/-]{1,255}$")]
    private static partial Regex SafePath();

    [GeneratedRegex(@"^[A-Za-z0-9._+-]{1,128}$")]
    private static partial Regex SafeFile();
}
