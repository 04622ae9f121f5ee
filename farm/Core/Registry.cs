namespace Farm;

/// <summary>
/// The entries of one extension point (checks, console transports): a fixed start, then what registrations
/// add and take back when disposed. Read without a lock: every change writes a new list (copy on write), so a
/// reader holds a consistent one.
/// </summary>
internal sealed class Registry<T>(IReadOnlyList<T> initial) where T : class
{
    readonly Lock _gate = new();
    volatile IReadOnlyList<T> _all = initial;

    public IReadOnlyList<T> All => _all;

    /// <summary>
    /// Adds <paramref name="entry"/> after <paramref name="refuse"/> has seen the entries it joins and thrown for
    /// a conflict; the two happen under one lock, so two conflicting registrations cannot both pass. Disposing
    /// the result removes the entry.
    /// </summary>
    public IDisposable Add(T entry, Action<IReadOnlyList<T>> refuse)
    {
        ArgumentNullException.ThrowIfNull(entry);
        lock (_gate)
        {
            refuse(_all);
            _all = [.. _all, entry];
        }
        return new Registration(this, entry);
    }

    sealed class Registration(Registry<T> registry, T entry) : IDisposable
    {
        public void Dispose()
        {
            lock (registry._gate) registry._all = [.. registry._all.Where(e => !ReferenceEquals(e, entry))];
        }
    }
}
