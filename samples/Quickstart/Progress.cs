namespace Quickstart;

/// <summary>Counts what the handlers saw of this run; messages of earlier runs against a real nsqd are skipped.</summary>
public sealed class Progress(string runId, IEnumerable<string> expected)
{
    private readonly object _gate = new();
    private readonly HashSet<string> _missing = [.. expected];
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when every expected (channel, message) pair was handled.</summary>
    public Task Done => _done.Task;

    public IReadOnlyCollection<string> Missing
    {
        get
        {
            lock (_gate)
            {
                return [.. _missing];
            }
        }
    }

    public void Handled(string channel, string messageRunId, string what, string description)
    {
        if (messageRunId != runId)
        {
            Console.WriteLine($"  [{channel,-8}] skipped a message of an earlier run");
            return;
        }

        Console.WriteLine($"  [{channel,-8}] {description}");
        lock (_gate)
        {
            if (_missing.Remove($"{channel}: {what}") && _missing.Count == 0)
            {
                _done.TrySetResult();
            }
        }
    }
}
