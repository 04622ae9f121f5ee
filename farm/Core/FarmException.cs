using System.Text.Json.Serialization;

namespace Farm;

/// <summary>
/// Why a run or stage did not pass, recorded on the run. Health and retries decide by it, never by
/// message text: only <see cref="Infrastructure"/> and <see cref="Timeout"/> blame the board.
/// </summary>
internal enum FailureClass
{
    /// <summary>Board, power, console or network trouble: the lab's fault.</summary>
    [JsonStringEnumMemberName("infrastructure")] Infrastructure,
    /// <summary>A stage or the job ran out of its time: the board did not get there.</summary>
    [JsonStringEnumMemberName("timeout")] Timeout,
    /// <summary>Someone stopped the run (Ctrl-C, farm queue --cancel): says nothing about the board.</summary>
    [JsonStringEnumMemberName("canceled")] Canceled,
    /// <summary>Farm itself threw something unexpected: an error, never retried elsewhere, never the board's fault.</summary>
    [JsonStringEnumMemberName("farm-bug")] FarmBug,
    /// <summary>The system under test misbehaved.</summary>
    [JsonStringEnumMemberName("check")] Check,
    /// <summary>Bad input: a job or lab file, a missing artifact or tool.</summary>
    [JsonStringEnumMemberName("configuration")] Configuration,
}

internal static class FailureClasses
{
    public static string ToWire(this FailureClass c) => c switch
    {
        FailureClass.FarmBug => "farm-bug",
        _ => c.ToString().ToLowerInvariant(),
    };

    /// <summary>The class a record's <c>failureClass</c> names, or null (none, or a name this Farm does not know).</summary>
    public static FailureClass? FromWire(string? wire) =>
        Enum.GetValues<FailureClass>().Cast<FailureClass?>().FirstOrDefault(c => c!.Value.ToWire() == wire);
}

/// <summary>
/// Base of Farm's failure classes. The subclass decides the verdict; the evidence
/// (last console lines, the command, its exit code) travels with the exception so a
/// failure report reads itself.
/// </summary>
internal abstract class FarmException : Exception
{
    protected FarmException(string message, IReadOnlyList<string>? evidence, Exception? inner)
        : base(message, inner) => Evidence = evidence ?? [];

    public IReadOnlyList<string> Evidence { get; }

    public abstract Verdict Verdict { get; }

    /// <summary>The failure class, recorded in run.json (<see cref="FailureClasses.ToWire"/>).</summary>
    public abstract FailureClass FailureClass { get; }

    /// <summary>The message followed by the evidence lines, for humans.</summary>
    public string Describe()
    {
        // Evidence a message already says (a spec file's mistakes are both) is printed once.
        var said = Message.Split(Environment.NewLine).ToHashSet(StringComparer.Ordinal);
        var extra = Evidence.Where(l => !said.Contains(l)).ToList();
        return extra.Count == 0 ? Message : Message + Environment.NewLine + string.Join(Environment.NewLine, extra.Select(l => "  | " + l));
    }
}

/// <summary>
/// The run could not finish for a reason outside the system under test: the lab failed
/// (infrastructure), time ran out (timeout) or someone stopped it (canceled). Verdict incomplete;
/// only the first two are retried elsewhere and count against the board.
/// </summary>
internal sealed class InfrastructureException(string message, IReadOnlyList<string>? evidence = null, Exception? inner = null, FailureClass failureClass = FailureClass.Infrastructure)
    : FarmException(message, evidence, inner)
{
    public InfrastructureException(string message, IReadOnlyList<string>? evidence, Exception? inner)
        : this(message, evidence, inner, FailureClass.Infrastructure) { }

    public override Verdict Verdict => Verdict.Incomplete;
    public override FailureClass FailureClass { get; } = failureClass is FailureClass.Infrastructure or FailureClass.Timeout or FailureClass.Canceled
        ? failureClass : throw new ArgumentOutOfRangeException(nameof(failureClass), failureClass, "an incomplete run is infrastructure, timeout or canceled");
}

/// <summary>
/// Farm itself failed (a NullReferenceException in a stage, say): verdict error with the stack as
/// evidence, never retried on another board, never held against the board.
/// </summary>
internal sealed class FarmBugException(string message, Exception inner)
    : FarmException(message, Stack(inner), inner)
{
    public override Verdict Verdict => Verdict.Error;
    public override FailureClass FailureClass => FailureClass.FarmBug;

    static IReadOnlyList<string> Stack(Exception e) =>
        [.. e.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).Take(40)];
}

/// <summary>The system under test misbehaved. Verdict fail.</summary>
internal sealed class CheckFailedException(string message, IReadOnlyList<string>? evidence = null, Exception? inner = null)
    : FarmException(message, evidence, inner)
{
    public override Verdict Verdict => Verdict.Fail;
    public override FailureClass FailureClass => FailureClass.Check;
}

/// <summary>Bad input: a job or board file, a missing artifact or tool. Verdict error; never retried.</summary>
internal sealed class ConfigurationException(string message, IReadOnlyList<string>? evidence = null, Exception? inner = null)
    : FarmException(message, evidence, inner)
{
    public override Verdict Verdict => Verdict.Error;
    public override FailureClass FailureClass => FailureClass.Configuration;
}
