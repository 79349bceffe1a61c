namespace NsqTyped.Testing;

/// <summary>
/// Maps an nsqlookupd v1.3.0 command line (<c>--flag=value</c>, <c>--flag value</c>, <c>-flag</c>) to
/// <see cref="EmbeddedNsqlookupdOptions"/>, so a real nsqlookupd invocation can be reproduced in-process.
/// </summary>
/// <example>
/// <code>
/// var options = EmbeddedNsqlookupdFlags.Parse(["--tcp-address=127.0.0.1:4160", "--http-address=127.0.0.1:4161", "--tombstone-lifetime=5s"]);
/// </code>
/// </example>
public static class EmbeddedNsqlookupdFlags
{
    /// <summary>Builds options from nsqlookupd flags, starting from <paramref name="baseOptions"/> (or the defaults).</summary>
    /// <param name="flags">nsqlookupd command-line arguments, without the program name.</param>
    /// <param name="baseOptions">Options the flags are applied to.</param>
    /// <exception cref="ArgumentException">A flag is unknown or its value cannot be parsed.</exception>
    public static EmbeddedNsqlookupdOptions Parse(IEnumerable<string> flags, EmbeddedNsqlookupdOptions? baseOptions = null)
    {
        ArgumentNullException.ThrowIfNull(flags);
        var options = baseOptions ?? EmbeddedNsqlookupdOptions.Default;
        var list = flags.ToList();
        for (var i = 0; i < list.Count; i++)
        {
            var arg = list[i];
            if (!arg.StartsWith('-'))
            {
                throw new ArgumentException($"Unexpected argument '{arg}'.", nameof(flags));
            }

            var body = arg.TrimStart('-');
            var eq = body.IndexOf('=', StringComparison.Ordinal);
            var name = eq >= 0 ? body[..eq] : body;
            var value = eq >= 0 ? body[(eq + 1)..] : null;
            if (name == "verbose")
            {
                continue;
            }

            if (value is null)
            {
                if (i + 1 >= list.Count)
                {
                    throw new ArgumentException($"Flag '{arg}' needs a value.", nameof(flags));
                }

                value = list[++i];
            }

            options = name switch
            {
                "tcp-address" => options with { TcpAddress = value },
                "http-address" => options with { HttpAddress = value },
                "broadcast-address" => options with { BroadcastAddress = value },
                "inactive-producer-timeout" => options with { InactiveProducerTimeout = EmbeddedNsqdFlags.ParseDuration(name, value) },
                "tombstone-lifetime" => options with { TombstoneLifetime = EmbeddedNsqdFlags.ParseDuration(name, value) },

                // Logging and config-file flags change nothing for the embedded server.
                "log-level" or "log-prefix" or "config" => options,
                _ => throw new ArgumentException($"Unknown nsqlookupd flag '--{name}'.", nameof(flags)),
            };
        }

        return options;
    }
}
