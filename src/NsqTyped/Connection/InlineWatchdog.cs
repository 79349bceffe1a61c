namespace NsqTyped.Internal;

/// <summary>
/// Watches the connections whose read loop may run a message handler itself (a Reader at MaxInFlight 1):
/// one shared timer, running only while some connection is watched, asks each one every <see cref="Period"/>
/// whether a handler has held its read loop since the previous tick (<see cref="NsqdConnection.CheckInlineRun"/>).
/// A handler that blocks its thread then costs at most two periods of reading, never the connection: heartbeats,
/// acknowledgements it may itself be waiting for, and the liveness check go on on another thread.
/// </summary>
internal static class InlineWatchdog
{
    /// <summary>How often the watched connections are checked: a blocked read loop moves on after one to two periods.</summary>
    public static readonly TimeSpan Period = TimeSpan.FromMilliseconds(50);

    private static readonly List<NsqdConnection> s_watched = [];
    private static readonly Timer s_timer = new(static _ => Tick(), null, Timeout.Infinite, Timeout.Infinite);
    private static int s_ticking;

    /// <summary>Starts watching <paramref name="connection"/> (its read loop starts).</summary>
    public static void Watch(NsqdConnection connection)
    {
        lock (s_watched)
        {
            s_watched.Add(connection);
            if (s_watched.Count == 1)
            {
                s_timer.Change(Period, Period);
            }
        }
    }

    /// <summary>Stops watching <paramref name="connection"/> (its read loop ended).</summary>
    public static void Unwatch(NsqdConnection connection)
    {
        lock (s_watched)
        {
            s_watched.Remove(connection);
            if (s_watched.Count == 0)
            {
                s_timer.Change(Timeout.Infinite, Timeout.Infinite);
            }
        }
    }

    private static void Tick()
    {
        // Timer callbacks may overlap when the pool is starved; one check at a time keeps "since the previous tick" true.
        if (Interlocked.Exchange(ref s_ticking, 1) != 0)
        {
            return;
        }

        try
        {
            NsqdConnection[] watched;
            lock (s_watched)
            {
                watched = [.. s_watched];
            }

            foreach (var connection in watched)
            {
                connection.CheckInlineRun();
            }
        }
        finally
        {
            Volatile.Write(ref s_ticking, 0);
        }
    }
}
