using System.Globalization;
using System.Security.Cryptography.X509Certificates;

namespace NsqTyped.Testing;

/// <summary>
/// Maps an nsqd v1.3.0 command line (<c>--flag=value</c>, <c>--flag value</c>, <c>-flag</c>) to
/// <see cref="EmbeddedNsqdOptions"/>, so a real nsqd invocation can be reproduced in-process.
/// </summary>
/// <example>
/// <code>
/// var options = EmbeddedNsqdFlags.Parse(["--tcp-address=127.0.0.1:0", "--max-rdy-count=10", "--max-req-timeout=2s"]);
/// </code>
/// </example>
public static class EmbeddedNsqdFlags
{
    // Flags that change nothing for a memory-only server without statsd/e2e/disk options.
    private static readonly HashSet<string> s_ignored = new(StringComparer.Ordinal)
    {
        "data-path", "mem-queue-size", "sync-every", "sync-timeout", "max-bytes-per-file", "node-id", "log-level",
        "log-prefix", "verbose", "statsd-address", "statsd-prefix", "statsd-interval", "statsd-mem-stats",
        "statsd-udp-packet-size", "e2e-processing-latency-percentile", "e2e-processing-latency-window-time",
        "worker-id", "http-client-connect-timeout", "config", "queue-scan-interval", "queue-scan-worker-pool-max",
        "queue-scan-selection-count", "queue-scan-dirty-percent", "broadcast-tcp-port", "broadcast-http-port",
        "tls-min-version", "max-client-timeout",
    };

    /// <summary>Builds options from nsqd flags, starting from <paramref name="baseOptions"/> (or the defaults).</summary>
    /// <param name="flags">nsqd command-line arguments, without the program name.</param>
    /// <param name="baseOptions">Options the flags are applied to.</param>
    /// <exception cref="ArgumentException">A flag is unknown or its value cannot be parsed.</exception>
    public static EmbeddedNsqdOptions Parse(IEnumerable<string> flags, EmbeddedNsqdOptions? baseOptions = null)
    {
        ArgumentNullException.ThrowIfNull(flags);
        var options = baseOptions ?? EmbeddedNsqdOptions.Default;
        var lookupd = new List<string>();
        var auth = new List<string>();
        string? tlsCert = null;
        string? tlsKey = null;
        string? rootCa = null;
        var list = flags.ToList();
        for (var i = 0; i < list.Count; i++)
        {
            var arg = list[i];
            if (!arg.StartsWith('-'))
            {
                throw new ArgumentException($"Unexpected argument '{arg}'.", nameof(flags));
            }

            var body = arg.TrimStart('-');
            string name;
            string? value = null;
            var eq = body.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                name = body[..eq];
                value = body[(eq + 1)..];
            }
            else
            {
                name = body;
            }

            if (name is "snappy" or "deflate" or "verbose" or "statsd-mem-stats" && value is null)
            {
                value = "true";
            }
            else if (value is null)
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
                "https-address" => options with { HttpsAddress = value },
                "broadcast-address" => options with { BroadcastAddress = value },
                "hostname" => options with { Hostname = value },
                "msg-timeout" => options with { MsgTimeout = ParseDuration(name, value) },
                "max-msg-timeout" => options with { MaxMsgTimeout = ParseDuration(name, value) },
                "max-req-timeout" => options with { MaxReqTimeout = ParseDuration(name, value) },
                "max-msg-size" => options with { MaxMsgSize = ParseLong(name, value) },
                "max-body-size" => options with { MaxBodySize = ParseLong(name, value) },
                "max-rdy-count" => options with { MaxRdyCount = ParseLong(name, value) },
                "max-channel-consumers" => options with { MaxChannelConsumers = (int)ParseLong(name, value) },
                "max-heartbeat-interval" => options with { MaxHeartbeatInterval = ParseDuration(name, value) },
                "max-output-buffer-size" => options with { MaxOutputBufferSize = (int)ParseLong(name, value) },
                "max-output-buffer-timeout" => options with { MaxOutputBufferTimeout = ParseDuration(name, value) },
                "min-output-buffer-timeout" => options with { MinOutputBufferTimeout = ParseDuration(name, value) },
                "snappy" => options with { Snappy = ParseBool(name, value) },
                "deflate" => options with { Deflate = ParseBool(name, value) },
                "max-deflate-level" => options with { MaxDeflateLevel = (int)ParseLong(name, value) },
                "tls-required" => options with { TlsRequired = ParseTlsRequired(value) },
                "tls-client-auth-policy" => options with { TlsClientAuthPolicy = ParseClientAuthPolicy(value) },
                "auth-http-request-method" => options with { AuthHttpRequestMethod = value },
                "http-client-request-timeout" => options with { HttpClientRequestTimeout = ParseDuration(name, value) },
                _ => options,
            };

            switch (name)
            {
                case "lookupd-tcp-address":
                    lookupd.Add(value);
                    break;
                case "auth-http-address":
                    auth.Add(value);
                    break;
                case "tls-cert":
                    tlsCert = value;
                    break;
                case "tls-key":
                    tlsKey = value;
                    break;
                case "tls-root-ca-file":
                    rootCa = value;
                    break;
                default:
                    if (!IsMapped(name) && !s_ignored.Contains(name))
                    {
                        throw new ArgumentException($"Unknown nsqd flag '--{name}'.", nameof(flags));
                    }

                    break;
            }
        }

        if (lookupd.Count > 0)
        {
            options = options with { LookupdTcpAddresses = lookupd };
        }

        if (auth.Count > 0)
        {
            options = options with { AuthHttpAddresses = auth };
        }

        if (tlsCert is not null || tlsKey is not null)
        {
            if (tlsCert is null || tlsKey is null)
            {
                throw new ArgumentException("--tls-cert and --tls-key go together.", nameof(flags));
            }

            options = options with { TlsCertificate = X509Certificate2.CreateFromPemFile(tlsCert, tlsKey) };
        }

        if (rootCa is not null)
        {
            var roots = new X509Certificate2Collection();
            roots.ImportFromPemFile(rootCa);
            options = options with { TlsRootCertificates = roots };
        }

        return options;
    }

    private static bool IsMapped(string name) => name is "tcp-address" or "http-address" or "https-address" or "broadcast-address"
        or "hostname" or "msg-timeout" or "max-msg-timeout" or "max-req-timeout" or "max-msg-size" or "max-body-size"
        or "max-rdy-count" or "max-channel-consumers" or "max-heartbeat-interval" or "max-output-buffer-size"
        or "max-output-buffer-timeout" or "min-output-buffer-timeout" or "snappy" or "deflate" or "max-deflate-level"
        or "tls-required" or "tls-client-auth-policy" or "auth-http-request-method" or "http-client-request-timeout";

    private static long ParseLong(string name, string value) =>
        long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var result)
            ? result
            : throw new ArgumentException($"--{name}: '{value}' is not an integer.", nameof(value));

    private static bool ParseBool(string name, string value) => value switch
    {
        "1" or "t" or "T" or "true" or "TRUE" or "True" => true,
        "0" or "f" or "F" or "false" or "FALSE" or "False" => false,
        _ => throw new ArgumentException($"--{name}: '{value}' is not a boolean.", nameof(value)),
    };

    private static NsqdTlsRequirement ParseTlsRequired(string value) => value switch
    {
        "tcp-https" => NsqdTlsRequirement.RequiredExceptHttp,
        _ => ParseBool("tls-required", value) ? NsqdTlsRequirement.Required : NsqdTlsRequirement.NotRequired,
    };

    private static NsqdTlsClientAuthPolicy ParseClientAuthPolicy(string value) => value switch
    {
        "" => NsqdTlsClientAuthPolicy.None,
        "require" => NsqdTlsClientAuthPolicy.Require,
        "require-verify" => NsqdTlsClientAuthPolicy.RequireVerify,
        _ => throw new ArgumentException($"--tls-client-auth-policy: '{value}' is not require or require-verify.", nameof(value)),
    };

    /// <summary>Go's time.ParseDuration: e.g. <c>60s</c>, <c>1m30s</c>, <c>1.5h</c>, <c>250ms</c>, <c>100us</c>.</summary>
    /// <exception cref="ArgumentException">Not a Go duration.</exception>
    public static TimeSpan ParseDuration(string name, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value == "0")
        {
            return TimeSpan.Zero;
        }

        var negative = value.StartsWith('-');
        var text = value.TrimStart('-', '+');
        double totalNanoseconds = 0;
        var i = 0;
        if (text.Length == 0)
        {
            throw new ArgumentException($"--{name}: '{value}' is not a duration.", nameof(value));
        }

        while (i < text.Length)
        {
            var start = i;
            while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.'))
            {
                i++;
            }

            if (start == i || !double.TryParse(text.AsSpan(start, i - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            {
                throw new ArgumentException($"--{name}: '{value}' is not a duration.", nameof(value));
            }

            var unitStart = i;
            while (i < text.Length && !char.IsAsciiDigit(text[i]) && text[i] != '.')
            {
                i++;
            }

            double unit = text[unitStart..i] switch
            {
                "ns" => 1,
                "us" or "µs" or "μs" => 1e3,
                "ms" => 1e6,
                "s" => 1e9,
                "m" => 60e9,
                "h" => 3600e9,
                _ => throw new ArgumentException($"--{name}: '{value}' has an unknown unit.", nameof(value)),
            };
            totalNanoseconds += number * unit;
        }

        var ticks = (long)Math.Round(totalNanoseconds / 100);
        return TimeSpan.FromTicks(negative ? -ticks : ticks);
    }
}
