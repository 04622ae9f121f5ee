using System.Collections.Concurrent;
using Farm.Jobs;

namespace Farm.Web;

/// <summary>
/// An agent's runs, sent to the controller as they happen (<c>farm agent --server URL --token T</c>):
/// the record when the run starts and when it ends (PUT /api/runs/{id}), and the console transcript
/// while it grows (POST /api/runs/{id}/console, a chunk per second from the offset the controller has),
/// so the controller's dashboard shows the run and its live console. The run never depends on it: a
/// controller that is away loses nothing the agent records locally, and a later chunk catches up.
/// </summary>
internal sealed class RemoteRunSink(RemoteLab controller, TimeProvider time, Action<string>? said = null) : IRunSink
{
    readonly ConcurrentDictionary<string, (CancellationTokenSource Stop, Task Tail)> _tails = new();

    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    public async Task StartedAsync(RunRecord pending, CancellationToken ct)
    {
        await TryAsync(() => controller.PutRunAsync(pending, ct), $"run {pending.RunId} start").ConfigureAwait(false);
        if (pending.RunDirectory is null) return;
        var stop = new CancellationTokenSource();
        _tails[pending.RunId] = (stop, TailAsync(pending, stop.Token));
    }

    public async Task FinishedAsync(RunRecord final, CancellationToken ct)
    {
        if (_tails.TryRemove(final.RunId, out var tail))
        {
            await tail.Stop.CancelAsync().ConfigureAwait(false);
            await tail.Tail.ConfigureAwait(false);          // it sends what is left before it ends
            tail.Stop.Dispose();
        }
        await TryAsync(() => controller.PutRunAsync(final, ct), $"run {final.RunId} result").ConfigureAwait(false);
    }

    async Task TailAsync(RunRecord run, CancellationToken stop)
    {
        var path = Ui.ConsoleTail.LogPath(run)!;
        long sent = 0;
        while (true)
        {
            bool last = stop.IsCancellationRequested;
            while (await Ui.ConsoleTail.ReadFromAsync(path, sent, 1 << 20, CancellationToken.None).ConfigureAwait(false) is { Length: > 0 } chunk)
            {
                long? now = null;
                await TryAsync(async () => now = await controller.AppendConsoleAsync(run.RunId, run.Board, sent, chunk, CancellationToken.None).ConfigureAwait(false),
                    $"console of {run.RunId}").ConfigureAwait(false);
                if (now is null) break;                      // controller away: try again next time
                sent = now.Value;
            }
            if (last) return;
            try { await Task.Delay(Interval, time, stop).ConfigureAwait(false); }
            catch (OperationCanceledException) { }
        }
    }

    async Task TryAsync(Func<Task> send, string what)
    {
        try { await send().ConfigureAwait(false); }
        catch (FarmException e) { said?.Invoke($"controller did not take {what}: {e.Message}"); }
    }
}
