using System.Collections.Concurrent;

namespace NsqTyped.Tests.Faults;

/// <summary>
/// Counts <see cref="TaskScheduler.UnobservedTaskException"/> around a test. The event is process-wide,
/// so <see cref="AssertNoneAsync"/> collects garbage first (a faulted task is only reported when its
/// finalizer runs) and names what it caught, so a report can be traced to its origin.
/// </summary>
internal sealed class UnobservedTaskExceptions : IDisposable
{
    private readonly ConcurrentQueue<Exception> _caught = new();

    public UnobservedTaskExceptions()
    {
        // What earlier tests left for the finalizer is reported now, before counting starts.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        TaskScheduler.UnobservedTaskException += OnUnobserved;
    }

    public async Task AssertNoneAsync()
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            await Task.Yield();
        }

        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.True(_caught.IsEmpty, "unobserved task exceptions: " + string.Join(" | ", _caught.Select(e => e.InnerException?.ToString() ?? e.ToString())));
    }

    public void Dispose() => TaskScheduler.UnobservedTaskException -= OnUnobserved;

    private void OnUnobserved(object? sender, UnobservedTaskExceptionEventArgs e) => _caught.Enqueue(e.Exception);
}
