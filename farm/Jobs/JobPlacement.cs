using Farm.Boards;
using Farm.Boards.Spec;
using Farm.Jobs.Spec;
using Farm.Spec;

namespace Farm.Jobs;

/// <summary>
/// Which boards of a lab can run a job: the job's tags, board name and expectations against what
/// each board is. A job's business, so boards and lab files know nothing of jobs.
/// </summary>
internal static class JobPlacement
{
    /// <summary>
    /// Why <paramref name="board"/> cannot run <paramref name="job"/>, or null when it can (LAVA's
    /// <c>accepts()</c>: the answer to "why not" is always a sentence).
    /// </summary>
    public static string? Rejects(this BoardSpec board, JobSpec job)
    {
        var missing = job.Tags.Where(t => !board.Tags.Contains(t, StringComparer.Ordinal)).ToList();
        if (missing.Count > 0) return $"lacks tag{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing)}";
        if (board.Hardware.Problem is { } problem) return problem;
        if (job.Expect.XenBanner is not null && board.Mode != BoardMode.Xen)
            return $"boots {board.Mode.ToString().ToLowerInvariant()} Linux, so the Xen banner the job expects (expect.xen-banner) never appears";
        return null;
    }

    /// <summary>Every board that can run <paramref name="job"/>, in file order (a scheduler picks a free one).</summary>
    public static IReadOnlyList<BoardSpec> Matching(this LabSpec lab, JobSpec job) =>
        lab.Boards.Where(b => (job.BoardName is null || b.Name == job.BoardName) && b.Rejects(job) is null).ToList();

    /// <summary>
    /// The board for <paramref name="job"/>: the named one, or the first carrying all the job's
    /// tags. When none fits, the error points at the job's <c>board</c>/<c>tags</c> line and lists
    /// every board with the reason it was passed over.
    /// </summary>
    public static BoardSpec Resolve(this LabSpec lab, JobSpec job)
    {
        if (lab.Matching(job) is [var first, ..]) return first;

        var available = lab.Boards.Select(b => b.Rejects(job) is { } why ? $"{b.Summary}: {why}" : b.Summary).ToList();
        if (available.Count == 0) available.Add("(the lab has no boards)");
        string field, problem;
        if (job.BoardName is { } name && lab.Find(name) is { } named)
        {
            field = "board";
            problem = $"board \"{name}\" cannot run this job: {named.Rejects(job)}";
        }
        else if (job.BoardName is { } missing)
        {
            field = "board";
            problem = $"no board named \"{missing}\" in the lab{NearMiss.Hint(missing, lab.Boards.Select(b => b.Name))}";
        }
        else
        {
            field = "tags";
            problem = $"no board carries all of the tags {string.Join(", ", job.Tags)}";
        }
        var lines = available.Select(a => "  " + a);
        var message = $"{job.PositionOf(field)}: {field}: {problem}. Available boards:{Environment.NewLine}{string.Join(Environment.NewLine, lines)}";
        throw new ConfigurationException(message, available);
    }
}
