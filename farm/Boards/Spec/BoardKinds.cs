using Farm.Spec;

namespace Farm.Boards.Spec;

/// <summary>
/// The half of a board its kind owns (<c>kind: qemu</c> → <c>QemuSpec</c>), validated by the
/// kind's reader: its own fields, the facts callers need without asking which kind it is, and the
/// configuration a run is made from.
/// </summary>
internal abstract record BoardKindSpec
{
    /// <summary>The kind's name in lab files (<c>kind:</c>).</summary>
    public abstract string Kind { get; }

    /// <summary>
    /// Whether the board exists once on a bench (so the nightly holds it with a job lease), rather
    /// than being a template Farm instantiates for each run (QEMU).
    /// </summary>
    public abstract bool Physical { get; }

    /// <summary>Where its power is, for <c>farm boards</c>: <c>snmp 10.0.0.5:161 outlet 3</c>.</summary>
    public abstract string PowerSummary { get; }

    /// <summary>Where its console is, for <c>farm boards</c>.</summary>
    public abstract string ConsoleSummary { get; }

    /// <summary>Why the board cannot run any job at the moment (with the lab-file position), or null.</summary>
    public virtual string? Problem => null;

    /// <summary>
    /// What <c>farm boards --check</c> learns from the board's power and console right now, each
    /// line appended under the summary; null when the kind has nothing outside Farm to ask.
    /// </summary>
    internal virtual Task<(string Power, string Console)?> ProbeAsync(BoardSpec board, CancellationToken ct) =>
        Task.FromResult<(string, string)?>(null);

    /// <summary>The board as a run makes it (the factory is <see cref="IBoardConfig.Create"/>).</summary>
    internal abstract IBoardConfig Config(BoardSpec board);
}

/// <summary>
/// A key a board kind owns in lab files (<c>qemu:</c>, <c>power:</c>): read wherever it is written,
/// whatever the board's kind turns out to be (the kind may be set on a type in another file), so a
/// mistake in it is reported once, at its own line.
/// </summary>
internal abstract class BoardKindSection(string key, bool boardOnly)
{
    public string Key => key;

    /// <summary>Written on boards only (how Farm reaches that one board), never on a board type.</summary>
    public bool BoardOnly => boardOnly;

    /// <summary>Reads the key from its parent mapping; null when it is absent or wrong (and reported).</summary>
    internal abstract object? Read(SpecMapping parent);

    /// <summary>The board's value laid over its type's.</summary>
    internal abstract object Over(object upper, object lower);
}

/// <summary>A section whose value is a <typeparamref name="T"/>; without <paramref name="over"/> a board's value replaces its type's.</summary>
internal sealed class BoardKindSection<T>(string key, Func<SpecMapping, T?> read, Func<T, T, T>? over = null, bool boardOnly = false)
    : BoardKindSection(key, boardOnly) where T : class
{
    internal override object? Read(SpecMapping parent) => read(parent);

    internal override object Over(object upper, object lower) => over is null ? upper : over((T)upper, (T)lower);
}

/// <summary>
/// One board kind a lab file can name (labgrid's target factory, LAVA's device type with its boot
/// methods): its name, the sections it owns, and the builder that checks the merged board and
/// returns its <see cref="BoardKindSpec"/>. <paramref name="Title"/> names it in messages ("QEMU").
/// </summary>
internal sealed record BoardKindEntry(string Name, string Title, IReadOnlyList<BoardKindSection> Sections, Func<BoardKindBuild, BoardKindSpec?> Build);

/// <summary>A section of another kind written on a board (or its type): <paramref name="OnBoard"/> when the board set it.</summary>
internal sealed record ForeignSection(BoardKindEntry Owner, BoardKindSection Section, bool OnBoard);

/// <summary>
/// What a kind's builder sees of one board: the common settings merged (board over type), its
/// sections by layer, and where to report. Problems are reported at the board, naming board and type.
/// </summary>
internal sealed class BoardKindBuild(BoardKindEntry kind, BoardSettings merged, BoardSettings board, BoardTypeSpec type,
    string boardName, string path, SpecPosition at, List<SpecError> errors)
{
    public BoardKindEntry Kind => kind;

    /// <summary>Kind, mode, command lines and expected PCI: the type's with the board's laid over.</summary>
    public BoardSettings Settings => merged;

    /// <summary>What the board itself sets (for saying where a value came from).</summary>
    public BoardSettings OnBoard => board;

    public string BoardName => boardName;

    /// <summary>A section's merged value, or null when it is not written (or wrong, and reported).</summary>
    public T? Section<T>(BoardKindSection<T> section) where T : class => (T?)merged.Sections.GetValueOrDefault(section.Key);

    /// <summary>A section's value as the board itself writes it.</summary>
    public T? SectionOnBoard<T>(BoardKindSection<T> section) where T : class => (T?)board.Sections.GetValueOrDefault(section.Key);

    /// <summary>Whether a section is written at all, even if wrongly (its mistakes are reported where they are).</summary>
    public bool Written(BoardKindSection section) => merged.Written.Contains(section.Key);

    /// <summary>Sections of other kinds that are set (with a value that read) for this board.</summary>
    public IEnumerable<ForeignSection> Foreign => BoardKinds.All.Where(k => k != kind)
        .SelectMany(k => k.Sections.Where(s => merged.Sections.ContainsKey(s.Key)).Select(s => new ForeignSection(k, s, board.Sections.ContainsKey(s.Key))));

    /// <summary><c>set on the board</c>, or the type it came from with its position.</summary>
    public string Origin(bool onBoard) => onBoard ? "set on the board" : $"from board type {type.Name} at {type.At}";

    public int Errors => errors.Count;

    public void Problem(string field, string message) =>
        errors.Add(new SpecError(at, $"{path}.{field}", $"{message} (board {boardName}, type {type.Name})"));

    /// <summary>Each foreign section reported as not this kind's (what a new kind does with them by default).</summary>
    public void RejectForeign()
    {
        foreach (var f in Foreign)
            Problem(f.Section.Key, $"set, but kind is {kind.Name}: {f.Owner.Title} settings apply to kind {f.Owner.Name} only ({Origin(f.OnBoard)})");
    }
}

/// <summary>
/// The board kinds by name. Farm's own (<c>qemu</c>, <c>uboot</c>) register themselves when the
/// assembly loads (<see cref="Farm.Boards.Kinds.BuiltInBoardKinds"/>), so this registry knows no kind; a
/// new one is a folder whose entry calls <see cref="Register"/>. Kept in registration order: lab-file
/// messages list kinds and keys in it.
/// </summary>
internal static class BoardKinds
{
    static readonly Lock Gate = new();
    static readonly List<BoardKindEntry> Entries = [];

    /// <summary>Adds a kind; two kinds claiming one name or one key is a programming error.</summary>
    public static void Register(BoardKindEntry entry)
    {
        lock (Gate)
        {
            if (Entries.Any(e => ReferenceEquals(e, entry))) return;
            if (Entries.Any(e => e.Name == entry.Name))
                throw new ArgumentException($"board kind \"{entry.Name}\" is registered already", nameof(entry));
            var taken = Entries.SelectMany(e => e.Sections.Select(s => (s.Key, e.Name))).Concat(LabFile.CommonKeys.Select(k => (Key: k, Name: "lab files")))
                .FirstOrDefault(t => entry.Sections.Any(s => s.Key == t.Key));
            if (taken.Key is not null)
                throw new ArgumentException($"board kind \"{entry.Name}\": key \"{taken.Key}\" belongs to {taken.Name} already", nameof(entry));
            Entries.Add(entry);
        }
    }

    public static IReadOnlyList<BoardKindEntry> All { get { lock (Gate) return [.. Entries]; } }

    public static BoardKindEntry? Find(string name) => All.FirstOrDefault(e => e.Name == name);

    public static IReadOnlyList<string> Names => [.. All.Select(e => e.Name)];
}
