namespace NsqTyped.Internal;

/// <summary>
/// The one place that checks message bodies before any I/O, for every publish path (TCP connection,
/// producer, HTTP client): nsqd answers an empty or oversized message by closing the connection, so
/// these are argument errors, not server errors.
/// </summary>
internal static class PublishValidation
{
    /// <summary>Throws unless <paramref name="length"/> is within 1..<paramref name="maxMessageSize"/>.</summary>
    /// <param name="length">The body length.</param>
    /// <param name="maxMessageSize">The limit in force.</param>
    /// <param name="limitName">The option that sets the limit, named in the message.</param>
    /// <param name="paramName">The argument being checked.</param>
    public static void ThrowIfInvalidBody(int length, int maxMessageSize, string limitName, string paramName)
    {
        if (length == 0)
        {
            throw new ArgumentException("A message body must not be empty: nsqd rejects empty messages.", paramName);
        }

        if (length > maxMessageSize)
        {
            throw new ArgumentException(
                $"A message body is {length} bytes; the maximum is {maxMessageSize} ({limitName}, nsqd's --max-msg-size).", paramName);
        }
    }

    /// <summary>
    /// Throws <see cref="ArgumentOutOfRangeException"/> for a DPUB, REQ or deferred HTTP publish delay that is negative
    /// or above the server's <c>--max-req-timeout</c> as configured: nsqd closes the connection on such a DPUB.
    /// </summary>
    /// <param name="delay">The delay.</param>
    /// <param name="maxReqTimeout">The limit in force.</param>
    /// <param name="limitName">The option that sets the limit, named in the message.</param>
    /// <param name="command">The command, named in the message.</param>
    /// <param name="paramName">The argument being checked.</param>
    public static void ThrowIfInvalidDelay(TimeSpan delay, TimeSpan maxReqTimeout, string limitName, string command, string paramName)
    {
        if (delay < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(paramName, delay, $"The {command} delay must not be negative.");
        }

        if (delay > maxReqTimeout)
        {
            throw new ArgumentOutOfRangeException(paramName, delay, $"The {command} delay {delay} is above the server's limit {limitName} ({maxReqTimeout}, nsqd's --max-req-timeout). Use a shorter delay, or raise {limitName} to match a server started with a larger --max-req-timeout.");
        }
    }

    /// <summary>
    /// Checks a batch: at least one body, each valid. Returns the sum of the body lengths, from which
    /// each caller derives its own encoding's size.
    /// </summary>
    public static long ThrowIfInvalidBatch(IReadOnlyList<ReadOnlyMemory<byte>> bodies, int maxMessageSize, string limitName, string paramName)
    {
        ArgumentNullException.ThrowIfNull(bodies, paramName);
        if (bodies.Count == 0)
        {
            throw new ArgumentException("A batch needs at least one message.", paramName);
        }

        long total = 0;
        for (var i = 0; i < bodies.Count; i++)
        {
            ThrowIfInvalidBody(bodies[i].Length, maxMessageSize, limitName, paramName);
            total += bodies[i].Length;
        }

        return total;
    }

    /// <summary>Throws when an encoded batch body is above <paramref name="maxBodySize"/>.</summary>
    public static void ThrowIfBatchTooLarge(long encodedSize, int maxBodySize, string limitName, string paramName)
    {
        if (encodedSize > maxBodySize)
        {
            throw new ArgumentException(
                $"The batch body is {encodedSize} bytes; the maximum is {maxBodySize} ({limitName}, nsqd's --max-body-size).", paramName);
        }
    }
}
