using System.Globalization;

namespace NsqTyped.Internal;

/// <summary>A parsed <c>host:port</c> address (IPv6 literals in brackets).</summary>
internal readonly record struct NsqEndpoint(string Host, int Port)
{
    /// <summary>Parses <c>host:port</c>, <c>host</c> (default port), <c>[::1]:port</c>.</summary>
    /// <exception cref="ArgumentException">The address is empty, malformed, or a URL (<c>http://host:4150</c>).</exception>
    public static NsqEndpoint Parse(string address, int defaultPort, string paramName = "address")
    {
        ArgumentNullException.ThrowIfNull(address, paramName);
        var text = address.Trim();
        if (text.Length == 0)
        {
            throw new ArgumentException("The nsqd address must not be empty.", paramName);
        }

        var scheme = text.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
        {
            var hostPort = text[(scheme + 3)..].TrimEnd('/');
            throw new ArgumentException(
                $"The nsqd TCP address '{address}' is a URL; give host:port without a scheme (e.g. '{hostPort}'). " +
                "An http:// address is nsqd's HTTP API (default port 4151); the TCP protocol this client speaks has its own port (default 4150).",
                paramName);
        }

        string host;
        string? port = null;
        if (text[0] == '[')
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw new ArgumentException($"The address '{address}' has an unterminated IPv6 literal.", paramName);
            }

            host = text[1..close];
            var rest = text[(close + 1)..];
            if (rest.Length > 0)
            {
                if (rest[0] != ':')
                {
                    throw new ArgumentException($"The address '{address}' is not host:port.", paramName);
                }

                port = rest[1..];
            }
        }
        else
        {
            var colon = text.LastIndexOf(':');
            if (colon >= 0 && text.IndexOf(':', StringComparison.Ordinal) != colon)
            {
                // A bare IPv6 literal without a port.
                host = text;
            }
            else if (colon >= 0)
            {
                host = text[..colon];
                port = text[(colon + 1)..];
            }
            else
            {
                host = text;
            }
        }

        if (host.Length == 0)
        {
            throw new ArgumentException($"The address '{address}' has no host.", paramName);
        }

        var portNumber = defaultPort;
        if (port is not null && (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out portNumber) || portNumber is < 1 or > 65535))
        {
            throw new ArgumentException($"The address '{address}' has an invalid port.", paramName);
        }

        return new NsqEndpoint(host, portNumber);
    }

    public override string ToString() =>
        Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port.ToString(CultureInfo.InvariantCulture)}" : $"{Host}:{Port.ToString(CultureInfo.InvariantCulture)}";
}
