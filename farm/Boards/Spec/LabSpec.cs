using Farm.Jobs.Spec;

namespace Farm.Boards.Spec;

/// <summary>The boards of a lab, loaded from <c>boards/*.yaml</c> by <see cref="LabFile"/>.</summary>
internal sealed record LabSpec
{
    public IReadOnlyDictionary<string, BoardTypeSpec> BoardTypes { get; init; } = new Dictionary<string, BoardTypeSpec>();

    /// <summary>Resolved boards in file order; tag matching prefers earlier boards.</summary>
    public IReadOnlyList<BoardSpec> Boards { get; init; } = [];

    public BoardSpec? Find(string name) => Boards.FirstOrDefault(b => b.Name == name);

    /// <summary>Every board that can run <paramref name="job"/>, in file order (a scheduler picks a free one).</summary>
    public IReadOnlyList<BoardSpec> Matching(JobSpec job) =>
        Boards.Where(b => (job.BoardName is null || b.Name == job.BoardName) && b.Rejects(job) is null).ToList();

    /// <summary>
    /// The board for <paramref name="job"/>: the named one, or the first carrying all the job's
    /// tags. When none fits, the error points at the job's <c>board</c>/<c>tags</c> line and lists
    /// every board with the reason it was passed over.
    /// </summary>
    public BoardSpec Resolve(JobSpec job)
    {
        if (Matching(job) is [var first, ..]) return first;

        var available = Boards.Select(b => b.Rejects(job) is { } why ? $"{b.Summary}: {why}" : b.Summary).ToList();
        if (available.Count == 0) available.Add("(the lab has no boards)");
        string field, problem;
        if (job.BoardName is { } name && Find(name) is { } named)
        {
            field = "board";
            problem = $"board \"{name}\" cannot run this job: {named.Rejects(job)}";
        }
        else if (job.BoardName is { } missing)
        {
            field = "board";
            problem = $"no board named \"{missing}\" in the lab{NearMiss.Hint(missing, Boards.Select(b => b.Name))}";
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
