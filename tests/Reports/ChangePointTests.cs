using Farm.Reports.Trends;

namespace Farm.Tests.Reports;

/// <summary>Regression detection on synthetic histories: steps are found where they are, noise alone stays quiet.</summary>
public class ChangePointTests
{
    static double Gauss(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());

    static List<double> Noise(Random r, int n, double level = 10, double sigma = 1) => Enumerable.Range(0, n).Select(_ => level + sigma * Gauss(r)).ToList();

    [Test]
    public void AStepIsFoundAtTheFirstShiftedRun()
    {
        int exact = 0, withinOne = 0, series = 200;
        for (int seed = 0; seed < series; seed++)
        {
            var r = new Random(seed);
            int at = 15 + r.Next(30);                            // shift somewhere in runs 15..44 of 60
            var x = Noise(r, 60);
            for (int i = at; i < x.Count; i++) x[i] += 4;        // boot got 4 sigma slower
            var found = ChangePoints.Detect(x);
            Assert.That(found, Is.Not.Empty, $"seed {seed}: step at {at} missed");
            var nearest = found.MinBy(c => Math.Abs(c.Index - at))!;
            Assert.That(Math.Abs(nearest.Index - at), Is.LessThanOrEqualTo(3), $"seed {seed}: step at {at}, found at {string.Join(",", found.Select(f => f.Index))}: {string.Join(" ", x.Skip(at - 4).Take(8).Select(v => v.ToString("0.0")))}");
            Assert.That(nearest.MedianAfter, Is.GreaterThan(nearest.MedianBefore));
            if (nearest.Index == at) exact++;
            if (Math.Abs(nearest.Index - at) <= 1) withinOne++;
        }
        // A few noisy nights right after a shift can look like the old level; the data then says so too.
        TestContext.Out.WriteLine($"4-sigma steps: located exactly in {exact}/{series} series, within one run in {withinOne}, within three in all");
        Assert.That(exact, Is.GreaterThanOrEqualTo(series * 85 / 100));
        Assert.That(withinOne, Is.GreaterThanOrEqualTo(series * 95 / 100));
    }

    [Test]
    public void NoiseAloneRaisesFewAlarms_FalsePositiveRateOn1000Series()
    {
        int alarms = 0, heavyAlarms = 0;
        const int series = 1000;
        for (int seed = 0; seed < series; seed++)
        {
            var r = new Random(10_000 + seed);
            if (ChangePoints.Detect(Noise(r, 60)).Count > 0) alarms++;
            // Heavy tails: 5 % of nights are 10 sigma slow (a busy host), which is not a shift.
            var spiky = Noise(r, 60).Select(v => r.NextDouble() < 0.05 ? v + 10 : v).ToList();
            if (ChangePoints.Detect(spiky).Count > 0) heavyAlarms++;
        }
        // A year of nightlies: more power, so the effect-size floor matters.
        int yearAlarms = 0;
        for (int seed = 0; seed < 200; seed++)
            if (ChangePoints.Detect(Noise(new Random(50_000 + seed), 365)).Count > 0) yearAlarms++;
        TestContext.Out.WriteLine($"false-positive rate on {series} noise-only series of 60 runs: gaussian {alarms / (double)series:P1}, with 5 % outliers {heavyAlarms / (double)series:P1}; on 200 series of 365 runs: {yearAlarms / 200.0:P1} (alpha {ChangePoints.DefaultAlpha})");
        Assert.That(yearAlarms / 200.0, Is.LessThanOrEqualTo(ChangePoints.DefaultAlpha * 2));
        Assert.That(alarms / (double)series, Is.LessThanOrEqualTo(ChangePoints.DefaultAlpha * 2));
        Assert.That(heavyAlarms / (double)series, Is.LessThanOrEqualTo(ChangePoints.DefaultAlpha * 2));
    }

    [Test]
    public void TwoShiftsAreBothFound()
    {
        var r = new Random(7);
        var x = Noise(r, 90);
        for (int i = 30; i < 90; i++) x[i] += 5;
        for (int i = 60; i < 90; i++) x[i] -= 8;
        Assert.That(ChangePoints.Detect(x).Select(c => c.Index), Is.EquivalentTo(new[] { 30, 60 }));
    }

    [Test]
    public void ALastNightOutlierIsNotAShift()
    {
        var x = Noise(new Random(3), 40);
        x[^1] += 50;
        Assert.That(ChangePoints.Detect(x), Is.Empty);
    }

    [Test]
    public void ConstantAndTiedSeriesRaiseNothing()
    {
        Assert.That(ChangePoints.Detect(Enumerable.Repeat(5.0, 50).ToList()), Is.Empty);
        Assert.That(ChangePoints.Detect(Enumerable.Range(0, 50).Select(i => (double)(i % 2)).ToList()), Is.Empty);
        Assert.That(ChangePoints.Detect([1, 2, 3]), Is.Empty);
    }

    [Test]
    public void CountsThatStepAreFoundDespiteTies()
    {
        // checks.pass: 6 passes for 20 nights, then 8 (a Xen with vPCI turned on).
        var x = Enumerable.Repeat(6.0, 20).Concat(Enumerable.Repeat(8.0, 10)).ToList();
        Assert.That(ChangePoints.Detect(x).Single().Index, Is.EqualTo(20));
    }
}
