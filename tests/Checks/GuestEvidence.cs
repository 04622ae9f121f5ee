namespace Farm.Tests.Checks;

/// <summary>Synthesized guest evidence (tests/Golden/guests): '==> key &lt;==' sections, each one CommandOutputs entry.</summary>
static class GuestEvidence
{
    public static Dictionary<string, string> Load(string name)
    {
        var text = File.ReadAllText(Path.Combine(Spec.Checkout.Root, "tests", "Golden", "guests", name));
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        string? key = null;
        var body = new List<string>();
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("==> ", StringComparison.Ordinal) && line.EndsWith(" <==", StringComparison.Ordinal))
            {
                Flush();
                key = line[4..^4];
                body.Clear();
            }
            else if (key is not null) body.Add(line);
        }
        Flush();
        return d;

        void Flush()
        {
            if (key is not null) d[key] = string.Join('\n', body).TrimEnd('\n');
        }
    }

    /// <summary>The good guest g1 beside dom0's own evidence on the synthesized passthrough Xen (IOMMU enabled).</summary>
    public static Dictionary<string, string> Good() => new(Load("g1-vpci.synth.txt")) { ["lspci -vvv"] = Logs.Golden("lspci-xen-4.17.txt") };

    public static string HostConsole => Logs.Golden("xen-pci-passthrough.synth.log");
}
