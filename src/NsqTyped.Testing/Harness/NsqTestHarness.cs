namespace NsqTyped.Testing;

/// <summary>
/// Runs an application's generated handlers against an embedded nsqd inside a test, and waits on what happened:
/// subscribed, N messages of a type handled, nothing given up, messages of a type published.
/// </summary>
/// <example>
/// <code>
/// await using var harness = await NsqTestHarness.StartAsync(NsqTypedHandlers.All);   // subscribed when it returns
/// await harness.Producer.PublishOrderCreatedAsync(new OrderCreated("A-1", 42m));
/// await harness.WaitForHandledAsync(NsqTypedHandlers.Billing_OnOrderCreatedAsync, 1);
/// harness.ThrowIfAnyGivenUp();
/// </code>
/// </example>
public sealed class NsqTestHarness : IAsyncDisposable
{
    private readonly NsqTestHarnessOptions _options;
    private readonly EmbeddedNsqd? _server;
    private readonly Signal _signal = new();
    private readonly List<NsqHandledMessage> _handled = [];
    private readonly List<NsqMessage> _givenUp = [];
    private readonly List<(INsqHandlerDispatcher Handler, Exception Error)> _failures = [];
    private readonly List<IAsyncDisposable> _captures = [];
    private NsqReaderGroup? _consumers;
    private NsqProducer? _producer;
    private int _captureCounter;

    private NsqTestHarness(NsqTestHarnessOptions options, EmbeddedNsqd? server, string nsqdTcpAddress)
    {
        _options = options;
        _server = server;
        NsqdTcpAddress = nsqdTcpAddress;
    }

    /// <summary>The nsqd's TCP address (<c>host:port</c>) the handlers consume from.</summary>
    public string NsqdTcpAddress { get; }

    /// <summary>The embedded nsqd, or <see langword="null"/> when <see cref="NsqTestHarnessOptions.NsqdTcpAddress"/> named another.</summary>
    public EmbeddedNsqd? Server => _server;

    /// <summary>A producer connected to <see cref="NsqdTcpAddress"/>: publish with the generated methods on it.</summary>
    public NsqProducer Producer => _producer ??= new NsqProducer(NsqdTcpAddress);

    /// <summary>The running Readers, one per handler.</summary>
    public NsqReaderGroup Consumers => _consumers ?? throw new InvalidOperationException("The harness has not started.");

    /// <summary>Every message handlers returned from without throwing, in order.</summary>
    public IReadOnlyList<NsqHandledMessage> Handled
    {
        get
        {
            lock (_handled)
            {
                return [.. _handled];
            }
        }
    }

    /// <summary>Every message a Reader gave up on (more attempts than <see cref="NsqReaderOptions.MaxTries"/>).</summary>
    public IReadOnlyList<NsqMessage> GivenUp
    {
        get
        {
            lock (_handled)
            {
                return [.. _givenUp];
            }
        }
    }

    /// <summary>Every exception a handler threw (the message was requeued).</summary>
    public IReadOnlyList<(INsqHandlerDispatcher Handler, Exception Error)> Failures
    {
        get
        {
            lock (_handled)
            {
                return [.. _failures];
            }
        }
    }

    /// <summary>
    /// Starts an embedded nsqd (unless <see cref="NsqTestHarnessOptions.NsqdTcpAddress"/> names one), one Reader per
    /// dispatcher, and returns once every Reader is subscribed, so messages published next reach every channel.
    /// </summary>
    /// <param name="dispatchers">The generated dispatchers: <c>NsqTypedHandlers.All</c>, <c>Create(factory)</c> or named ones.</param>
    /// <param name="options">Settings; <see langword="null"/> for <see cref="NsqTestHarnessOptions.Default"/>.</param>
    /// <param name="cancellationToken">Cancels starting.</param>
    /// <exception cref="TimeoutException">Some handler was not subscribed within <see cref="NsqTestHarnessOptions.DefaultTimeout"/>.</exception>
    public static async Task<NsqTestHarness> StartAsync(IEnumerable<INsqHandlerDispatcher> dispatchers, NsqTestHarnessOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dispatchers);
        options ??= NsqTestHarnessOptions.Default;
        var server = options.NsqdTcpAddress is null ? await EmbeddedNsqd.StartAsync(options.Server, cancellationToken).ConfigureAwait(false) : null;
        var harness = new NsqTestHarness(options, server, options.NsqdTcpAddress ?? server!.TcpAddress);
        try
        {
            var wrapped = dispatchers.Select(d => (INsqHandlerDispatcher)new RecordingDispatcher(d ?? throw new ArgumentNullException(nameof(dispatchers)), harness)).ToList();
            var readerOptions = options.Reader with { NsqdTcpAddresses = [harness.NsqdTcpAddress], LookupdHttpAddresses = [] };
            harness._consumers = await NsqReaderGroup.StartAsync(wrapped, readerOptions, options.Services, harness.Observe, cancellationToken).ConfigureAwait(false);
            await harness._consumers.WaitUntilSubscribedAsync(options.DefaultTimeout, cancellationToken).ConfigureAwait(false);
            return harness;
        }
        catch
        {
            await harness.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Waits until <paramref name="handler"/> handled at least <paramref name="count"/> messages and returns what it handled.</summary>
    /// <param name="handler">The dispatcher, e.g. a generated named accessor (matched by topic and channel).</param>
    /// <param name="count">How many to wait for.</param>
    /// <param name="timeout">How long; <see langword="null"/> uses <see cref="NsqTestHarnessOptions.DefaultTimeout"/>.</param>
    /// <exception cref="TimeoutException">Fewer were handled in time; the message says how many, and the handler failures.</exception>
    public Task<IReadOnlyList<NsqHandledMessage>> WaitForHandledAsync(INsqHandlerDispatcher handler, int count, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return WaitForHandledAsync(h => h.Topic == handler.Topic && h.Channel == handler.Channel, count, timeout, handler.HandlerName);
    }

    /// <summary>Waits until handlers of <typeparamref name="T"/> (on every channel together) handled at least <paramref name="count"/> messages.</summary>
    /// <typeparam name="T">The message type.</typeparam>
    /// <param name="count">How many to wait for.</param>
    /// <param name="timeout">How long; <see langword="null"/> uses <see cref="NsqTestHarnessOptions.DefaultTimeout"/>.</param>
    /// <exception cref="TimeoutException">Fewer were handled in time; the message says how many, and the handler failures.</exception>
    public Task<IReadOnlyList<NsqHandledMessage>> WaitForHandledAsync<T>(int count, TimeSpan? timeout = null) =>
        WaitForHandledAsync(h => h.MessageType == typeof(T), count, timeout, "handlers of " + typeof(T).Name);

    /// <summary>Waits until every Reader is subscribed (<see cref="StartAsync"/> already did; for Readers that reconnect).</summary>
    /// <param name="timeout">How long; <see langword="null"/> uses <see cref="NsqTestHarnessOptions.DefaultTimeout"/>.</param>
    public Task WaitUntilSubscribedAsync(TimeSpan? timeout = null) => Consumers.WaitUntilSubscribedAsync(timeout ?? _options.DefaultTimeout);

    /// <summary>Throws when a Reader gave up on a message, listing them; call it at the end of a test.</summary>
    /// <exception cref="InvalidOperationException">At least one message was given up on.</exception>
    public void ThrowIfAnyGivenUp()
    {
        var givenUp = GivenUp;
        if (givenUp.Count > 0)
        {
            throw new InvalidOperationException($"{givenUp.Count} message(s) were given up on: {string.Join(", ", givenUp.Select(m => $"{m.Id} after {m.Attempts} attempts"))}. Handler failures: {DescribeFailures()}");
        }
    }

    /// <summary>
    /// Starts capturing what is published to <paramref name="topic"/> (an ephemeral channel of its own, subscribed
    /// when this returns), deserialized with <paramref name="serializer"/>: pass the generated
    /// <c>NsqTopics.X</c> and <c>NsqTypedSerializers.X</c>.
    /// </summary>
    /// <typeparam name="T">The topic's message type.</typeparam>
    /// <param name="topic">The topic.</param>
    /// <param name="serializer">The topic's serializer.</param>
    /// <param name="cancellationToken">Cancels starting.</param>
    /// <exception cref="TimeoutException">The capture was not subscribed within <see cref="NsqTestHarnessOptions.DefaultTimeout"/>.</exception>
    public async Task<NsqPublishedCapture<T>> CapturePublishedAsync<T>(string topic, INsqSerializer<T> serializer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(serializer);
        var channel = $"nsqtyped-capture-{Interlocked.Increment(ref _captureCounter)}#ephemeral";
        var reader = new NsqReader(_options.Reader with { Topic = topic, Channel = channel, NsqdTcpAddresses = [NsqdTcpAddress], LookupdHttpAddresses = [], MaxInFlight = 64 });
        var capture = new NsqPublishedCapture<T>(reader, serializer, _options.DefaultTimeout);
        lock (_captures)
        {
            _captures.Add(capture);
        }

        await reader.StartAsync(cancellationToken).ConfigureAwait(false);
        capture.Start();
        using var expired = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        expired.CancelAfter(_options.DefaultTimeout);
        while (reader.Connections.Count == 0)
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), expired.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"The capture of '{topic}' was not subscribed within {_options.DefaultTimeout.TotalSeconds:0.#} s.");
            }
        }

        return capture;
    }

    /// <summary>Drains the handlers (running ones finish), then stops the captures, the producer and the embedded nsqd.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_consumers is not null)
        {
            await _consumers.DisposeAsync().ConfigureAwait(false);
        }

        IAsyncDisposable[] captures;
        lock (_captures)
        {
            captures = [.. _captures];
        }

        foreach (var capture in captures)
        {
            await capture.DisposeAsync().ConfigureAwait(false);
        }

        if (_producer is not null)
        {
            await _producer.DisposeAsync().ConfigureAwait(false);
        }

        if (_server is not null)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
        }
    }

    private Task<IReadOnlyList<NsqHandledMessage>> WaitForHandledAsync(Func<INsqHandlerDispatcher, bool> which, int count, TimeSpan? timeout, string what)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        return _signal.WaitAsync<IReadOnlyList<NsqHandledMessage>>(
            () => Handled.Where(m => which(m.Handler)).ToList() is { } matching && matching.Count >= count ? matching : null,
            timeout ?? _options.DefaultTimeout,
            () => $"{count} message(s) handled by {what}; handled {Handled.Count(m => which(m.Handler))}. Handler failures: {DescribeFailures()}");
    }

    private string DescribeFailures()
    {
        var failures = Failures;
        return failures.Count == 0 ? "none" : string.Join("; ", failures.Select(f => $"{f.Handler.HandlerName}: {f.Error.GetType().Name}: {f.Error.Message}"));
    }

    private void Observe(NsqReader reader)
    {
        reader.GivingUp += (_, e) =>
        {
            lock (_handled)
            {
                _givenUp.Add(e.Message);
            }

            _signal.Set();
        };
    }

    private void Record(INsqHandlerDispatcher handler, NsqMessage message, Exception? error)
    {
        lock (_handled)
        {
            if (error is null)
            {
                _handled.Add(new NsqHandledMessage(handler, message.Id.ToString(), message.Attempts, message.Body.ToArray()));
            }
            else
            {
                _failures.Add((handler, error));
            }
        }

        _signal.Set();
    }

    /// <summary>Runs a dispatcher and tells the harness how it went.</summary>
    private sealed class RecordingDispatcher(INsqHandlerDispatcher inner, NsqTestHarness harness) : INsqHandlerDispatcher
    {
        public string Topic => inner.Topic;

        public string Channel => inner.Channel;

        public Type MessageType => inner.MessageType;

        public string HandlerName => inner.HandlerName;

        public async ValueTask DispatchAsync(NsqMessage message, IServiceProvider? services, CancellationToken cancellationToken)
        {
            try
            {
                await inner.DispatchAsync(message, services, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                harness.Record(inner, message, ex);
                throw;
            }

            harness.Record(inner, message, null);
        }
    }
}
