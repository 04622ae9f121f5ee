namespace Farm;

/// <summary>
/// Base of Farm's failure classes. The subclass decides the verdict; the evidence
/// (last console lines, the command, its exit code) travels with the exception so a
/// failure report reads itself.
/// </summary>
public abstract class FarmException : Exception
{
    protected FarmException(string message, IReadOnlyList<string>? evidence, Exception? inner)
        : base(message, inner) => Evidence = evidence ?? [];

    public IReadOnlyList<string> Evidence { get; }

    public abstract Verdict Verdict { get; }

    /// <summary>Short name recorded in run.json as the failure class.</summary>
    public abstract string FailureClass { get; }

    /// <summary>The message followed by the evidence lines, for humans.</summary>
    public string Describe()
    {
        // Evidence a message already says (a spec file's mistakes are both) is printed once.
        var said = Message.Split(Environment.NewLine).ToHashSet(StringComparer.Ordinal);
        var extra = Evidence.Where(l => !said.Contains(l)).ToList();
        return extra.Count == 0 ? Message : Message + Environment.NewLine + string.Join(Environment.NewLine, extra.Select(l => "  | " + l));
    }
}

/// <summary>Board, power, console or network trouble: the lab's fault. Verdict incomplete; retry elsewhere.</summary>
public sealed class InfrastructureException(string message, IReadOnlyList<string>? evidence = null, Exception? inner = null)
    : FarmException(message, evidence, inner)
{
    public override Verdict Verdict => Verdict.Incomplete;
    public override string FailureClass => "infrastructure";
}

/// <summary>The system under test misbehaved. Verdict fail.</summary>
public sealed class CheckFailedException(string message, IReadOnlyList<string>? evidence = null, Exception? inner = null)
    : FarmException(message, evidence, inner)
{
    public override Verdict Verdict => Verdict.Fail;
    public override string FailureClass => "check";
}

/// <summary>Bad input: a job or board file, a missing artifact or tool. Verdict error; never retried.</summary>
public sealed class ConfigurationException(string message, IReadOnlyList<string>? evidence = null, Exception? inner = null)
    : FarmException(message, evidence, inner)
{
    public override Verdict Verdict => Verdict.Error;
    public override string FailureClass => "configuration";
}
