using System.Diagnostics;
using System.Runtime.CompilerServices;
using NsqTyped.Diagnostics;
using NsqTyped.Internal;
using NsqTyped.Reader;

namespace NsqTyped;

public sealed partial class NsqReader
{
    /// <summary>Keeps the handler pool at <see cref="NsqReaderOptions.MaxConcurrency"/> workers (it follows the connection count when 0). Actor only.</summary>
    private void AdjustWorkers()
    {
        if (IsPullMode || IsClosing)
        {
            return;
        }

        var target = _options.EffectiveConcurrency(_rdy.ConnectionCount);
        Volatile.Write(ref _workerTarget, target);
        lock (_workers)
        {
            _workers.RemoveAll(static t => t.IsCompleted);
            while (Volatile.Read(ref _workerCount) < target)
            {
                Interlocked.Increment(ref _workerCount);
                _workers.Add(Task.Run(RunWorkerAsync, CancellationToken.None));
            }
        }
    }

    /// <summary>A worker above the target leaves between two messages.</summary>
    private bool TryRetireWorker()
    {
        while (true)
        {
            var count = Volatile.Read(ref _workerCount);
            if (count <= Volatile.Read(ref _workerTarget) || IsClosing)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _workerCount, count - 1, count) == count)
            {
                return true;
            }
        }
    }

    private async Task RunWorkerAsync()
    {
        var reader = _work.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            if (TryRetireWorker())
            {
                return;
            }

            if (reader.TryRead(out var message))
            {
                Interlocked.Increment(ref _handlersRunning);
                try
                {
                    await ProcessAsync(message).ConfigureAwait(false);
                }
                finally
                {
                    Interlocked.Decrement(ref _handlersRunning);
                }
            }
        }
    }

    /// <summary>
    /// A connection's read loop asks whether the message that ended its read may run on the thread the loop
    /// leaves once its next read is registered, instead of going through the queue to a worker. Only at
    /// MaxInFlight 1: at most one message is in flight, so a worker buys no parallelism and its hand-over costs
    /// a thread hop on every round trip. And only while no handler runs and nothing waits in the queue, so
    /// neither the concurrency limit nor the order of queued messages changes.
    /// </summary>
    internal bool TryClaimInline() =>
        _inlineEligible && !IsClosing && _work.Reader.Count == 0 && Interlocked.CompareExchange(ref _handlersRunning, 1, 0) == 0;

    /// <summary>Runs a message claimed by <see cref="TryClaimInline"/> on the calling thread up to its first wait.</summary>
    internal void RunInline(NsqMessage message)
    {
        var run = RunClaimedAsync(message);
        if (!run.IsCompletedSuccessfully)
        {
            Volatile.Write(ref _inlineRun, run.AsTask());
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask RunClaimedAsync(NsqMessage message)
    {
        try
        {
            await ProcessAsync(message).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _handlersRunning);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ProcessAsync(NsqMessage message)
    {
        if (IsClosing)
        {
            await RequeueUnstartedAsync(message).ConfigureAwait(false);
            return;
        }

        if (await TryGiveUpAsync(message).ConfigureAwait(false))
        {
            return;
        }

        if (MessageReceived is { } received)
        {
            Raise(received, new NsqMessageEventArgs(message));
        }

        NsqTelemetry.Consumed(_options.Topic, _options.Channel);
        var activity = NsqTelemetry.StartProcess(_options.Topic, _options.Channel, message);
        var started = activity is not null || NsqTelemetry.ProcessDuration.Enabled ? Stopwatch.GetTimestamp() : 0;
        Exception? failure = null;
        try
        {
            await _handler!(message, _handlerCancellation.Token).ConfigureAwait(false);
            if (!_options.ManualFinish && !message.HasResponded)
            {
                await RespondAsync(message, static m => m.FinishAsync()).ConfigureAwait(false);
            }
        }
        catch (NsqRequeueException requeue)
        {
            failure = requeue;
            if (!message.HasResponded)
            {
                var delay = requeue.Delay ?? _options.RequeueDelayFor(message.Attempts);
                var backoff = requeue.Backoff ?? _options.BackoffOnRequeue;
                await RespondAsync(message, m => m.RequeueAsync(delay, backoff)).ConfigureAwait(false);
            }
        }
        catch (NsqPermanentFailureException poison)
        {
            // A poison message: no retry can help, so no backoff and no retries spent on it.
            failure = poison;
            ReaderLog.Poison(_logger, _name, message.Id.ToString(), message.Attempts, poison);
            NsqTelemetry.Poison(_options.Topic, _options.Channel, poison);
            Raise(HandlerException, new NsqHandlerExceptionEventArgs(message, poison));
            if (!message.HasResponded)
            {
                await GiveUpAsync(message, poison).ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            failure = ex;
            ReaderLog.HandlerFailed(_logger, _name, message.Id.ToString(), ex);
            Raise(HandlerException, new NsqHandlerExceptionEventArgs(message, ex));
            if (!message.HasResponded)
            {
                var delay = _options.RequeueDelayFor(message.Attempts);
                await RespondAsync(message, m => m.RequeueAsync(delay, backoff: true)).ConfigureAwait(false);
            }
        }
        finally
        {
            NsqTelemetry.ProcessCompleted(activity, _options.Topic, _options.Channel, started, failure);
        }
    }

    /// <summary>Gives up a message beyond max_tries, or one whose body was above the read limit, without calling the handler.</summary>
    private async ValueTask<bool> TryGiveUpAsync(NsqMessage message)
    {
        if (message.TooLargeBodySize > 0)
        {
            // Its body was read past, never held: poison on any attempt, and nothing to dead-letter.
            var tooLarge = new NsqMessageTooLargeException(message.TooLargeBodySize, _options.Connection.MaxReadMessageSize);
            ReaderLog.Poison(_logger, _name, message.Id.ToString(), message.Attempts, tooLarge);
            NsqTelemetry.Poison(_options.Topic, _options.Channel, tooLarge);
            await GiveUpAsync(message, tooLarge).ConfigureAwait(false);
            return true;
        }

        if (_options.MaxTries == 0 || message.Attempts <= _options.MaxTries)
        {
            return false;
        }

        ReaderLog.GivingUp(_logger, _name, message.Id.ToString(), message.Attempts, _options.MaxTries);
        await GiveUpAsync(message, reason: null).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Giving up (beyond max_tries, or poison): the event, the hook, the dead-letter copy, then FIN. When the
    /// dead-letter publish fails the message is requeued instead, never finished: at-least-once holds
    /// through giving up. The FIN is neutral for the backoff (a given-up message says nothing about health).
    /// </summary>
    private async ValueTask GiveUpAsync(NsqMessage message, Exception? reason)
    {
        NsqTelemetry.GivingUp(_options.Topic, _options.Channel);
        Raise(GivingUp, new NsqGivingUpEventArgs(message, reason));
        if (_options.GivingUpHook is { } hook)
        {
            try
            {
                await hook(message, _handlerCancellation.Token).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                ReaderLog.GivingUpHookFailed(_logger, _name, message.Id.ToString(), ex);
            }
        }

        if (message.HasResponded)
        {
            return;
        }

        if (_options.DeadLetterTopic is { } topic && message.TooLargeBodySize == 0)
        {
            try
            {
                var publisher = _options.DeadLetterPublisher ?? this;
                await publisher.PublishAsync(topic, message.Body, _handlerCancellation.Token).ConfigureAwait(false);
                NsqTelemetry.DeadLettered(_options.Topic, _options.Channel, null);
                ReaderLog.DeadLettered(_logger, _name, message.Id.ToString(), topic);
            }
            catch (Exception ex)
            {
                NsqTelemetry.DeadLettered(_options.Topic, _options.Channel, ex);
                var delay = _options.RequeueDelayFor(message.Attempts);
                if (delay < DeadLetterRetryFloor)
                {
                    delay = DeadLetterRetryFloor;
                }

                ReaderLog.DeadLetterFailed(_logger, _name, message.Id.ToString(), topic, (long)delay.TotalMilliseconds, ex);
                if (!message.HasResponded)
                {
                    await RespondAsync(message, m => m.RequeueAsync(delay, backoff: false)).ConfigureAwait(false);
                }

                return;
            }
        }

        if (message.Responder is ReaderConnection session && message.TryMarkResponded())
        {
            try
            {
                await session.FinishAsync(message, RdyOutcome.Neutral, CancellationToken.None).ConfigureAwait(false);
            }
            catch (NsqException ex)
            {
                ReaderLog.ResponseFailed(_logger, _name, message.Id.ToString(), ex);
            }
        }
        else if (!message.HasResponded)
        {
            await RespondAsync(message, static m => m.FinishAsync()).ConfigureAwait(false);
        }
    }

    /// <summary>A failed dead-letter publish comes back no sooner than this, even with a zero requeue delay.</summary>
    private static readonly TimeSpan DeadLetterRetryFloor = TimeSpan.FromSeconds(1);

    /// <summary>REQ 0 without backoff for a message nobody started: it goes back to nsqd at once.</summary>
    private ValueTask RequeueUnstartedAsync(NsqMessage message) =>
        RespondAsync(message, static m => m.RequeueAsync(TimeSpan.Zero, backoff: false));

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask RespondAsync(NsqMessage message, Func<NsqMessage, ValueTask> respond)
    {
        try
        {
            await respond(message).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            // The application answered it concurrently (manual mode); one answer is all nsqd needs.
        }
        catch (NsqException ex)
        {
            ReaderLog.ResponseFailed(_logger, _name, message.Id.ToString(), ex);
        }
    }

    private async Task PollLookupdsAsync()
    {
        var token = _lifetime.Token;
        var random = new Random();
        try
        {
            // Like go-nsq: look up at once, then start the periodic polls after a random part of the jitter.
            await QueryLookupdsAsync(token).ConfigureAwait(false);
            var due = _time.GetUtcNow() + LookupdDiscovery.InitialDelay(_options.LookupdPollInterval, _options.LookupdPollJitter, random);
            while (true)
            {
                if (!await WaitForLookupAsync(due - _time.GetUtcNow(), token).ConfigureAwait(false))
                {
                    due = _time.GetUtcNow() + LookupdDiscovery.NextDelay(_options.LookupdPollInterval, _options.LookupdPollJitter, random);
                }
                else
                {
                    // A discovered connection ended. Ask after the first reconnect delay rather than at once (go-nsq):
                    // nsqd closes the clients of a deleted topic before lookupd has processed its unregistration, and
                    // a producer that accepts and drops at once must not turn this into a busy loop.
                    await Task.Delay(_options.ReconnectDelay, _time, token).ConfigureAwait(false);
                }

                await QueryLookupdsAsync(token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Closing.
        }
    }

    /// <summary>Waits for the next poll; true when a lookup was asked for before it was due.</summary>
    private async Task<bool> WaitForLookupAsync(TimeSpan delay, CancellationToken token)
    {
        if (_lookupRequests.Reader.TryRead(out _))
        {
            return true;
        }

        if (delay <= TimeSpan.Zero)
        {
            return false;
        }

        using var wait = CancellationTokenSource.CreateLinkedTokenSource(token);
        var timer = Task.Delay(delay, _time, wait.Token);
        var request = _lookupRequests.Reader.WaitToReadAsync(wait.Token).AsTask();
        await Task.WhenAny(timer, request).ConfigureAwait(false);
        await wait.CancelAsync().ConfigureAwait(false);
        await ObserveAsync(timer).ConfigureAwait(false);
        await ObserveAsync(request).ConfigureAwait(false);
        token.ThrowIfCancellationRequested();
        return _lookupRequests.Reader.TryRead(out _);
    }

    private static async Task ObserveAsync(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The other one finished first.
        }
    }

    /// <summary>Asks the poll loop for a lookup now (requests coalesce; a no-op without lookupds).</summary>
    private void RequestLookup() => _lookupRequests.Writer.TryWrite(true);

    private async Task QueryLookupdsAsync(CancellationToken token)
    {
        var answers = await Task.WhenAll(_lookupds.Select(async lookupd =>
        {
            var key = lookupd.BaseAddress.ToString();
            try
            {
                var result = await lookupd.LookupAsync(_options.Topic, token).ConfigureAwait(false);
                IReadOnlyCollection<NsqEndpoint> producers = [.. result.Producers
                    .Where(p => p.BroadcastAddress.Length > 0 && p.TcpPort is > 0 and <= 65535)
                    .Select(p => new NsqEndpoint(p.BroadcastAddress, p.TcpPort))];
                return new KeyValuePair<string, IReadOnlyCollection<NsqEndpoint>?>(key, producers);
            }
            catch (Exception ex) when (!token.IsCancellationRequested)
            {
                ReaderLog.LookupdFailed(_logger, _name, key, ex);
                return new KeyValuePair<string, IReadOnlyCollection<NsqEndpoint>?>(key, null);
            }
        })).ConfigureAwait(false);

        token.ThrowIfCancellationRequested();
        Post(new ReaderCommand(CommandKind.LookupdAnswers, Payload: answers.ToList()));
    }
}
