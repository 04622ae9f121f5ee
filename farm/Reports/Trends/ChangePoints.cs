namespace Farm.Reports.Trends;

/// <summary>A shift in a metric's history: <see cref="Index"/> is the first run after the shift.</summary>
internal sealed record ChangePoint(int Index, double PValue, double MedianBefore, double MedianAfter)
{
    /// <summary>Relative change of the median, e.g. +0.25 for 25 % higher after the shift.</summary>
    public double Relative => MedianBefore == 0 ? double.NaN : (MedianAfter - MedianBefore) / Math.Abs(MedianBefore);
}

/// <summary>
/// Finds where a metric's level shifted, with no fixed threshold: Pettitt's rank test (a
/// Mann-Whitney statistic maximised over every split) decides whether a split is significant,
/// and binary segmentation looks for further shifts on either side of one that is. Ranks make
/// it robust: one slow outlier moves a rank by one, not the mean by a lot, and a metric's units
/// or scale do not matter; a significant shift must also be at least half the series' robust sigma
/// (a standardized effect size, not a threshold in the metric's units). Significance is Pettitt's approximation
/// p ≈ 2·exp(−6K² / (n³ + n²)), which is conservative, so noise alone rarely alarms (the false
/// positive rate on noise-only series is measured in the tests and printed there).
/// </summary>
internal static class ChangePoints
{
    /// <summary>The significance a split must reach (per test).</summary>
    public const double DefaultAlpha = 0.01;

    /// <summary>The smallest shift reported, in units of the series' robust sigma (1.4826 x MAD).</summary>
    public const double MinEffect = 0.5;

    /// <summary>Runs on each side of a shift before it is believed (a last-night outlier is not a shift yet).</summary>
    public const int DefaultMinSegment = 4;

    public static IReadOnlyList<ChangePoint> Detect(IReadOnlyList<double> values, double alpha = DefaultAlpha, int minSegment = DefaultMinSegment)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(minSegment, 1);
        var found = new List<ChangePoint>();
        Segment(values, 0, values.Count, alpha, minSegment, found, depth: 0);
        found.Sort((a, b) => a.Index.CompareTo(b.Index));
        return found;
    }

    static void Segment(IReadOnlyList<double> x, int from, int to, double alpha, int minSegment, List<ChangePoint> found, int depth)
    {
        if (depth > 16 || to - from < 2 * minSegment) return;
        var (split, p) = Pettitt(x, from, to, minSegment);
        if (split < 0 || p >= alpha) return;
        split = Refine(x, from, to, split, minSegment);
        // With hundreds of nights a rank test finds shifts too small to matter; a shift must also be
        // large against the series' own noise (robust sigma of each side), whatever the metric's units.
        double before = Median(x, from, split), after = Median(x, split, to);
        double sigma = Math.Max(RobustSigma(x, from, split), RobustSigma(x, split, to));
        if (sigma > 0 && Math.Abs(after - before) < MinEffect * sigma) return;
        found.Add(new ChangePoint(split, p, before, after));
        Segment(x, from, split, alpha, minSegment, found, depth + 1);
        Segment(x, split, to, alpha, minSegment, found, depth + 1);
    }

    /// <summary>
    /// Pettitt's test on x[from..to): U_t = 2·(sum of the first t midranks) − t(n+1); K = max |U_t|
    /// over the splits that leave <paramref name="minSegment"/> runs on each side. O(n log n).
    /// Returns the first index of the second segment and the approximate p-value.
    /// </summary>
    public static (int Split, double P) Pettitt(IReadOnlyList<double> x, int from, int to, int minSegment)
    {
        int n = to - from;
        if (n < 2 * minSegment) return (-1, 1);
        var ranks = MidRanks(x, from, n);
        double w = 0, best = -1;
        int bestT = -1;
        for (int t = 1; t < n; t++)
        {
            w += ranks[t - 1];
            if (t < minSegment || n - t < minSegment) continue;
            double u = Math.Abs(2 * w - t * (n + 1.0));
            if (u > best) { best = u; bestT = t; }
        }
        if (bestT < 0 || best <= 0) return (-1, 1);
        double nn = n;
        double p = Math.Min(1, 2 * Math.Exp(-6 * best * best / (nn * nn * nn + nn * nn)));
        return (from + bestT, p);
    }

    /// <summary>
    /// Pettitt's statistic says a shift is there; its argmax can sit a few runs off. Near it, the
    /// split with the least squared deviation from each side's mean is where the level changed
    /// (the most efficient estimate for a level shift; the window keeps far outliers out of it).
    /// </summary>
    static int Refine(IReadOnlyList<double> x, int from, int to, int split, int minSegment)
    {
        int best = split;
        double bestCost = double.MaxValue;
        for (int t = Math.Max(from + minSegment, split - 5); t <= Math.Min(to - minSegment, split + 5); t++)
        {
            double cost = Deviation(x, from, t) + Deviation(x, t, to);
            if (cost < bestCost - 1e-12) { bestCost = cost; best = t; }
        }
        return best;
    }

    /// <summary>1.4826 x the median absolute deviation: the standard deviation for Gaussian noise, unmoved by outliers.</summary>
    static double RobustSigma(IReadOnlyList<double> x, int from, int to)
    {
        double m = Median(x, from, to);
        var dev = new double[to - from];
        for (int i = from; i < to; i++) dev[i - from] = Math.Abs(x[i] - m);
        return 1.4826 * Median(dev, 0, dev.Length);
    }

    static double Deviation(IReadOnlyList<double> x, int from, int to)
    {
        double mean = 0, sum = 0;
        for (int i = from; i < to; i++) mean += x[i];
        mean /= to - from;
        for (int i = from; i < to; i++) sum += (x[i] - mean) * (x[i] - mean);
        return sum;
    }

    static double[] MidRanks(IReadOnlyList<double> x, int from, int n)
    {
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Array.Sort(order, (a, b) => x[from + a].CompareTo(x[from + b]));
        var ranks = new double[n];
        for (int i = 0; i < n;)
        {
            int j = i;
            while (j + 1 < n && x[from + order[j + 1]] == x[from + order[i]]) j++;
            double mid = (i + j) / 2.0 + 1;
            for (int k = i; k <= j; k++) ranks[order[k]] = mid;
            i = j + 1;
        }
        return ranks;
    }

    public static double Median(IReadOnlyList<double> x, int from, int to)
    {
        var s = new double[to - from];
        for (int i = from; i < to; i++) s[i - from] = x[i];
        Array.Sort(s);
        return s.Length == 0 ? double.NaN : s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }
}
