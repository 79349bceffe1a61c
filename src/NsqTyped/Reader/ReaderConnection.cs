using System.Runtime.CompilerServices;
using NsqTyped.Internal;

namespace NsqTyped.Reader;

/// <summary>One connection session of a Reader: one <see cref="NsqdConnection"/> from connect to close. Owned by the Reader's actor loop.</summary>
internal sealed class ReaderConnection(string id, NsqEndpoint endpoint, NsqdConnection connection)
{
    public string Id { get; } = id;

    public NsqEndpoint Endpoint { get; } = endpoint;

    public NsqdConnection Connection { get; } = connection;

    /// <summary>SUB succeeded and the RDY controller knows this connection.</summary>
    public bool Subscribed { get; set; }

    /// <summary>CLS was sent (a second CLS is a fatal protocol error).</summary>
    public bool CloseSent { get; set; }

    /// <summary>The session ended; late events about it are ignored.</summary>
    public bool Gone { get; set; }

    /// <summary>Messages delivered on this session and not answered yet (actor's count).</summary>
    public int InFlight { get; set; }

    public override string ToString() => Id;
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

/// <summary>
/// A message as the Reader hands it out: the work item of the handler pool and the responder of the
/// <see cref="NsqMessage"/>, so FIN/REQ go to the delivering connection and the Reader sees every
/// outcome (backoff, close accounting).
/// </summary>
internal sealed class ReaderDelivery(NsqReader reader, ReaderConnection session) : INsqMessageResponder
{
    public ReaderConnection Session { get; } = session;

    public NsqMessage Message { get; set; } = null!;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask FinishAsync(NsqMessage message, CancellationToken cancellationToken)
    {
        try
        {
            await Session.Connection.FinishAsync(message.Id, cancellationToken).ConfigureAwait(false);
            reader.RaiseFinished(message.Id);
        }
        finally
        {
            reader.OnResponded(Session, RdyOutcome.Success);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask RequeueAsync(NsqMessage message, TimeSpan delay, bool backoff, CancellationToken cancellationToken)
    {
        try
        {
            await Session.Connection.RequeueAsync(message.Id, delay, backoff, cancellationToken).ConfigureAwait(false);
            reader.RaiseRequeued(message.Id, delay, backoff);
        }
        finally
        {
            reader.OnResponded(Session, backoff ? RdyOutcome.Failure : RdyOutcome.Neutral);
        }
    }

    public ValueTask TouchAsync(NsqMessage message, CancellationToken cancellationToken) =>
        Session.Connection.TouchAsync(message.Id, cancellationToken);
}
