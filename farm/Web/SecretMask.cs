using System.Text.RegularExpressions;

namespace Farm.Web;

/// <summary>
/// What a page or the API shows of a power or console command: anything that looks like a secret
/// (a URL's user:password@, <c>--password X</c>, <c>-P X</c>, <c>token=X</c>, an SNMP community
/// after <c>-c</c>) is replaced by <c>***</c>. The lab checker refuses the plainest of these; this
/// catches a command line written before it or one it cannot read.
/// </summary>
internal static partial class SecretMask
{
    public const string Hidden = "***";

    public static string Mask(string? text)
    {
        if (string.IsNullOrEmpty(text)) return text ?? "";
        var s = UserInfo().Replace(text, m => m.Groups["scheme"].Value + Hidden + "@");
        s = Flag().Replace(s, m => m.Groups["flag"].Value + m.Groups["sep"].Value + Hidden);
        return KeyValue().Replace(s, m => m.Groups["key"].Value + m.Groups["sep"].Value + Hidden);
    }

    [GeneratedRegex(@"(?<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]*@", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex UserInfo();

    // --password X, --password=X, --token X, --community X, --secret X, --pass X, ipmitool's -P X, snmpset's -c X.
    [GeneratedRegex(@"(?<flag>--?(?:password|passwd|pass|token|secret|community|api-key|apikey|auth)|(?<![\w-])-[Pc])(?<sep>[ =])(?:""[^""]*""|'[^']*'|\S+)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Flag();

    // password=X, token: X, PASSWORD=X in an environment prefix.
    [GeneratedRegex(@"(?<key>\b(?:password|passwd|pass|token|secret|community|api[_-]?key)\b)(?<sep>\s*[=:]\s*)(?:""[^""]*""|'[^']*'|[^\s&;]+)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex KeyValue();
}
