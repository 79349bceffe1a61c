using Microsoft.Extensions.Logging;
using NsqTyped.Testing;

namespace EmbeddedServer;

/// <summary>
/// The sample's command line: nsqd's flags (parsed by <see cref="EmbeddedNsqdFlags"/>), or after the word
/// <c>nsqlookupd</c> nsqlookupd's flags (parsed by <see cref="EmbeddedNsqlookupdFlags"/>), plus a few of
/// the sample's own. Addresses default to nsqd's and nsqlookupd's ports, but on 127.0.0.1.
/// </summary>
internal sealed record ServerCommandLine
{
    public const string Usage =
        """
        usage: EmbeddedServer [nsqd] [nsqd flags]
               EmbeddedServer nsqlookupd [nsqlookupd flags]

        Runs the NsqTyped embedded nsqd (memory only) and/or nsqlookupd until Ctrl+C or SIGTERM.

        nsqd flags (as nsqd v1.3.0; defaults in brackets):
          --tcp-address=ADDR              TCP protocol address [127.0.0.1:4150]
          --http-address=ADDR             HTTP API address [127.0.0.1:4151]
          --https-address=ADDR            HTTPS API address [127.0.0.1:4152 when --tls-cert is given]
          --broadcast-address=HOST        address registered with nsqlookupd [127.0.0.1]
          --lookupd-tcp-address=ADDR      nsqlookupd to register with (repeatable)
          --msg-timeout=DURATION          default in-flight timeout [60s]
          --max-msg-timeout=DURATION      [15m]    --max-req-timeout=DURATION  [1h]
          --max-msg-size=BYTES            [1048576] --max-body-size=BYTES      [5242880]
          --max-rdy-count=N               [2500]   --max-heartbeat-interval=DURATION [60s]
          --snappy / --deflate (=false)   compression offered [true]; --max-deflate-level=N [6]
          --tls-cert=FILE --tls-key=FILE  PEM certificate and key; --tls-required=true|false|tcp-https
          --tls-client-auth-policy=require|require-verify, --tls-root-ca-file=FILE
          --auth-http-address=ADDR        auth server (repeatable); --auth-http-request-method=get|post
          ... and the other nsqd flags; disk, statsd and e2e flags are accepted and ignored.
        sample-only nsqd flags:
          --with-nsqlookupd               also run an nsqlookupd in this process and register with it
          --nsqlookupd-tcp-address=ADDR   its TCP address [127.0.0.1:4160]
          --nsqlookupd-http-address=ADDR  its HTTP address [127.0.0.1:4161]

        nsqlookupd flags (after the word nsqlookupd):
          --tcp-address=ADDR              registration address [127.0.0.1:4160]
          --http-address=ADDR             HTTP API address [127.0.0.1:4161]
          --broadcast-address=HOST        address reported to nsqd [127.0.0.1]
          --inactive-producer-timeout=DURATION [300s]   --tombstone-lifetime=DURATION [45s]

        common: --log-level=debug|info|warn|error|fatal [info], --version, --help
        Port 0 in an address picks a free port; the real addresses are printed at start.
        """;

    /// <summary>nsqd defaults of the sample: nsqd's ports on 127.0.0.1.</summary>
    public static EmbeddedNsqdOptions NsqdDefaults { get; } = EmbeddedNsqdOptions.Default with
    {
        TcpAddress = "127.0.0.1:4150",
        HttpAddress = "127.0.0.1:4151",
        BroadcastAddress = "127.0.0.1",
    };

    /// <summary>nsqlookupd defaults of the sample: nsqlookupd's ports on 127.0.0.1.</summary>
    public static EmbeddedNsqlookupdOptions LookupdDefaults { get; } = EmbeddedNsqlookupdOptions.Default with
    {
        TcpAddress = "127.0.0.1:4160",
        HttpAddress = "127.0.0.1:4161",
        BroadcastAddress = "127.0.0.1",
    };

    public bool RunsNsqd { get; init; }

    public bool RunsLookupd { get; init; }

    public EmbeddedNsqdOptions Nsqd { get; init; } = NsqdDefaults;

    public EmbeddedNsqlookupdOptions Lookupd { get; init; } = LookupdDefaults;

    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    public bool ShowHelp { get; init; }

    public bool ShowVersion { get; init; }

    /// <exception cref="ArgumentException">An unknown flag or a value that does not parse.</exception>
    public static ServerCommandLine Parse(IReadOnlyList<string> args)
    {
        var rest = new List<string>(args);
        var lookupdMode = false;
        if (rest.Count > 0 && rest[0] is "nsqlookupd" or "nsqd")
        {
            lookupdMode = rest[0] == "nsqlookupd";
            rest.RemoveAt(0);
        }

        var logLevel = LogLevel.Information;
        var showHelp = false;
        var showVersion = false;
        var withLookupd = false;
        var lookupdTcp = LookupdDefaults.TcpAddress;
        var lookupdHttp = LookupdDefaults.HttpAddress;
        var serverFlags = new List<string>();
        for (var i = 0; i < rest.Count; i++)
        {
            var (name, value) = Split(rest[i]);
            switch (name)
            {
                case "h" or "help":
                    showHelp = true;
                    break;
                case "version":
                    showVersion = true;
                    break;
                case "log-level":
                    logLevel = ParseLogLevel(value ?? Next(rest, ref i, name));
                    break;
                case "with-nsqlookupd" when !lookupdMode:
                    withLookupd = value switch
                    {
                        null or "true" or "1" => true,
                        "false" or "0" => false,
                        _ => throw new ArgumentException($"--with-nsqlookupd: '{value}' is not true or false."),
                    };
                    break;
                case "nsqlookupd-tcp-address" when !lookupdMode:
                    lookupdTcp = value ?? Next(rest, ref i, name);
                    withLookupd = true;
                    break;
                case "nsqlookupd-http-address" when !lookupdMode:
                    lookupdHttp = value ?? Next(rest, ref i, name);
                    withLookupd = true;
                    break;
                default:
                    serverFlags.Add(rest[i]);
                    break;
            }
        }

        if (lookupdMode)
        {
            return new ServerCommandLine
            {
                RunsLookupd = true,
                Lookupd = EmbeddedNsqlookupdFlags.Parse(serverFlags, LookupdDefaults),
                LogLevel = logLevel,
                ShowHelp = showHelp,
                ShowVersion = showVersion,
            };
        }

        var nsqd = EmbeddedNsqdFlags.Parse(serverFlags, NsqdDefaults);
        if (nsqd.TlsCertificate is not null && nsqd.HttpsAddress is null)
        {
            // nsqd serves HTTPS whenever it has a certificate (default port 4152).
            nsqd = nsqd with { HttpsAddress = "127.0.0.1:4152" };
        }

        return new ServerCommandLine
        {
            RunsNsqd = true,
            RunsLookupd = withLookupd,
            Nsqd = nsqd,
            Lookupd = LookupdDefaults with { TcpAddress = lookupdTcp, HttpAddress = lookupdHttp },
            LogLevel = logLevel,
            ShowHelp = showHelp,
            ShowVersion = showVersion,
        };
    }

    private static (string Name, string? Value) Split(string arg)
    {
        if (!arg.StartsWith('-'))
        {
            return (string.Empty, null);
        }

        var body = arg.TrimStart('-');
        var eq = body.IndexOf('=', StringComparison.Ordinal);
        return eq >= 0 ? (body[..eq], body[(eq + 1)..]) : (body, null);
    }

    private static string Next(List<string> args, ref int i, string name) =>
        i + 1 < args.Count ? args[++i] : throw new ArgumentException($"Flag '--{name}' needs a value.");

    private static LogLevel ParseLogLevel(string value) => value.ToLowerInvariant() switch
    {
        "debug" => LogLevel.Debug,
        "info" => LogLevel.Information,
        "warn" => LogLevel.Warning,
        "error" => LogLevel.Error,
        "fatal" => LogLevel.Critical,
        _ => throw new ArgumentException($"--log-level: '{value}' is not debug, info, warn, error or fatal."),
    };
}
