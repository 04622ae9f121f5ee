namespace Farm.Serial;

/// <summary>
/// A virtual null-modem cable: two PTYs joined by <c>socat</c>, each end a real tty device
/// (<c>A</c>, <c>B</c>) that behaves like a USB-UART to whoever opens it. The simulated bench
/// and the console tests use it where a physical bench has a board's UART on one end.
/// </summary>
internal sealed class NullModem : IAsyncDisposable
{
    readonly SupervisedProcess _socat;

    NullModem(SupervisedProcess socat, string a, string b) => (_socat, A, B) = (socat, a, b);

    public string A { get; }

    public string B { get; }

    /// <summary>Creates the pair with its ends linked at <paramref name="directory"/>/<paramref name="name"/>-{a,b}.</summary>
    public static async Task<NullModem> CreateAsync(string directory, string name, CancellationToken ct)
    {
        var socat = SupervisedProcess.Resolve("socat", "install socat: ci/setup.sh");
        Directory.CreateDirectory(directory);
        string a = Path.Combine(directory, $"{name}-a"), b = Path.Combine(directory, $"{name}-b");
        var p = SupervisedProcess.Start(socat, ["-d", "-d", $"pty,raw,echo=0,link={a}", $"pty,raw,echo=0,link={b}"]);
        // socat logs "starting data transfer loop" once both PTYs exist and their links are made.
        try
        {
            await p.WaitForOutputAsync(l => l.Contains("starting data transfer loop"), ct).ConfigureAwait(false);
        }
        catch
        {
            await p.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return new NullModem(p, a, b);
    }

    public async ValueTask DisposeAsync()
    {
        await _socat.KillAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        await _socat.DisposeAsync().ConfigureAwait(false);
    }
}
