using System.Text.RegularExpressions;

namespace Farm.Serial;

/// <summary>
/// A console line that means the system under test crashed (LAVA's kernel-message patterns).
/// <see cref="Hint"/> is a literal every match contains: lines without any hint skip the regex.
/// </summary>
internal sealed record CrashPattern(string Id, Regex Pattern, string Source, string? Hint = null);

/// <summary>
/// The default crash patterns, each with the source string it matches, and the merge of the
/// board type's, board's and job's <c>crash-patterns:</c> maps over them (an id replaces the
/// pattern of that id, a new id adds one, <c>off</c> removes one).
/// </summary>
internal static partial class CrashPatterns
{
    static Regex R(string pattern) => new(pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    public static IReadOnlyList<CrashPattern> Defaults { get; } =
    [
        // Linux arch/arm64/kernel/traps.c die(): pr_emerg("Internal error: %s: %016lx [#%d] ...", str, err, ...),
        // str is "Oops" (arm64_notify_die / die_kernel_fault); also "Internal error: Oops - BUG".
        new("linux.oops", R(@"Internal error: Oops"), "linux arch/arm64/kernel/traps.c die(): \"Internal error: %s: %016lx [#%d]\"", "Internal error: Oops"),
        // Linux kernel/panic.c panic(): pr_emerg("Kernel panic - not syncing: %s\n", buf).
        new("linux.panic", R(@"Kernel panic - not syncing"), "linux kernel/panic.c panic(): \"Kernel panic - not syncing: %s\"", "Kernel panic - not syncing"),
        // Linux arch/arm64/mm/fault.c die_kernel_fault(): pr_alert("Unable to handle kernel %s at virtual address %016lx\n", msg, addr).
        new("linux.unable-to-handle", R(@"Unable to handle kernel "), "linux arch/arm64/mm/fault.c die_kernel_fault(): \"Unable to handle kernel %s at virtual address %016lx\"", "Unable to handle kernel "),
        // Xen xen/drivers/char/console.c panic(): printk("Panic on CPU %d:\n", smp_processor_id()).
        new("xen.panic", R(@"Panic on CPU \d+:"), "xen xen/drivers/char/console.c panic(): \"Panic on CPU %d:\"", "Panic on CPU "),
        // Xen xen/common/bug.c (xen/arch/arm/traps.c before 4.18) do_bug_frame(), BUGFRAME_assert:
        // printk("Assertion '%s' failed at %s%s:%d\n", predicate, prefix, filename, lineno).
        new("xen.assert", R(@"Assertion '.*' failed at "), "xen xen/common/bug.c do_bug_frame(): \"Assertion '%s' failed at %s%s:%d\"", "Assertion '"),
        // Xen xen/common/bug.c do_bug_frame(), BUGFRAME_bug: printk("Xen BUG at %s%s:%d\n", prefix, filename, lineno).
        new("xen.bug", R(@"Xen BUG at "), "xen xen/common/bug.c do_bug_frame(): \"Xen BUG at %s%s:%d\"", "Xen BUG at "),
        // Xen xen/arch/arm/traps.c do_unexpected_trap(): printk("CPU%d: Unexpected Trap: %s\n", ...), e.g.
        // "Data Abort" from do_trap_hyp_sync() for HSR_EC_DATA_ABORT_CURR_EL (an abort taken in Xen itself).
        new("xen.trap", R(@"CPU\d+: Unexpected Trap: "), "xen xen/arch/arm/traps.c do_unexpected_trap(): \"CPU%d: Unexpected Trap: %s\"", "Unexpected Trap: "),
    ];

    /// <summary>Applies one layer of overrides: a null pattern removes that id, any other replaces or adds it.</summary>
    public static IReadOnlyList<CrashPattern> Merge(IReadOnlyList<CrashPattern> under, IReadOnlyDictionary<string, Regex?>? layer, string source)
    {
        if (layer is null || layer.Count == 0) return under;
        var result = under.Where(p => !layer.ContainsKey(p.Id)).ToList();
        foreach (var (id, pattern) in layer)
            if (pattern is not null) result.Add(new CrashPattern(id, pattern, source));
        return result;
    }

    /// <summary>What <c>crash-patterns:</c> ids look like: lowercase words joined by '.' or '-'.</summary>
    public static bool IsValidId(string id) => IdRule().IsMatch(id);

    public const string IdHint = "ids are lowercase letters, digits, '.' and '-', e.g. linux.oops";

    [GeneratedRegex(@"^[a-z0-9][a-z0-9.-]{0,63}$")]
    private static partial Regex IdRule();
}
