using System.Text;
using Farm.Checks;
using Farm.Checks.Parsers;

namespace Farm.Tests.Checks;

/// <summary>Garbled, truncated and random input never makes a parser (or the whole suite) throw.</summary>
public class ParserFuzzTests
{
    const int Iterations = 10_000;

    [Test]
    public void TenThousandMutatedInputsThroughEveryParser()
    {
        var rng = new Random(20261125);
        var guest = GuestEvidence.Good();
        var seeds = Logs.All().Append(Logs.Golden("lspci-xen-4.17.txt")).Append(Logs.Golden("domu-vpci.synth.dts")).Concat(guest.Values).ToList();
        int parsed = 0;
        for (int i = 0; i < Iterations; i++)
        {
            var input = Mutate(seeds[rng.Next(seeds.Count)], rng);
            LinuxDmesgParser.Parse(input);
            XenLogParser.Parse(input);
            XenLogParser.XlInfo(input);
            XenLogParser.PciAssignable(input);
            LspciParser.Parse(input);
            ProcParsers.Interrupts(input);
            ProcParsers.Iomem(input);
            DeviceTreeParser.HostBridges(DeviceTreeParser.Parse(input));
            ToolstackParser.Parse(input);
            Farm.Analyze.LogAnalysis.Detect(LogText.Unquote(input));
            if (i % 50 == 0)
            {
                var t = new Target(new EvidenceBundle("fuzz", input, new Dictionary<string, string>
                {
                    ["lspci -vvv"] = input, ["cat /proc/interrupts"] = input, ["cat /proc/iomem"] = input, ["probe"] = "FARM-PROBE nvme-dma\n" + input,
                }), ["0000:00:01.0"]);
                // A guest whose every piece of evidence is mutated (and one whose keys all carry the same garbage).
                var mutated = guest.ToDictionary(k => k.Key, k => Mutate(k.Value, rng));
                foreach (var k in new[] { "xl.cfg", "console", "lspci -vvv", "dtc -I fs -O dts /proc/device-tree", "FARM-PROBE nic-tcp guest" }) mutated[$"domU:fz:{k}"] = input;
                foreach (var k in new[] { "create:xl create", "pci-list-after:xl pci-list fz", "hotplug-detach:xl pci-detach fz 0000:00:01.0", "after-deassign:lspci -vvv", "nic-tcp:x" }) mutated[$"dom0:fz:{k}"] = input;
                var withGuests = new Target(new EvidenceBundle("fuzz", input, mutated), ["0000:00:01.0"]);
                Assert.That(withGuests.Guests.Select(g => g.Name), Is.SupersetOf(new[] { "fz" }));
                var results = CheckRunner.Run(t, CheckSuite.All).Concat(CheckRunner.Run(withGuests, CheckSuite.All)).ToList();
                var crashed = results.Where(r => r.Summary.Contains(": check crashed", StringComparison.Ordinal)).ToList();
                Assert.That(crashed, Is.Empty, () => string.Join("\n", crashed.Select(c => $"{c.Id}: {c.Summary} {string.Join(" | ", c.Evidence)}")));
                // farm analyze over the same garbage, as every kind at once
                var report = Farm.Analyze.LogAnalysis.Analyze([new("a", input, null), new("l", input, Farm.Analyze.LogKind.Lspci), new("i", input, Farm.Analyze.LogKind.Interrupts), new("x", input, Farm.Analyze.LogKind.Xl)]);
                Assert.That(report.Checks.Where(r => r.Summary.Contains(": check crashed", StringComparison.Ordinal)), Is.Empty);
                Assert.That(report.ToJson(), Is.Not.Empty);
            }
            parsed++;
        }
        Assert.That(parsed, Is.EqualTo(Iterations));
    }

    static string Mutate(string seed, Random rng)
    {
        switch (rng.Next(7))
        {
            case 0: return seed[..rng.Next(seed.Length + 1)];                                   // truncated
            case 1:                                                                              // flipped bytes
                {
                    var chars = seed.ToCharArray();
                    for (int k = 0; k < 1 + rng.Next(50) && chars.Length > 0; k++) chars[rng.Next(chars.Length)] = (char)rng.Next(0, 0x3000);
                    return new string(chars);
                }
            case 2: return RandomText(rng, rng.Next(4000));                                     // noise
            case 3:                                                                              // lines shuffled and duplicated
                {
                    var lines = seed.Split('\n');
                    return string.Join('\n', Enumerable.Range(0, lines.Length).Select(_ => lines[rng.Next(lines.Length)]));
                }
            case 4:                                                                              // garbage spliced in
                {
                    int at = rng.Next(seed.Length + 1);
                    return seed[..at] + RandomText(rng, rng.Next(300)) + seed[at..];
                }
            case 5: return string.Join('\n', seed.Split('\n').Select(l => rng.Next(3) == 0 ? "\x1b[2J\r" + l + "\x1b[0m\r" : l)); // ANSI + CR
            default:                                                                             // numbers pushed past their types
                return seed.Replace("0x", "0x" + new string('f', rng.Next(30))).Replace("[size=", "[size=" + new string('9', rng.Next(25)));
        }
    }

    static string RandomText(Random rng, int length)
    {
        const string alphabet = "0123456789abcdefx:-[]()., \n\t(XEN) pci BAR mem ECAM at for bus Region Memory MSI-X: Enable+ Count=\u00ff\u0000{};=<>\"> GFSR not mapping BAR libxl xen-dyn -event bridge window";
        var b = new StringBuilder(length);
        for (int i = 0; i < length; i++) b.Append(alphabet[rng.Next(alphabet.Length)]);
        return b.ToString();
    }
}
