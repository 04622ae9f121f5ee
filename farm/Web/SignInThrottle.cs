namespace Farm.Web;

/// <summary>
/// Failed sign-ins (a bad token at <c>/login</c> or as a bearer token on <c>/api</c>) in a sliding window
/// per key (the remote address; with a user name where one is known). Past <see cref="Limit"/> failures
/// inside <see cref="Window"/> the key is refused until the oldest failure leaves the window, whether the
/// next token is right or not, so guessing learns nothing. Bounded: at most <see cref="MaxKeys"/> keys
/// are tracked, the stalest dropped first.
/// </summary>
internal sealed class SignInThrottle(TimeProvider time, int limit = 10, TimeSpan? window = null)
{
    public int Limit { get; } = limit;

    public TimeSpan Window { get; } = window ?? TimeSpan.FromMinutes(5);

    public const int MaxKeys = 10_000;

    readonly Lock _lock = new();
    readonly Dictionary<string, Queue<DateTimeOffset>> _failures = new(StringComparer.Ordinal);

    /// <summary>How long <paramref name="key"/> must wait before trying again (zero: it may try now).</summary>
    public TimeSpan RetryAfter(string key)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (!_failures.TryGetValue(key, out var q)) return TimeSpan.Zero;
            Expire(q, now);
            if (q.Count == 0) { _failures.Remove(key); return TimeSpan.Zero; }
            return q.Count >= Limit ? q.Peek() + Window - now : TimeSpan.Zero;
        }
    }

    public void Failed(string key)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (!_failures.TryGetValue(key, out var q))
            {
                if (_failures.Count >= MaxKeys)
                {
                    foreach (var (k, v) in _failures.ToList()) { Expire(v, now); if (v.Count == 0) _failures.Remove(k); }
                    if (_failures.Count >= MaxKeys) _failures.Remove(_failures.MinBy(p => p.Value.Last()).Key);
                }
                _failures[key] = q = new Queue<DateTimeOffset>();
            }
            Expire(q, now);
            q.Enqueue(now);
            while (q.Count > Limit) q.Dequeue();
        }
    }

    void Expire(Queue<DateTimeOffset> q, DateTimeOffset now)
    {
        while (q.Count > 0 && q.Peek() + Window <= now) q.Dequeue();
    }
}
