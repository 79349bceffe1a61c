namespace NsqTyped.Tests.Faults;

/// <summary>
/// The HTTP handler of a Reader's lookupd client in tests: counts the requests sent and answered, and
/// can hold every request until opened again (so a test decides what lookupd has seen before a Reader
/// gets its answer) or fail them (an unreachable lookupd).
/// </summary>
internal sealed class LookupdHttpGate : DelegatingHandler
{
    private readonly object _lock = new();
    private TaskCompletionSource _open = Opened();
    private int _requests;
    private int _answered;
    private int _failed;

    public LookupdHttpGate()
        : base(new SocketsHttpHandler())
    {
    }

    /// <summary>Requests received (held ones included).</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Requests that got an HTTP answer.</summary>
    public int Answered => Volatile.Read(ref _answered);

    /// <summary>Requests that failed (refused, reset, or failed on purpose).</summary>
    public int Failed => Volatile.Read(ref _failed);

    /// <summary>When true every request fails at once, as if lookupd were unreachable.</summary>
    public bool Fail { get; set; }

    /// <summary>Holds every request from now on until <see cref="Open"/>.</summary>
    public void Close()
    {
        lock (_lock)
        {
            if (_open.Task.IsCompleted)
            {
                _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    /// <summary>Lets held and later requests through.</summary>
    public void Open()
    {
        lock (_lock)
        {
            _open.TrySetResult();
        }
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _requests);
        Task open;
        lock (_lock)
        {
            open = _open.Task;
        }

        await open.WaitAsync(cancellationToken);
        if (Fail)
        {
            Interlocked.Increment(ref _failed);
            throw new HttpRequestException("lookupd unreachable (test)");
        }

        try
        {
            var response = await base.SendAsync(request, cancellationToken);
            Interlocked.Increment(ref _answered);
            return response;
        }
        catch (HttpRequestException)
        {
            Interlocked.Increment(ref _failed);
            throw;
        }
    }

    private static TaskCompletionSource Opened()
    {
        var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        open.SetResult();
        return open;
    }
}
