namespace NsqTyped.Protocol;

/// <summary>
/// nsqd's rule for topic and channel names (<c>internal/protocol/names.go</c>): 1 to 64 characters
/// of <c>[.a-zA-Z0-9_-]</c>, optionally ending in <c>#ephemeral</c> (counted in the 64).
/// </summary>
public static class NsqNames
{
    /// <summary>Longest valid name, including an <c>#ephemeral</c> suffix.</summary>
    public const int MaxLength = 64;

    /// <summary>The suffix that makes a topic or channel ephemeral (memory only, deleted when unused).</summary>
    public const string EphemeralSuffix = "#ephemeral";

    /// <summary>Whether <paramref name="name"/> is a valid topic name.</summary>
    public static bool IsValidTopicName(ReadOnlySpan<char> name) => IsValidName(name);

    /// <summary>Whether <paramref name="name"/> is a valid channel name.</summary>
    public static bool IsValidChannelName(ReadOnlySpan<char> name) => IsValidName(name);

    /// <summary>Whether a (valid) name ends in <c>#ephemeral</c>.</summary>
    public static bool IsEphemeral(ReadOnlySpan<char> name) => name.EndsWith(EphemeralSuffix, StringComparison.Ordinal);

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="topic"/> is a valid topic name.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="topic"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="topic"/> breaks nsqd's naming rule.</exception>
    public static void ThrowIfInvalidTopic(string topic, string? paramName = "topic")
    {
        ArgumentNullException.ThrowIfNull(topic, paramName);
        if (!IsValidName(topic))
        {
            throw new ArgumentException(Describe("topic", topic), paramName);
        }
    }

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="channel"/> is a valid channel name.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="channel"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="channel"/> breaks nsqd's naming rule.</exception>
    public static void ThrowIfInvalidChannel(string channel, string? paramName = "channel")
    {
        ArgumentNullException.ThrowIfNull(channel, paramName);
        if (!IsValidName(channel))
        {
            throw new ArgumentException(Describe("channel", channel), paramName);
        }
    }

    private static string Describe(string kind, string name) =>
        $"Invalid NSQ {kind} name '{name}': use 1 to {MaxLength} characters of [.a-zA-Z0-9_-], optionally ending in '{EphemeralSuffix}'.";

    private static bool IsValidName(ReadOnlySpan<char> name)
    {
        if (name.Length is < 1 or > MaxLength)
        {
            return false;
        }

        if (name.EndsWith(EphemeralSuffix, StringComparison.Ordinal))
        {
            name = name[..^EphemeralSuffix.Length];
            if (name.IsEmpty)
            {
                return false;
            }
        }

        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                return false;
            }
        }

        return true;
    }
}
