using System.Buffers;

namespace NsqTyped.Testing;

/// <summary>
/// Every message published to one topic while the capture runs, deserialized: an ephemeral channel of its own
/// receives a copy of each message without taking any from the application's channels.
/// Create it with <see cref="NsqTestHarness.CapturePublishedAsync{T}"/>.
/// </summary>
/// <typeparam name="T">The topic's message type.</typeparam>
public sealed class NsqPublishedCapture<T> : IAsyncDisposable
{
    private readonly NsqReader _reader;
    private readonly INsqSerializer<T> _serializer;
    private readonly Signal _signal = new();
    private readonly List<T> _messages = [];
    private readonly TimeSpan _defaultTimeout;
    private Task _pump = Task.CompletedTask;

    internal NsqPublishedCapture(NsqReader reader, INsqSerializer<T> serializer, TimeSpan defaultTimeout)
    {
        _reader = reader;
        _serializer = serializer;
        _defaultTimeout = defaultTimeout;
    }

    /// <summary>The topic captured.</summary>
    public string Topic => _reader.Options.Topic;

    /// <summary>The messages captured so far, in arrival order.</summary>
    public IReadOnlyList<T> Messages
    {
        get
        {
            lock (_messages)
            {
                return [.. _messages];
            }
        }
    }

    /// <summary>Waits until at least <paramref name="count"/> messages were captured and returns them all.</summary>
    /// <param name="count">How many to wait for.</param>
    /// <param name="timeout">How long; <see langword="null"/> uses the harness's default.</param>
    /// <exception cref="TimeoutException">Fewer arrived in time; the message says how many.</exception>
    public Task<IReadOnlyList<T>> WaitForAsync(int count, TimeSpan? timeout = null) =>
        _signal.WaitAsync(
            () => Messages is { } all && all.Count >= count ? all : null,
            timeout ?? _defaultTimeout,
            () => $"{count} message(s) published to '{Topic}'; captured {Messages.Count}");

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _reader.DisposeAsync().ConfigureAwait(false);
        await _pump.ConfigureAwait(false);
    }

    internal void Start() => _pump = Task.Run(PumpAsync);

    private async Task PumpAsync()
    {
        await foreach (var message in _reader.ReadAllAsync().ConfigureAwait(false))
        {
            var value = _serializer.Deserialize(new ReadOnlySequence<byte>(message.Body));
            await message.FinishAsync().ConfigureAwait(false);
            lock (_messages)
            {
                _messages.Add(value);
            }

            _signal.Set();
        }
    }
}
