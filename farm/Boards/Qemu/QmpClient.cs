using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace Farm.Boards.Qemu;

/// <summary>
/// QEMU Machine Protocol over a socket: one command at a time, events collected on the side.
/// See qemu/docs/interop/qmp-spec.rst: greeting, qmp_capabilities, then {"execute"} → {"return"|"error"}.
/// </summary>
internal sealed class QmpClient : IAsyncDisposable
{
    readonly Stream _stream;
    readonly StreamReader _reader;
    readonly SemaphoreSlim _one = new(1, 1);
    readonly Channel<JsonObject> _replies = Channel.CreateUnbounded<JsonObject>();
    readonly Channel<JsonObject> _events = Channel.CreateUnbounded<JsonObject>();
    readonly Task _readLoop;

    QmpClient(Stream stream)
    {
        _stream = stream;
        _reader = new StreamReader(stream, new UTF8Encoding(false));
        _readLoop = Task.Run(ReadLoopAsync);
    }

    public ChannelReader<JsonObject> Events => _events.Reader;

    public static async Task<QmpClient> ConnectAsync(Stream stream, CancellationToken ct)
    {
        var c = new QmpClient(stream);
        var greeting = await c._replies.Reader.ReadAsync(ct).ConfigureAwait(false);
        if (greeting["QMP"] is null)
            throw new InfrastructureException($"QMP: unexpected greeting {greeting.ToJsonString()}");
        await c.ExecuteAsync("qmp_capabilities", null, ct).ConfigureAwait(false);
        return c;
    }

    async Task ReadLoopAsync()
    {
        try
        {
            while (await _reader.ReadLineAsync().ConfigureAwait(false) is { } line)
            {
                if (line.Length == 0) continue;
                JsonObject? msg;
                try { msg = JsonNode.Parse(line) as JsonObject; }
                catch (JsonException) { continue; }
                if (msg is null) continue;
                if (msg.ContainsKey("event")) _events.Writer.TryWrite(msg);
                else _replies.Writer.TryWrite(msg);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException) { }
        finally
        {
            _replies.Writer.TryComplete();
            _events.Writer.TryComplete();
        }
    }

    public async Task<JsonNode?> ExecuteAsync(string command, JsonObject? arguments, CancellationToken ct)
    {
        var (result, error) = await TryExecuteAsync(command, arguments, ct).ConfigureAwait(false);
        return error is null ? result : throw new InfrastructureException($"QMP '{command}' failed: {error}");
    }

    /// <summary>Like <see cref="ExecuteAsync"/>, but QEMU's refusal comes back as its error text
    /// (e.g. a migration blocker) instead of an exception; a broken connection still throws.</summary>
    public async Task<(JsonNode? Return, string? Error)> TryExecuteAsync(string command, JsonObject? arguments, CancellationToken ct)
    {
        var request = new JsonObject { ["execute"] = command };
        if (arguments is not null) request["arguments"] = arguments;
        await _one.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var bytes = Encoding.UTF8.GetBytes(request.ToJsonString() + "\n");
            await _stream.WriteAsync(bytes, ct).ConfigureAwait(false);
            await _stream.FlushAsync(ct).ConfigureAwait(false);
            JsonObject reply;
            try
            {
                reply = await _replies.Reader.ReadAsync(ct).ConfigureAwait(false);
            }
            catch (ChannelClosedException e)
            {
                throw new InfrastructureException($"QMP connection closed during '{command}'", null, e);
            }
            return reply["error"] is { } err ? (null, err["desc"]?.ToString() ?? err.ToJsonString()) : (reply["return"], null);
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            throw new InfrastructureException($"QMP '{command}': {e.Message}", null, e);
        }
        finally
        {
            _one.Release();
        }
    }

    /// <summary>query-status → "running", "paused", "shutdown", ...</summary>
    public async Task<string> QueryStatusAsync(CancellationToken ct) =>
        (await ExecuteAsync("query-status", null, ct).ConfigureAwait(false))?["status"]?.GetValue<string>() ?? "unknown";

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync().ConfigureAwait(false);
        await _readLoop.ConfigureAwait(false);
    }
}
