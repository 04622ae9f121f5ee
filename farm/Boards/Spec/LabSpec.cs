using Farm.Spec;

namespace Farm.Boards.Spec;

/// <summary>The boards of a lab, loaded from <c>boards/*.yaml</c> by <see cref="LabFile"/>.</summary>
internal sealed record LabSpec
{
    public IReadOnlyDictionary<string, BoardTypeSpec> BoardTypes { get; init; } = new Dictionary<string, BoardTypeSpec>();

    /// <summary>Resolved boards in file order; tag matching prefers earlier boards.</summary>
    public IReadOnlyList<BoardSpec> Boards { get; init; } = [];

    public BoardSpec? Find(string name) => Boards.FirstOrDefault(b => b.Name == name);
}
