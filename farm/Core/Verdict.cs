using System.Text.Json.Serialization;

namespace Farm;

/// <summary>
/// The outcome of a run, LAVA-style: the *type* of failure decides it.
/// Exit codes are part of the CLI contract: pass 0, fail 1, error 2, incomplete 3.
/// </summary>
internal enum Verdict
{
    [JsonStringEnumMemberName("pass")] Pass,
    /// <summary>The system under test misbehaved.</summary>
    [JsonStringEnumMemberName("fail")] Fail,
    /// <summary>Infrastructure (board, power, console, network, timeout waiting for the lab): retry elsewhere.</summary>
    [JsonStringEnumMemberName("incomplete")] Incomplete,
    /// <summary>Bad input (job file, board file, missing artifact): do not retry.</summary>
    [JsonStringEnumMemberName("error")] Error,
}

internal static class VerdictExtensions
{
    public static int ExitCode(this Verdict v) => v switch
    {
        Verdict.Pass => 0,
        Verdict.Fail => 1,
        Verdict.Error => 2,
        Verdict.Incomplete => 3,
        _ => throw new ArgumentOutOfRangeException(nameof(v), v, null),
    };

    public static string ToWire(this Verdict v) => v.ToString().ToLowerInvariant();

    /// <summary>The worse of two verdicts: error beats incomplete beats fail beats pass.</summary>
    public static Verdict Worst(this Verdict a, Verdict b) => Rank(a) >= Rank(b) ? a : b;

    static int Rank(Verdict v) => v switch
    {
        Verdict.Pass => 0,
        Verdict.Fail => 1,
        Verdict.Incomplete => 2,
        Verdict.Error => 3,
        _ => 4,
    };
}
