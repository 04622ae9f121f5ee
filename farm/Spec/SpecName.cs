using System.Text.RegularExpressions;

namespace Farm.Spec;

/// <summary>What job, board and board type names look like: they become run directory names and report keys.</summary>
internal static partial class SpecName
{
    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]*$", RegexOptions.CultureInvariant)]
    internal static partial Regex Rule();

    internal const string RuleText = "use letters, digits, '.', '_' and '-'; it names run directories";
}
