namespace Farm.Tests.Checks;

/// <summary>Captured serial logs (../shared/xen-on-qemu/logs) and synthesized ones (tests/Golden/logs).</summary>
static class Logs
{
    static string Root => Spec.Checkout.Root;

    public static string SharedDirectory => Path.GetFullPath(Path.Combine(Root, "..", "shared", "xen-on-qemu", "logs"));

    public static string Shared(string name)
    {
        var path = Path.Combine(SharedDirectory, name);
        if (!File.Exists(path)) Assert.Ignore($"captured log {path} is not here (../shared is provided beside the checkout in CI)");
        return File.ReadAllText(path);
    }

    public static string Golden(string name) => File.ReadAllText(Path.Combine(Root, "tests", "Golden", "logs", name));

    /// <summary>A log from a real board as posted (source in its header), or SYNTHESIZED from the source strings: tests/Golden/logs/real.</summary>
    public static string Real(string name) => File.ReadAllText(Path.Combine(RealDirectory, name));

    /// <summary>The same, with a mail's quote marks removed, as farm analyze reads it.</summary>
    public static string RealUnquoted(string name) => Farm.Checks.Parsers.LogText.Unquote(Real(name));

    public static string RealDirectory => Path.Combine(Root, "tests", "Golden", "logs", "real");

    /// <summary>Every log available, for fuzzing: captured ones when present, synthesized ones always.</summary>
    public static IReadOnlyList<string> All() =>
    [
        .. Directory.Exists(SharedDirectory) ? Directory.GetFiles(SharedDirectory, "*.log").Select(File.ReadAllText) : [],
        .. Directory.GetFiles(Path.Combine(Root, "tests", "Golden", "logs")).Select(File.ReadAllText),
        .. Directory.GetFiles(RealDirectory).Select(File.ReadAllText),
    ];
}
