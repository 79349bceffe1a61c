namespace NsqTyped.Hosting.Internal;

/// <summary>The Readers the hosted service runs, for the health check: written at start, read anywhere.</summary>
internal sealed class NsqTypedConsumers
{
    private volatile IReadOnlyList<RunningConsumer> _running = [];

    /// <summary>Whether the hosted service has started (and not stopped) its consumers.</summary>
    public bool Started { get; private set; }

    public IReadOnlyList<RunningConsumer> Running => _running;

    public void SetRunning(IReadOnlyList<RunningConsumer> running)
    {
        _running = running;
        Started = true;
    }

    public void SetStopped()
    {
        Started = false;
        _running = [];
    }
}

/// <summary>One hosted consumer: a generated dispatcher and the Reader that feeds it.</summary>
internal sealed record RunningConsumer(INsqHandlerDispatcher Dispatcher, NsqReader Reader)
{
    public string Key => NsqTypedOptionsFactory.ConsumerKey(Dispatcher);
}
