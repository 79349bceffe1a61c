namespace NsqTyped.Testing;

/// <summary>Wakes waiters whenever something they may be waiting for changed; waits re-check their condition.</summary>
internal sealed class Signal
{
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Set() => Interlocked.Exchange(ref _changed, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    public async Task<TResult> WaitAsync<TResult>(Func<TResult?> ready, TimeSpan timeout, Func<string> describe)
        where TResult : class
    {
        using var expired = new CancellationTokenSource(timeout);
        while (true)
        {
            // Taken before checking, so a change between the check and the wait still wakes us.
            var changed = Volatile.Read(ref _changed).Task;
            if (ready() is { } result)
            {
                return result;
            }

            try
            {
                await changed.WaitAsync(expired.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (expired.IsCancellationRequested)
            {
                throw new TimeoutException($"Waited {timeout.TotalSeconds:0.#} s for {describe()}.");
            }
        }
    }
}
