using Microsoft.Extensions.DependencyInjection;

namespace NsqTyped;

/// <summary>
/// One <see cref="NsqReader"/> per generated handler, started together and drained together: the way to run
/// <c>[NsqHandler]</c> methods without a Generic Host. The generated <c>NsqTypedHandlers.StartAllAsync</c> creates one.
/// </summary>
/// <example>
/// <code>
/// await using var consumers = await NsqTypedHandlers.StartAllAsync(new NsqReaderOptions { NsqdTcpAddresses = ["127.0.0.1:4150"] });
/// await consumers.WaitUntilSubscribedAsync(TimeSpan.FromSeconds(10));
/// // ... publish; disposing closes every Reader gracefully (running handlers finish first).
/// </code>
/// </example>
public sealed class NsqReaderGroup : IAsyncDisposable
{
    private static readonly TimeSpan SubscribedPollInterval = TimeSpan.FromMilliseconds(20);

    private readonly NsqReader[] _readers;
    private readonly INsqHandlerDispatcher[] _dispatchers;

    private NsqReaderGroup(NsqReader[] readers, INsqHandlerDispatcher[] dispatchers)
    {
        _readers = readers;
        _dispatchers = dispatchers;
    }

    /// <summary>The Readers, one per dispatcher, in the order the dispatchers were given.</summary>
    public IReadOnlyList<NsqReader> Readers => _readers;

    /// <summary>The dispatchers the Readers run, in the order they were given.</summary>
    public IReadOnlyList<INsqHandlerDispatcher> Dispatchers => _dispatchers;

    /// <summary>
    /// Creates and starts one Reader per dispatcher. Each Reader gets <paramref name="options"/> with the
    /// dispatcher's topic and channel. When <paramref name="services"/> can create scopes
    /// (it resolves <see cref="IServiceScopeFactory"/>), every message is handled in its own scope, as under hosting.
    /// </summary>
    /// <param name="dispatchers">The generated dispatchers (<c>NsqTypedHandlers.All</c>, <c>Create(factory)</c> or named ones).</param>
    /// <param name="options">Settings shared by every Reader; leave <see cref="NsqReaderOptions.Topic"/> and <see cref="NsqReaderOptions.Channel"/> empty.</param>
    /// <param name="services">Where instance handlers are resolved from; <see langword="null"/> for static handlers or factory-made dispatchers.</param>
    /// <param name="configure">Called with each Reader before it starts, e.g. to subscribe to its events.</param>
    /// <param name="cancellationToken">Cancels starting.</param>
    /// <returns>The started group; dispose it to drain.</returns>
    /// <exception cref="ArgumentException">No dispatcher was given, two share a topic and channel, or an option is invalid (checked for every Reader before any starts).</exception>
    public static async ValueTask<NsqReaderGroup> StartAsync(
        IEnumerable<INsqHandlerDispatcher> dispatchers,
        NsqReaderOptions options,
        IServiceProvider? services = null,
        Action<NsqReader>? configure = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dispatchers);
        ArgumentNullException.ThrowIfNull(options);
        INsqHandlerDispatcher[] all = [.. dispatchers];
        if (all.Length == 0)
        {
            throw new ArgumentException("There is no dispatcher to run: declare an [NsqHandler] method.", nameof(dispatchers));
        }

        var seen = new HashSet<(string, string)>();
        foreach (var dispatcher in all)
        {
            ArgumentNullException.ThrowIfNull(dispatcher, nameof(dispatchers));
            if (!seen.Add((dispatcher.Topic, dispatcher.Channel)))
            {
                throw new ArgumentException($"Two dispatchers handle topic '{dispatcher.Topic}' on channel '{dispatcher.Channel}'.", nameof(dispatchers));
            }
        }

        var scopes = services?.GetService(typeof(IServiceScopeFactory)) as IServiceScopeFactory;
        var readers = new NsqReader[all.Length];
        for (var i = 0; i < all.Length; i++)
        {
            var dispatcher = all[i];
            var readerOptions = options.Name is null ? options : options with { Name = $"{options.Name}.{dispatcher.Topic}.{dispatcher.Channel}" };
            readers[i] = scopes is null
                ? new NsqReader(readerOptions, dispatcher, services)
                : new NsqReader(BindTo(readerOptions, dispatcher), Scoped(dispatcher, scopes));
        }

        var group = new NsqReaderGroup(readers, all);
        try
        {
            foreach (var reader in readers)
            {
                configure?.Invoke(reader);
                await reader.StartAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            await group.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return group;
    }

    /// <summary>The Reader running <paramref name="dispatcher"/> (matched by topic and channel).</summary>
    /// <param name="dispatcher">A dispatcher of this group, e.g. a generated named accessor.</param>
    /// <exception cref="KeyNotFoundException">No Reader of this group handles that topic and channel.</exception>
    public NsqReader GetReader(INsqHandlerDispatcher dispatcher)
    {
        ArgumentNullException.ThrowIfNull(dispatcher);
        for (var i = 0; i < _dispatchers.Length; i++)
        {
            if (_dispatchers[i].Topic == dispatcher.Topic && _dispatchers[i].Channel == dispatcher.Channel)
            {
                return _readers[i];
            }
        }

        throw new KeyNotFoundException($"No Reader of this group handles topic '{dispatcher.Topic}' on channel '{dispatcher.Channel}'.");
    }

    /// <summary>
    /// Waits until every Reader is subscribed on at least one nsqd. A channel exists on nsqd only once a consumer
    /// subscribed to it, so publish after this when every channel must see the messages.
    /// </summary>
    /// <param name="timeout">How long to wait.</param>
    /// <param name="cancellationToken">Cancels waiting.</param>
    /// <exception cref="TimeoutException">Some Reader had no subscribed connection within <paramref name="timeout"/>; the message names them.</exception>
    public async Task WaitUntilSubscribedAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var waiting = _readers.Where(static r => r.Connections.Count == 0).ToList();
            if (waiting.Count == 0)
            {
                return;
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"Not subscribed within {timeout.TotalSeconds:0.#} s: {string.Join(", ", waiting.Select(static r => r.Options.Topic + "/" + r.Options.Channel))}.");
            }

            await Task.Delay(SubscribedPollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Closes every Reader gracefully and at once (see <see cref="NsqReader.CloseAsync"/>).</summary>
    /// <param name="cancellationToken">Stops waiting for running handlers.</param>
    public async ValueTask CloseAsync(CancellationToken cancellationToken = default) =>
        await Task.WhenAll(_readers.Select(r => r.CloseAsync(cancellationToken).AsTask())).ConfigureAwait(false);

    /// <summary>Closes every Reader gracefully, each bounded as <see cref="NsqReader.DisposeAsync"/> is.</summary>
    public async ValueTask DisposeAsync() =>
        await Task.WhenAll(_readers.Select(static r => r.DisposeAsync().AsTask())).ConfigureAwait(false);

    private static NsqReaderOptions BindTo(NsqReaderOptions options, INsqHandlerDispatcher dispatcher)
    {
        if ((options.Topic.Length > 0 && options.Topic != dispatcher.Topic) || (options.Channel.Length > 0 && options.Channel != dispatcher.Channel))
        {
            throw new ArgumentException($"The options name topic '{options.Topic}' and channel '{options.Channel}' but {dispatcher.HandlerName} handles '{dispatcher.Topic}' on '{dispatcher.Channel}': leave them empty.", nameof(options));
        }

        return options with { Topic = dispatcher.Topic, Channel = dispatcher.Channel };
    }

    private static Func<NsqMessage, CancellationToken, ValueTask> Scoped(INsqHandlerDispatcher dispatcher, IServiceScopeFactory scopes) =>
        async (message, cancellationToken) =>
        {
            // A scope per message, so scoped services (a DbContext, a unit of work) never outlive one message.
            var scope = scopes.CreateAsyncScope();
            await using (scope.ConfigureAwait(false))
            {
                await dispatcher.DispatchAsync(message, scope.ServiceProvider, cancellationToken).ConfigureAwait(false);
            }
        };
}
