using Farm.Spec;

namespace Farm.Consoles;

/// <summary>
/// How Farm reaches one physical board's UART, as its lab file says (<c>serial:</c>), validated.
/// Each transport has its own record; the record opens the console.
/// </summary>
internal abstract record ConsoleSpec
{
    /// <summary>The transport's name in lab files (<c>serial.transport</c>).</summary>
    public abstract string Transport { get; }

    /// <summary>Where the console is, for listings: <c>/dev/ttyUSB1 115200 8N1</c>.</summary>
    public abstract string Summary { get; }

    /// <summary>
    /// The console as a stream: what the board sends, and a way to type. A run opens it once, before
    /// the first power-on, and a <c>ConsoleBroker</c> reads it; failing to reach it is an
    /// <see cref="InfrastructureException"/>.
    /// </summary>
    internal abstract Task<Stream> OpenAsync(CancellationToken ct);

    /// <summary>
    /// What <c>farm boards --check</c> says of the console now; an <see cref="InfrastructureException"/>
    /// says why it cannot be reached. By default the console is opened and closed again.
    /// </summary>
    internal virtual async Task<string> ProbeAsync(CancellationToken ct)
    {
        await using var stream = await OpenAsync(ct).ConfigureAwait(false);
        return "console answers";
    }
}

/// <summary>
/// A key only one transport takes, which names that transport when <c>transport:</c> is left out
/// (<c>serial: {device: /dev/ttyUSB0}</c>, as lab files have always said it); <paramref name="Means"/>
/// says what its value is, for the message that asks for one of them.
/// </summary>
internal sealed record ConsoleShorthand(string Key, string Means);

/// <summary>
/// One console transport a lab file can name: its name, the keys it owns under <c>serial:</c>, and
/// its reader, which validates them (each problem at its own file:line:col) and returns its record.
/// </summary>
internal sealed record ConsoleTransportEntry(string Name, IReadOnlyList<string> Keys, Func<SpecFields, ConsoleSpec?> Read,
    ConsoleShorthand? Shorthand = null);

/// <summary>
/// The console transports by name (labgrid's console drivers). Farm's own are here; a new one is one
/// file with its record and entry, joined with <see cref="Register"/>. Kept in registration order:
/// lab-file messages list transports in it.
/// </summary>
internal static class ConsoleTransports
{
    const string Selector = "transport";

    static readonly Registry<ConsoleTransportEntry> Registered = new([TtyConsole.Entry, Ser2NetConsole.Entry]);

    public static IReadOnlyList<ConsoleTransportEntry> All => Registered.All;

    public static ConsoleTransportEntry? Find(string name) => All.FirstOrDefault(e => e.Name == name);

    public static IReadOnlyList<string> Names => [.. All.Select(e => e.Name)];

    /// <summary>
    /// Adds a transport until the returned registration is disposed. A name that is taken, or a
    /// shorthand key that is another transport's or not among the entry's keys, is a programming error.
    /// </summary>
    public static IDisposable Register(ConsoleTransportEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.Keys.Contains(Selector))
            throw new ArgumentException($"console transport \"{entry.Name}\": \"{Selector}\" names the transport and cannot be one of its keys", nameof(entry));
        if (entry.Shorthand is { } s && !entry.Keys.Contains(s.Key))
            throw new ArgumentException($"console transport \"{entry.Name}\": its shorthand \"{s.Key}\" is not one of its keys", nameof(entry));
        return Registered.Add(entry, all =>
        {
            if (all.Any(e => e.Name == entry.Name))
                throw new ArgumentException($"console transport \"{entry.Name}\" is registered already", nameof(entry));
            if (entry.Shorthand is { } k && all.FirstOrDefault(e => e.Shorthand?.Key == k.Key) is { } owner)
                throw new ArgumentException($"console transport \"{entry.Name}\": shorthand \"{k.Key}\" names {owner.Name} already", nameof(entry));
        });
    }

    /// <summary>
    /// <c>serial:</c> read by the transport it names (<c>transport:</c>), or else by the one shorthand
    /// key it holds; a key that transport does not take is reported at its line.
    /// </summary>
    public static ConsoleSpec? Read(SpecMapping serial)
    {
        if (Choose(serial) is not { } entry) return null;
        var fields = new SpecFields(serial, $"the {entry.Name} transport", Selector, entry.Keys);
        fields.RejectForeignKeys();
        return entry.Read(fields);
    }

    static ConsoleTransportEntry? Choose(SpecMapping serial)
    {
        var entries = All;
        if (serial.Has(Selector))
            return serial.OneOf(Selector, Names) is { } name ? Find(name) : null;
        var written = entries.Where(e => e.Shorthand is { } s && serial.Has(s.Key)).ToList();
        if (written.Count == 1) return written[0];
        var forms = string.Join(" or ", entries.Select(e => e.Shorthand).OfType<ConsoleShorthand>().Select(s => $"{s.Key} ({s.Means})"));
        if (written.Count == 0)
            serial.Missing(Selector, $"give {forms}, or name a transport: {string.Join(", ", Names)}");
        else
            serial.Report(written[0].Shorthand!.Key, $"give exactly one of {forms}");
        return null;
    }
}
