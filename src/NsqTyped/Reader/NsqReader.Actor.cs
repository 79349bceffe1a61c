using System.Threading.Channels;
using NsqTyped.Diagnostics;
using NsqTyped.Internal;
using NsqTyped.Protocol;
using NsqTyped.Reader;

namespace NsqTyped;

/// <summary>What the actor loop is asked to do.</summary>
internal enum CommandKind
{
    Start,
    Connect,
    Connected,
    ConnectFailed,
    ConnectionClosed,
    MessageArrived,
    MessageCompleted,
    LookupdAnswers,
    Tick,
    Close,
    Shutdown,
}

/// <summary>One event for the actor loop (a struct: posting one allocates nothing).</summary>
internal readonly record struct ReaderCommand(
    CommandKind Kind,
    ReaderConnection? Session = null,
    object? Payload = null,
    RdyOutcome Outcome = RdyOutcome.Success,
    NsqEndpoint Endpoint = default);

public sealed partial class NsqReader
{
    private async Task RunActorAsync()
    {
        var reader = _commands.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var command))
            {
                try
                {
                    if (Handle(command))
                    {
                        _commands.Writer.TryComplete();
                        return;
                    }
                }
                catch (Exception ex)
                {
                    // The actor must survive anything: a dead actor would stop every RDY decision.
                    ReaderLog.ActorFailed(_logger, _name, command.Kind.ToString(), ex);
                }

                ReportBackoffIfChanged();
                SyncReporting();
            }

            ScheduleTick();
        }
    }

    /// <summary>Handles one command; true when the actor stops.</summary>
    private bool Handle(in ReaderCommand command)
    {
        switch (command.Kind)
        {
            case CommandKind.Start:
                foreach (var endpoint in _direct)
                {
                    var state = GetEndpoint(endpoint);
                    state.IsDirect = true;
                    StartSession(state);
                }

                AdjustWorkers();
                break;

            case CommandKind.Connect:
                {
                    var state = GetEndpoint(command.Endpoint);
                    state.ReconnectScheduled = false;
                    if (!IsClosing && state.Session is null && (state.IsDirect || state.IsDiscovered))
                    {
                        StartSession(state);
                    }

                    break;
                }

            case CommandKind.Connected:
                OnConnected(command.Session!);
                break;

            case CommandKind.ConnectFailed:
                if (!IsClosing)
                {
                    OnConnectFailed(command.Session!, (Exception)command.Payload!);
                }

                EndSession(command.Session!);
                break;

            case CommandKind.ConnectionClosed:
                if (!command.Session!.Gone && command.Session.Subscribed && !IsClosing)
                {
                    ReaderLog.ConnectionLost(_logger, _name, command.Session.Endpoint.ToString(), command.Payload as Exception);
                }

                EndSession(command.Session);
                break;

            case CommandKind.MessageArrived:
                _rdy.OnMessageReceived(command.Session!);
                break;

            case CommandKind.MessageCompleted:
                if (command.Outcome == RdyOutcome.Failure)
                {
                    // The responder paused every connection with the REQ; from here the controller decides again.
                    command.Session!.Connection.ReleaseReadyHold();
                    foreach (var session in Volatile.Read(ref _open))
                    {
                        session.Connection.ReleaseReadyHold();
                    }
                }

                _rdy.OnMessageCompleted(command.Session!, command.Outcome);
                break;

            case CommandKind.LookupdAnswers:
                OnLookupdAnswers((List<KeyValuePair<string, IReadOnlyCollection<NsqEndpoint>?>>)command.Payload!);
                break;

            case CommandKind.Tick:
                _tickDue = null;
                _rdy.Tick();
                break;

            case CommandKind.Close:
                {
                    _rdy.Stop();
                    _work.Writer.TryComplete();
                    _lifetime.Cancel();
                    var sessions = _endpoints.Values.Select(static e => e.Session).OfType<ReaderConnection>().ToArray();
                    _closeStarted.TrySetResult(sessions);
                    break;
                }

            case CommandKind.Shutdown:
                {
                    var sessions = new List<ReaderConnection>();
                    foreach (var state in _endpoints.Values)
                    {
                        if (state.Session is { } session)
                        {
                            sessions.Add(session);
                            session.Gone = true;
                            state.Session = null;
                        }
                    }

                    Volatile.Write(ref _open, []);
                    ((TaskCompletionSource<ReaderConnection[]>)command.Payload!).TrySetResult([.. sessions]);
                    return true;
                }
        }

        return false;
    }

    private EndpointState GetEndpoint(NsqEndpoint endpoint)
    {
        if (!_endpoints.TryGetValue(endpoint, out var state))
        {
            state = new EndpointState(endpoint);
            _endpoints.Add(endpoint, state);
        }

        return state;
    }

    private void StartSession(EndpointState state)
    {
        var id = $"{state.Endpoint}#{++_sessionSequence}";
        NsqdConnection connection;
        try
        {
            connection = new NsqdConnection(state.Endpoint.ToString(), _options.Connection);
        }
        catch (ArgumentException ex)
        {
            // A lookupd may report an address no socket can use; it must not stop the others.
            ReaderLog.ConnectFailed(_logger, _name, state.Endpoint.ToString(), ex);
            return;
        }

        var session = new ReaderConnection(this, id, state.Endpoint, connection);
        state.Session = session;
        connection.ResponseReceived += (_, e) => Raise(Response, e);
        connection.ErrorReceived += (_, e) => Raise(Error, e);
        connection.Authenticated += (_, e) => Raise(Authenticated, new NsqReaderAuthenticatedEventArgs(session.View, e.Response));
        connection.Closed += (_, e) => Post(new ReaderCommand(CommandKind.ConnectionClosed, session, e.Error));
        _ = ConnectSessionAsync(session);
    }

    private async Task ConnectSessionAsync(ReaderConnection session)
    {
        var handshaken = false;
        try
        {
            await session.Connection.ConnectAsync(_lifetime.Token).ConfigureAwait(false);
            handshaken = true;
            await session.Connection.SubscribeAsync(_options.Topic, _options.Channel, _lifetime.Token).ConfigureAwait(false);
            Post(new ReaderCommand(CommandKind.Connected, session));
        }
        catch (Exception ex)
        {
            // A permanent refusal of the handshake (an AUTH error frame, which the connection does not raise as an event
            // while SUB's errors it does, or a TLS refusal): the application hears of it like any other (not on the actor).
            if (!handshaken && ex is NsqException refusal && ConnectRefusal.IsPermanent(refusal) && !IsClosing)
            {
                Raise(Error, new NsqErrorEventArgs(refusal));
            }

            Post(new ReaderCommand(CommandKind.ConnectFailed, session, ex));
        }
    }

    private void OnConnectFailed(ReaderConnection session, Exception error)
    {
        if (!ConnectRefusal.IsPermanent(error))
        {
            ReaderLog.ConnectFailed(_logger, _name, session.Endpoint.ToString(), error);
            return;
        }

        // Retrying continues with backoff (the server side may be fixed), but this is not a passing network fault.
        ReaderLog.ConnectRefused(_logger, _name, session.Endpoint.ToString(), error);
    }

    private void OnConnected(ReaderConnection session)
    {
        if (session.Gone)
        {
            _ = session.Connection.DisposeAsync().AsTask();
            return;
        }

        if (IsClosing)
        {
            // Shutdown collects it with the others and closes it; it never gets RDY.
            session.Subscribed = true;
            return;
        }

        session.Subscribed = true;
        var state = GetEndpoint(session.Endpoint);
        state.Failures = 0;
        var maxRdy = session.Connection.Settings?.MaxRdyCount ?? 2500;
        ReaderLog.Subscribed(_logger, _name, session.Endpoint.ToString(), maxRdy);
        if (maxRdy < _options.MaxInFlight)
        {
            ReaderLog.MaxRdyBelowMaxInFlight(_logger, _name, session.Endpoint.ToString(), maxRdy, _options.MaxInFlight);
        }

        _rdy.Add(session, maxRdy);
        UpdateOpenSnapshot();
        AdjustWorkers();
    }

    /// <summary>A session is over (failed to connect or closed): its RDY budget goes to the others.</summary>
    private void EndSession(ReaderConnection session)
    {
        if (session.Gone)
        {
            return;
        }

        session.Gone = true;
        if (_rdy.Contains(session))
        {
            SessionRemoved?.Invoke(session.Id);
            _rdy.Remove(session);
        }

        if (_endpoints.TryGetValue(session.Endpoint, out var state) && state.Session == session)
        {
            state.Session = null;
        }

        UpdateOpenSnapshot();
        AdjustWorkers();
        IgnoreFailure(session.Connection.DisposeAsync());
        if (state is null || state.Session is not null || IsClosing)
        {
            return;
        }

        if (state.IsDirect)
        {
            ScheduleReconnect(state);
        }
        else if (session.Subscribed)
        {
            // A discovered connection ended (nsqd closed it, or the network did): it comes back only if
            // lookupd still lists it, so ask lookupd (after ReconnectDelay) instead of waiting up to a poll interval.
            RequestLookup();
        }
        else if (state.IsDiscovered)
        {
            // Listed but unreachable: retry with the same backoff as a direct address while lookupd lists it.
            ScheduleReconnect(state);
        }
    }

    private void ScheduleReconnect(EndpointState state)
    {
        if (state.ReconnectScheduled)
        {
            return;
        }

        state.ReconnectScheduled = true;
        state.Failures = Math.Min(state.Failures + 1, _reconnectBackoff.MaxCounter);
        var delay = _reconnectBackoff.NextDelay(state.Failures, _random);
        ReaderLog.Reconnecting(_logger, _name, state.Endpoint.ToString(), (long)delay.TotalMilliseconds);
        _ = PostLaterAsync(delay, new ReaderCommand(CommandKind.Connect, Endpoint: state.Endpoint));
    }

    private async Task PostLaterAsync(TimeSpan delay, ReaderCommand command)
    {
        try
        {
            await Task.Delay(delay, _time, _lifetime.Token).ConfigureAwait(false);
            Post(command);
        }
        catch (OperationCanceledException)
        {
            // The Reader is closing: nothing to reconnect.
        }
    }

    private void OnLookupdAnswers(List<KeyValuePair<string, IReadOnlyCollection<NsqEndpoint>?>> answers)
    {
        if (IsClosing)
        {
            return;
        }

        var diff = _discovery.Apply(answers);
        foreach (var endpoint in diff.Added)
        {
            ReaderLog.ProducerDiscovered(_logger, _name, endpoint.ToString());
        }

        // No longer discovered, but a live connection stays: nsqd closes it when the topic or the node goes,
        // while a lookupd restart, an empty answer or a tombstone must not stop consumption. Once it ends,
        // it is not reconnected unless lookupd lists it again.
        foreach (var endpoint in diff.Removed)
        {
            GetEndpoint(endpoint).IsDiscovered = false;
            ReaderLog.ProducerVanished(_logger, _name, endpoint.ToString());
        }

        // Every listed producer without a session gets one: new ones, and known ones whose connection dropped.
        foreach (var endpoint in _discovery.Current)
        {
            var state = GetEndpoint(endpoint);
            state.IsDiscovered = true;
            if (state.Session is null && !state.ReconnectScheduled)
            {
                StartSession(state);
            }
        }
    }

    /// <summary>
    /// On a connection's read loop: the message goes into the bounded work queue, the one hand-over
    /// between socket and handler. False when the queue is full (the read loop then waits in
    /// <see cref="EnqueueAsync"/>). After close began the queue is completed: the message was on the
    /// wire before RDY 0 arrived, and goes straight back to nsqd.
    /// </summary>
    internal bool TryEnqueue(NsqMessage message)
    {
        if (_work.Writer.TryWrite(message))
        {
            return true;
        }

        if (IsClosing)
        {
            IgnoreFailure(RequeueUnstartedAsync(message));
            return true;
        }

        return false;
    }

    internal async ValueTask EnqueueAsync(ReaderConnection session, NsqMessage message, CancellationToken cancellationToken)
    {
        try
        {
            await _work.Writer.WriteAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            IgnoreFailure(RequeueUnstartedAsync(message));
            return;
        }

        if (session.ReportArrival)
        {
            session.ReportArrival = false;
            OnArrival(session);
        }
    }

    /// <summary>The first message on a connection the RDY controller holds at RDY 1 as new or idle.</summary>
    internal void OnArrival(ReaderConnection session) => Post(new ReaderCommand(CommandKind.MessageArrived, session));

    /// <summary>
    /// After every FIN/REQ, from any thread. The RDY controller only needs failures, and any outcome
    /// while it backs off, tests, or holds a grant back; in full flow nothing is posted per message.
    /// </summary>
    /// <summary>
    /// On a responder: RDY 0 on every subscribed connection but <paramref name="failed"/> (which pauses with its REQ),
    /// held until the actor has processed the failure (<see cref="CommandKind.MessageCompleted"/> releases it).
    /// </summary>
    internal void PauseOtherConnections(ReaderConnection failed)
    {
        foreach (var session in Volatile.Read(ref _open))
        {
            if (!ReferenceEquals(session, failed))
            {
                session.Connection.PauseReady();
            }
        }
    }

    internal void OnResponded(ReaderConnection session, RdyOutcome outcome)
    {
        if (outcome == RdyOutcome.Failure || _reportOutcomes)
        {
            Post(new ReaderCommand(CommandKind.MessageCompleted, session, Outcome: outcome));
        }
    }

    /// <summary>Actor only: tells the read loops and responders which events the RDY controller needs now.</summary>
    private void SyncReporting()
    {
        _reportOutcomes = _rdy.Phase != RdyPhase.Flowing || _rdy.HasHeldGrants;
        var saturated = _rdy.Phase == RdyPhase.Flowing && _rdy.ConnectionCount <= _options.MaxInFlight;
        foreach (var session in Volatile.Read(ref _open))
        {
            session.ReportArrival = saturated && !_rdy.IsActive(session);
        }
    }

    /// <summary>A connection's last delivery or answer, on the Reader's clock.</summary>
    private DateTimeOffset? LastActivity(ReaderConnection session)
    {
        var last = session.Connection.LastActivity;
        return last == 0 ? null : _time.GetUtcNow() - TimeSpan.FromMilliseconds(Math.Max(0, Environment.TickCount64 - last));
    }

    /// <summary>FIN was queued on the delivering connection (raised by the responder, not through the connection, to spare an event per message).</summary>
    internal void RaiseFinished(NsqMessageId id)
    {
        if (Finished is not null)
        {
            Raise(Finished, new NsqFinishedEventArgs(id));
        }
    }

    internal void RaiseRequeued(NsqMessageId id, TimeSpan delay, bool backoff)
    {
        NsqTelemetry.Requeued(_options.Topic, _options.Channel);
        if (Requeued is not null)
        {
            Raise(Requeued, new NsqRequeuedEventArgs(id, delay, backoff));
        }
    }

    private void SendRdy(ReaderConnection session, long count)
    {
        // A phase change is reported before the first RDY above 0 decided under it: nsqd may deliver under that RDY
        // at once, and whoever watches the backoff must not see such a message before the phase that allowed it.
        // (RDY 0, as when a backoff starts, brings nothing: that phase is reported after the step, with its RDY 0s out.)
        if (count > 0)
        {
            ReportBackoffIfChanged();
        }

        // Before the RDY goes out, so responders report what a new phase needs before nsqd can deliver under it.
        _reportOutcomes = _rdy.Phase != RdyPhase.Flowing || _rdy.HasHeldGrants;
        RdySent?.Invoke(session.Id, count, _rdy.GetMaxRdy(session));
        ReaderLog.SendingRdy(_logger, _name, session.Endpoint.ToString(), count);
        session.Connection.ReadyFromController(count);
    }

    /// <summary>Reports the backoff phase and counter when they differ from what was last reported.</summary>
    private void ReportBackoffIfChanged()
    {
        if ((int)_rdy.Phase != _backoffPhase || _rdy.BackoffCounter != _backoffCounter)
        {
            ReportBackoff();
        }
    }

    private void ReportBackoff()
    {
        DateTimeOffset? until = null;
        switch (_rdy.Phase)
        {
            case RdyPhase.BackingOff:
                until = _rdy.BackoffUntil;
                NsqTelemetry.BackedOff(_options.Topic, _options.Channel);
                ReaderLog.BackingOff(_logger, _name, (long)(_rdy.BackoffUntil - _time.GetUtcNow()).TotalMilliseconds, _rdy.BackoffCounter);
                break;
            case RdyPhase.Testing:
                ReaderLog.TestingBackoff(_logger, _name);
                break;
            case RdyPhase.Flowing:
                ReaderLog.BackoffComplete(_logger, _name);
                break;
        }

        Volatile.Write(ref _backoffPhase, (int)_rdy.Phase);
        Volatile.Write(ref _backoffCounter, _rdy.BackoffCounter);
        BackoffHook?.Invoke(_rdy.Phase, _rdy.BackoffCounter);
        if (BackoffChanged is { } changed)
        {
            Raise(changed, new NsqBackoffEventArgs((NsqBackoffPhase)_rdy.Phase, _rdy.BackoffCounter, until));
        }
    }

    private void ScheduleTick()
    {
        if (_tick is null || IsClosing)
        {
            return;
        }

        var delay = _rdy.NextTickDelay();
        if (delay is null)
        {
            return;
        }

        var due = _time.GetUtcNow() + delay.Value;

        // An earlier tick is already pending; it reschedules when it runs.
        if (_tickDue is { } pending && pending <= due)
        {
            return;
        }

        _tickDue = due;
        _tick.Change(delay.Value, Timeout.InfiniteTimeSpan);
    }

    private void UpdateOpenSnapshot()
    {
        var open = new List<ReaderConnection>();
        foreach (var state in _endpoints.Values)
        {
            if (state.Session is { Subscribed: true, Gone: false } session)
            {
                open.Add(session);
            }
        }

        Volatile.Write(ref _open, [.. open]);
    }

    private static void IgnoreFailure(ValueTask task)
    {
        if (task.IsCompletedSuccessfully)
        {
            return;
        }

        _ = Observe(task);

        static async Task Observe(ValueTask task)
        {
            try
            {
                await task.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // The connection is closing or closed: its Closed event tells the actor.
            }
        }
    }
}
