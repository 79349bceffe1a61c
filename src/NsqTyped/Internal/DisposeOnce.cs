namespace NsqTyped.Internal;

/// <summary>Idempotent asynchronous dispose: the first caller starts the work, every caller awaits the same task.</summary>
internal static class DisposeOnce
{
    /// <summary>Runs <paramref name="core"/> the first time it is called for <paramref name="slot"/>.</summary>
    /// <remarks>
    /// <paramref name="core"/> starts synchronously on the first caller's thread (callers may rely on
    /// thread-local state before its first await) and outside any lock, because closing runs
    /// cancellation callbacks synchronously.
    /// </remarks>
    public static ValueTask RunAsync(ref Task? slot, Func<Task> core)
    {
        var task = Volatile.Read(ref slot);
        if (task is null)
        {
            var completion = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            task = Interlocked.CompareExchange(ref slot, completion.Task, null);
            if (task is null)
            {
                task = completion.Task;
                _ = CompleteAsync(core, completion);
            }
        }

        return new ValueTask(task);
    }

    private static async Task CompleteAsync(Func<Task> core, TaskCompletionSource completion)
    {
        try
        {
            await core().ConfigureAwait(false);
            completion.SetResult();
        }
        catch (Exception ex)
        {
            completion.SetException(ex);
        }
    }
}
