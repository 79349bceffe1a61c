namespace NsqTyped.Tests.Support;

/// <summary>
/// One nsqlookupd and N nsqd registered with it that a test starts for itself
/// (<see cref="NsqTestServers.StartClusterAsync"/>): real processes when the run uses real servers,
/// embedded ones otherwise. An nsqd can be stopped and restarted on the same ports (empty, with a new data
/// directory), so tests can make producers vanish and come back against either kind of server.
/// </summary>
public sealed class TestNsqCluster : IAsyncDisposable
{
    private readonly NsqTestServers _servers;
    private readonly IReadOnlyList<string>[] _slotFlags;
    private readonly TestNsqServer?[] _nsqds;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private int _disposed;

    private TestNsqCluster(NsqTestServers servers, TestNsqServer lookupd, IReadOnlyList<string>[] slotFlags, TestNsqServer?[] nsqds)
    {
        _servers = servers;
        Lookupd = lookupd;
        _slotFlags = slotFlags;
        _nsqds = nsqds;
        NsqdTcpAddresses = [.. nsqds.Select(n => n!.TcpAddress)];
        NsqdHttpAddresses = [.. nsqds.Select(n => n!.HttpAddress)];
    }

    /// <summary>The cluster's nsqlookupd (a new instance after <see cref="RestartLookupdAsync"/>).</summary>
    public TestNsqServer Lookupd { get; private set; }

    /// <summary>The lookupd HTTP address consumers discover producers through; kept across <see cref="RestartLookupdAsync"/>.</summary>
    public string LookupdHttpAddress => Lookupd.HttpAddress;

    /// <summary>The nsqd TCP addresses by slot; a slot keeps its address across stop and restart.</summary>
    public IReadOnlyList<string> NsqdTcpAddresses { get; }

    /// <summary>The nsqd HTTP addresses by slot.</summary>
    public IReadOnlyList<string> NsqdHttpAddresses { get; }

    /// <summary>The nsqd instances running now, in slot order.</summary>
    public IReadOnlyList<TestNsqServer> RunningNsqds
    {
        get
        {
            lock (_nsqds)
            {
                return [.. _nsqds.OfType<TestNsqServer>()];
            }
        }
    }

    internal static async Task<TestNsqCluster> StartAsync(NsqTestServers servers, int nsqdCount, IReadOnlyList<string> nsqdFlags, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(nsqdCount, 1);
        var lookupd = await servers.StartLookupdAsync(cancellationToken: cancellationToken);
        var nsqds = new TestNsqServer?[nsqdCount];
        var slotFlags = new IReadOnlyList<string>[nsqdCount];
        try
        {
            for (var i = 0; i < nsqdCount; i++)
            {
                IReadOnlyList<string> flags = [.. nsqdFlags, "--lookupd-tcp-address=" + lookupd.TcpAddress];
                var nsqd = await servers.StartNsqdAsync(flags, cancellationToken);
                nsqds[i] = nsqd;

                // A restart listens where the first start did, so the slot's addresses stay stable.
                slotFlags[i] = [.. flags, "--tcp-address=" + nsqd.TcpAddress, "--http-address=" + nsqd.HttpAddress];
            }
        }
        catch
        {
            foreach (var nsqd in nsqds)
            {
                if (nsqd is not null)
                {
                    await nsqd.DisposeAsync();
                }
            }

            await lookupd.DisposeAsync();
            throw;
        }

        return new TestNsqCluster(servers, lookupd, slotFlags, nsqds);
    }

    /// <summary>Whether the nsqd in slot <paramref name="index"/> is running.</summary>
    public bool IsRunning(int index)
    {
        lock (_nsqds)
        {
            return _nsqds[index] is not null;
        }
    }

    /// <summary>Stops one nsqd: its clients are disconnected and nsqlookupd drops it. Stopping a stopped nsqd does nothing.</summary>
    public async Task StopNsqdAsync(int index, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            TestNsqServer? nsqd;
            lock (_nsqds)
            {
                nsqd = _nsqds[index];
                _nsqds[index] = null;
            }

            if (nsqd is not null)
            {
                await nsqd.DisposeAsync();
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Starts the nsqd in slot <paramref name="index"/> again (stopping it first) on the same ports, empty.</summary>
    public async Task<TestNsqServer> RestartNsqdAsync(int index, CancellationToken cancellationToken = default)
    {
        await StopNsqdAsync(index, cancellationToken);
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var nsqd = await _servers.StartNsqdAsync(_slotFlags[index], cancellationToken);
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
    /// Stops the nsqlookupd, leaving its ports closed (requests to <see cref="LookupdHttpAddress"/> are refused)
    /// until <see cref="RestartLookupdAsync"/>. Stopping a stopped nsqlookupd does nothing.
    /// </summary>
    public async Task StopLookupdAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            await Lookupd.DisposeAsync();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Stops the nsqlookupd (unless <see cref="StopLookupdAsync"/> already did) and starts it again on the same
    /// ports, empty. The nsqd instances notice at their next ping and register again at the following one:
    /// 15–30 s later, real and embedded alike.
    /// </summary>
    public async Task RestartLookupdAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var old = Lookupd;
            await old.DisposeAsync();
            Lookupd = await _servers.StartLookupdAsync(["--tcp-address=" + old.TcpAddress, "--http-address=" + old.HttpAddress], cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Waits until nsqlookupd lists exactly <paramref name="producerCount"/> producers of <paramref name="topic"/>; fails the test after <paramref name="timeout"/> (default 10 s).</summary>
    public async Task WaitForProducersAsync(string topic, int producerCount, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        using var lookupd = new LookupdClient(LookupdHttpAddress);
        await NsqTestServers.WaitUntilAsync(
            async () => (await lookupd.LookupAsync(topic, cancellationToken)).Producers.Count == producerCount,
            timeout ?? TimeSpan.FromSeconds(10),
            $"nsqlookupd lists {producerCount} producers of {topic}");
    }

    /// <summary>Stops every nsqd, then nsqlookupd.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        for (var i = 0; i < _nsqds.Length; i++)
        {
            await StopNsqdAsync(i);
        }

        await Lookupd.DisposeAsync();
        _gate.Dispose();
    }
}
