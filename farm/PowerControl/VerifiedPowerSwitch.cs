using System.Collections.Concurrent;
using Polly;
using Polly.Retry;

namespace Farm.PowerControl;

/// <summary>How hard Farm tries a power backend before blaming the lab.</summary>
internal sealed record PowerPolicy
{
    /// <summary>Retries of a switch or read that failed as infrastructure (a PDU that dropped a request).</summary>
    public int Retries { get; init; } = 2;

    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long the read-back may take to show the new state (a BMC reports "PoweringOn" for a while).</summary>
    public TimeSpan Settle { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    public static PowerPolicy Default { get; } = new();
}

/// <summary>
/// What every physical power backend gets, whatever it is: calls to one device are serialized
/// (a PDU handles one request at a time, and two outlets switched at once can trip it), transient
/// faults are retried with a bounded budget (Polly), and after every switch the state is read back
/// until it matches or <see cref="PowerPolicy.Settle"/> passes, else the run is <c>incomplete</c>
/// with the device, outlet and what it said as evidence.
/// </summary>
internal sealed class VerifiedPowerSwitch : IPowerSwitch
{
    static readonly ConcurrentDictionary<string, SemaphoreSlim> Devices = new();
    readonly IPowerBackend _backend;
    readonly TimeProvider _time;
    readonly PowerPolicy _policy;
    readonly ResiliencePipeline _retry;
    readonly SemaphoreSlim _device;

    public VerifiedPowerSwitch(IPowerBackend backend, TimeProvider? time = null, PowerPolicy? policy = null)
    {
        _backend = backend;
        _time = time ?? TimeProvider.System;
        _policy = policy ?? PowerPolicy.Default;
        _device = Devices.GetOrAdd(backend.Device, _ => new SemaphoreSlim(1, 1));
        _retry = _policy.Retries <= 0 ? ResiliencePipeline.Empty : new ResiliencePipelineBuilder { TimeProvider = _time }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<InfrastructureException>(),
                MaxRetryAttempts = _policy.Retries,
                Delay = _policy.RetryDelay,
                BackoffType = DelayBackoffType.Exponential,
            })
            .Build();
    }

    public string Describe => _backend.Describe;

    public async Task SetAsync(PowerState state, CancellationToken ct)
    {
        if (state is not (PowerState.On or PowerState.Off)) throw new ArgumentOutOfRangeException(nameof(state));
        await _device.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            await _retry.ExecuteAsync(async t => await _backend.SwitchAsync(state, t).ConfigureAwait(false), ct).ConfigureAwait(false);
            var deadline = _time.GetTimestamp() + (long)(_policy.Settle.TotalSeconds * _time.TimestampFrequency);
            PowerState seen;
            while (true)
            {
                seen = await ReadLockedAsync(ct).ConfigureAwait(false);
                if (seen == state || _time.GetTimestamp() >= deadline) break;
                await Task.Delay(_policy.PollInterval, _time, ct).ConfigureAwait(false);
            }
            if (seen != state)
                throw new InfrastructureException(
                    $"power: {_backend.Describe} reads back {seen.ToString().ToLowerInvariant()} {_policy.Settle.TotalSeconds:0.#}s after switching {state.ToString().ToLowerInvariant()}",
                    _backend.LastExchange);
        }
        finally
        {
            _device.Release();
        }
    }

    public async Task<PowerState> GetAsync(CancellationToken ct)
    {
        await _device.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            return await ReadLockedAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            _device.Release();
        }
    }

    Task<PowerState> ReadLockedAsync(CancellationToken ct) =>
        _retry.ExecuteAsync(async t => await _backend.ReadAsync(t).ConfigureAwait(false), ct).AsTask();
}

/// <summary>
/// One way of switching one outlet (or one server): it switches and reads, nothing more. Faults of
/// the device or the network are <see cref="InfrastructureException"/>s (retried); bad settings are
/// <see cref="ConfigurationException"/>s (never retried). Secrets never appear in
/// <see cref="Describe"/> or <see cref="LastExchange"/>.
/// </summary>
internal interface IPowerBackend
{
    /// <summary>The physical device: calls to the same device are serialized (e.g. <c>tasmota http://pdu1</c>).</summary>
    string Device { get; }

    /// <summary>Device and outlet, for messages (e.g. <c>tasmota http://pdu1 relay 2</c>).</summary>
    string Describe { get; }

    Task SwitchAsync(PowerState state, CancellationToken ct);

    Task<PowerState> ReadAsync(CancellationToken ct);

    /// <summary>The last request and answer, as evidence for a failure.</summary>
    IReadOnlyList<string> LastExchange { get; }
}
