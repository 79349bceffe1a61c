using NsqTyped.Internal;

namespace NsqTyped.Reader;

/// <summary>
/// One connection session of a Reader: one <see cref="NsqdConnection"/> from connect to close. Owned by
/// the Reader's actor loop. It is also the connection's message sink (the read loop hands each message
/// straight to the Reader's bounded queue) and the responder every message of the session carries, so
/// FIN/REQ go to the delivering connection and the Reader sees the outcomes it needs, with no object
/// per message besides the message itself.
/// </summary>
internal sealed class ReaderConnection : INsqMessageSink, INsqMessageResponder
{
    private readonly NsqReader _reader;

    public ReaderConnection(NsqReader reader, string id, NsqEndpoint endpoint, NsqdConnection connection)
    {
        _reader = reader;
        Id = id;
        Endpoint = endpoint;
        Connection = connection;
        View = new NsqReaderConnection(connection);
        connection.AttachSink(this);
    }

    public string Id { get; }

    public NsqEndpoint Endpoint { get; }

    public NsqdConnection Connection { get; }

    /// <summary>The read-only view <see cref="NsqReader.Connections"/> lists.</summary>
    public NsqReaderConnection View { get; }

    /// <summary>SUB succeeded and the RDY controller knows this connection.</summary>
    public bool Subscribed { get; set; }

    /// <summary>CLS was sent (a second CLS is a fatal protocol error).</summary>
    public bool CloseSent { get; set; }

    /// <summary>The session ended; late events about it are ignored.</summary>
    public bool Gone { get; set; }

    /// <summary>
    /// Set by the actor while the RDY controller holds this connection at RDY 1 as new or idle: the next
    /// delivery must be reported so the connection gets its full share. Cleared by the read loop when it reports.
    /// </summary>
    public volatile bool ReportArrival;

    INsqMessageResponder INsqMessageSink.Responder => this;

    bool INsqMessageSink.TryDeliver(NsqMessage message)
    {
        if (!_reader.TryEnqueue(message))
        {
            return false;
        }

        if (ReportArrival)
        {
            ReportArrival = false;
            _reader.OnArrival(this);
        }

        return true;
    }

    ValueTask INsqMessageSink.DeliverAsync(NsqMessage message, CancellationToken cancellationToken) =>
        _reader.EnqueueAsync(this, message, cancellationToken);

    bool INsqMessageSink.TryClaimInline() => _reader.TryClaimInline();

    void INsqMessageSink.RunInline(NsqMessage message)
    {
        if (ReportArrival)
        {
            ReportArrival = false;
            _reader.OnArrival(this);
        }

        _reader.RunInline(message);
    }

    public ValueTask FinishAsync(NsqMessage message, CancellationToken cancellationToken) =>
        FinishAsync(message, RdyOutcome.Success, cancellationToken);

    /// <summary>FIN with the outcome the backoff hears: a given-up message is neutral, not a success.</summary>
    public ValueTask FinishAsync(NsqMessage message, RdyOutcome outcome, CancellationToken cancellationToken)
    {
        var sent = Connection.FinishAsync(message.Id, cancellationToken);
        if (!sent.IsCompletedSuccessfully)
        {
            return Completed(sent, outcome);
        }

        _reader.RaiseFinished(message.Id);
        _reader.OnResponded(this, outcome);
        return default;
    }

    public ValueTask RequeueAsync(NsqMessage message, TimeSpan delay, bool backoff, CancellationToken cancellationToken)
    {
        // A failure that backs off closes every window before the REQ goes out: the other connections' RDY 0 straight
        // from here (go-nsq writes them before the REQ too), this connection's in the same write as the REQ. The
        // actor, which decides RDY from then on, hears of the failure only after nsqd could have refilled them.
        var outcome = backoff ? RdyOutcome.Failure : RdyOutcome.Neutral;
        var pause = backoff && _reader.BacksOff;
        if (pause)
        {
            _reader.PauseOtherConnections(this);
        }

        var sent = Connection.RequeueAsync(message.Id, delay, backoff, pause, cancellationToken);
        if (!sent.IsCompletedSuccessfully)
        {
            return Completed(sent, outcome);
        }

        _reader.RaiseRequeued(message.Id, delay, backoff);
        _reader.OnResponded(this, outcome);
        return default;
    }

    public ValueTask TouchAsync(NsqMessage message, CancellationToken cancellationToken) =>
        Connection.TouchAsync(message.Id, cancellationToken);

    public override string ToString() => Id;

    private async ValueTask Completed(ValueTask sent, RdyOutcome outcome)
    {
        try
        {
            await sent.ConfigureAwait(false);
        }
        finally
        {
            _reader.OnResponded(this, outcome);
        }
    }
}

/// <summary>What the Reader knows about one nsqd endpoint across sessions.</summary>
internal sealed class EndpointState(NsqEndpoint endpoint)
{
    public NsqEndpoint Endpoint { get; } = endpoint;

    /// <summary>Listed in <see cref="NsqReaderOptions.NsqdTcpAddresses"/>: reconnected with backoff when it drops.</summary>
    public bool IsDirect { get; set; }

    /// <summary>Listed by the last answers of the lookupds (see <see cref="LookupdDiscovery"/>): (re)connected while true.</summary>
    public bool IsDiscovered { get; set; }

    public ReaderConnection? Session { get; set; }

    public bool ReconnectScheduled { get; set; }

    /// <summary>Consecutive failed sessions, the reconnect backoff counter.</summary>
    public int Failures { get; set; }
}
