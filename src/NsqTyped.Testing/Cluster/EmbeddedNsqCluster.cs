namespace NsqTyped.Testing;

/// <summary>
/// A test cluster: one <see cref="EmbeddedNsqlookupd"/> and N <see cref="EmbeddedNsqd"/> registered with it,
/// every listener on a free loopback port. Single nsqd instances can be stopped and restarted on the same
/// ports, so tests can make producers vanish and come back.
/// </summary>
/// <example>
/// <code>
/// await using var cluster = await EmbeddedNsqCluster.StartAsync(nsqdCount: 3);
/// // publish to cluster.NsqdTcpAddresses[0], consume with lookupd discovery through cluster.LookupdHttpAddress
/// await cluster.StopNsqdAsync(1);                  // its producer leaves /lookup
/// await cluster.RestartNsqdAsync(1);               // same ports, empty, registers again
/// </code>
/// </example>
public sealed class EmbeddedNsqCluster : IAsyncDisposable
{
    private readonly EmbeddedNsqdOptions[] _nsqdOptions;
    private readonly EmbeddedNsqd?[] _nsqds;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private int _disposed;

    private EmbeddedNsqCluster(EmbeddedNsqlookupd lookupd, EmbeddedNsqdOptions[] nsqdOptions, EmbeddedNsqd?[] nsqds)
    {
        Lookupd = lookupd;
        _nsqdOptions = nsqdOptions;
        _nsqds = nsqds;
        NsqdTcpAddresses = [.. nsqdOptions.Select(o => o.TcpAddress)];
        NsqdHttpAddresses = [.. nsqdOptions.Select(o => o.HttpAddress)];
    }

    /// <summary>The cluster's nsqlookupd.</summary>
    public EmbeddedNsqlookupd Lookupd { get; }

    /// <summary>The lookupd TCP address the nsqd instances register with.</summary>
    public string LookupdTcpAddress => Lookupd.TcpAddress;

    /// <summary>The lookupd HTTP address consumers discover producers through.</summary>
    public string LookupdHttpAddress => Lookupd.HttpAddress;

    /// <summary>How many nsqd slots the cluster has (running or stopped).</summary>
    public int NsqdCount => _nsqds.Length;

    /// <summary>The nsqd TCP addresses by slot; a slot keeps its address across stop and restart.</summary>
    public IReadOnlyList<string> NsqdTcpAddresses { get; }

    /// <summary>The nsqd HTTP addresses by slot; a slot keeps its address across stop and restart.</summary>
    public IReadOnlyList<string> NsqdHttpAddresses { get; }

    /// <summary>The nsqd instances that are running now, in slot order.</summary>
    public IReadOnlyList<EmbeddedNsqd> RunningNsqds
    {
        get
        {
            lock (_nsqds)
            {
                return [.. _nsqds.OfType<EmbeddedNsqd>()];
            }
        }
    }

    /// <summary>
    /// Starts a lookupd and <paramref name="nsqdCount"/> nsqd instances registered with it. Listen addresses
    /// in the options are replaced by free loopback ports; any lookupd addresses in
    /// <paramref name="nsqdOptions"/> are kept in addition to the cluster's own.
    /// </summary>
    /// <param name="nsqdCount">Number of nsqd instances (at least 1).</param>
    /// <param name="nsqdOptions">Settings shared by every nsqd (limits, timeouts, TLS, ...).</param>
    /// <param name="lookupdOptions">Settings of the lookupd.</param>
    /// <param name="cancellationToken">Cancels the start-up.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="nsqdCount"/> is less than 1.</exception>
    public static async Task<EmbeddedNsqCluster> StartAsync(
        int nsqdCount,
        EmbeddedNsqdOptions? nsqdOptions = null,
        EmbeddedNsqlookupdOptions? lookupdOptions = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(nsqdCount, 1);
        nsqdOptions ??= EmbeddedNsqdOptions.Default;
        var baseLookupdOptions = lookupdOptions ?? EmbeddedNsqlookupdOptions.Default;
        var clusterLookupdOptions = baseLookupdOptions with
        {
            TcpAddress = "127.0.0.1:0",
            HttpAddress = "127.0.0.1:0",
            BroadcastAddress = baseLookupdOptions.BroadcastAddress ?? "127.0.0.1",
        };

        var lookupd = await EmbeddedNsqlookupd.StartAsync(clusterLookupdOptions, cancellationToken).ConfigureAwait(false);
        var options = new EmbeddedNsqdOptions[nsqdCount];
        var nsqds = new EmbeddedNsqd?[nsqdCount];
        try
        {
            for (var i = 0; i < nsqdCount; i++)
            {
                var first = nsqdOptions with
                {
                    TcpAddress = "127.0.0.1:0",
                    HttpAddress = "127.0.0.1:0",
                    HttpsAddress = nsqdOptions.HttpsAddress is null ? null : "127.0.0.1:0",
                    BroadcastAddress = "127.0.0.1",
                    LookupdTcpAddresses = [lookupd.TcpAddress, .. nsqdOptions.LookupdTcpAddresses],
                };
                var nsqd = await EmbeddedNsqd.StartAsync(first, cancellationToken).ConfigureAwait(false);
                nsqds[i] = nsqd;

                // A restart reuses the ports this start picked, so the slot's addresses stay stable.
                options[i] = first with
                {
                    TcpAddress = nsqd.TcpAddress,
                    HttpAddress = nsqd.HttpAddress,
                    HttpsAddress = nsqd.HttpsAddress,
                };
            }
        }
        catch
        {
            foreach (var nsqd in nsqds)
            {
                if (nsqd is not null)
                {
                    await nsqd.DisposeAsync().ConfigureAwait(false);
                }
            }

            await lookupd.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return new EmbeddedNsqCluster(lookupd, options, nsqds);
    }

    /// <summary>The nsqd running in <paramref name="index"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">No such slot.</exception>
    /// <exception cref="InvalidOperationException">That nsqd is stopped.</exception>
    public EmbeddedNsqd GetNsqd(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _nsqds.Length);
        lock (_nsqds)
        {
            return _nsqds[index] ?? throw new InvalidOperationException($"nsqd {index} is stopped.");
        }
    }

    /// <summary>Whether the nsqd in <paramref name="index"/> is running.</summary>
    public bool IsRunning(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _nsqds.Length);
        lock (_nsqds)
        {
            return _nsqds[index] is not null;
        }
    }

    /// <summary>
    /// Stops one nsqd: its clients are disconnected, its messages discarded, and lookupd drops it as a
    /// producer once it sees the registration connection close. Stopping a stopped nsqd does nothing.
    /// </summary>
    public async Task StopNsqdAsync(int index, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _nsqds.Length);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            EmbeddedNsqd? nsqd;
            lock (_nsqds)
            {
                nsqd = _nsqds[index];
                _nsqds[index] = null;
            }

            if (nsqd is not null)
            {
                await nsqd.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Starts the nsqd in <paramref name="index"/> again (stopping it first if it runs) on the same ports,
    /// empty, registering with the lookupd again.
    /// </summary>
    /// <returns>The new instance.</returns>
    public async Task<EmbeddedNsqd> RestartNsqdAsync(int index, CancellationToken cancellationToken = default)
    {
        await StopNsqdAsync(index, cancellationToken).ConfigureAwait(false);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            var nsqd = await EmbeddedNsqd.StartAsync(_nsqdOptions[index], cancellationToken).ConfigureAwait(false);
            lock (_nsqds)
            {
                _nsqds[index] = nsqd;
            }

            return nsqd;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Waits until the lookupd lists exactly <paramref name="producerCount"/> active producers for
    /// <paramref name="topic"/> (see <see cref="EmbeddedNsqlookupd.WaitForProducersAsync"/>).
    /// </summary>
    /// <exception cref="TimeoutException">The count was not reached within <paramref name="timeout"/> (default 10 s).</exception>
    public Task WaitForProducersAsync(string topic, int producerCount, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        Lookupd.WaitForProducersAsync(topic, producerCount, timeout, cancellationToken);

    /// <summary>Stops every nsqd, then the lookupd.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        for (var i = 0; i < _nsqds.Length; i++)
        {
            await StopNsqdAsync(i).ConfigureAwait(false);
        }

        await Lookupd.DisposeAsync().ConfigureAwait(false);
        _gate.Dispose();
    }
}
