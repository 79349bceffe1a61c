using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Configuration;

namespace NsqTyped.Hosting.Internal;

/// <summary>
/// Binds the <c>"Nsq"</c> section onto <see cref="NsqTypedOptions"/> and its option records, without reflection.
/// </summary>
/// <remarks>
/// The configuration binder source generator cannot do this: it binds nothing onto <c>init</c> properties
/// of an existing record (neither <c>Bind</c> nor <c>Get</c> set <see cref="NsqReaderOptions.MaxInFlight"/>) and it
/// walks into <see cref="X509Certificate2"/> and <see cref="HttpClient"/> with a dozen warnings. So the records are
/// bound here, by hand, in one place: a key is a property name, an absent key keeps the value the record already
/// has (its default, or what an outer section set), and every option's default stays on its record.
/// A value that cannot be read is a binding problem, reported with its key by validation.
/// </remarks>
internal static class NsqConfigurationBinder
{
    public static void Bind(IConfiguration section, NsqTypedOptions options)
    {
        var path = section is IConfigurationSection s ? s.Path : NsqTypedOptions.SectionName;
        var reader = new Reader(options.BindingProblems);
        BindList(section.GetSection(nameof(NsqTypedOptions.NsqdTcpAddresses)), options.NsqdTcpAddresses);
        BindList(section.GetSection(nameof(NsqTypedOptions.LookupdHttpAddresses)), options.LookupdHttpAddresses);
        options.ConsumersEnabled = reader.Bool(section, path, nameof(NsqTypedOptions.ConsumersEnabled), options.ConsumersEnabled);
        options.Connection = BindConnection(reader, section.GetSection(nameof(NsqTypedOptions.Connection)), options.Connection);

        var producer = section.GetSection(nameof(NsqTypedOptions.Producer));
        options.ConnectProducerOnStart = reader.Bool(producer, producer.Path, "ConnectOnStart", options.ConnectProducerOnStart);
        options.Producer = BindProducer(reader, producer, options.Producer);

        var consumer = section.GetSection(nameof(NsqTypedOptions.Consumer));
        if (!reader.Bool(consumer, consumer.Path, "Enabled", true))
        {
            options.ConsumersEnabled = false;
        }

        options.Consumer = BindReader(reader, consumer, options.Consumer);
        foreach (var child in section.GetSection(nameof(NsqTypedOptions.Consumers)).GetChildren())
        {
            var start = options.Consumers.TryGetValue(child.Key, out var existing) ? existing : options.Consumer;
            options.Consumers[child.Key] = BindReader(reader, child, start);
            if (child["Enabled"] is not null)
            {
                if (reader.Bool(child, child.Path, "Enabled", true))
                {
                    options.DisabledConsumers.Remove(child.Key);
                }
                else
                {
                    options.DisabledConsumers.Add(child.Key);
                }
            }
        }
    }

    internal static NsqdConnectionOptions BindConnection(Reader r, IConfigurationSection s, NsqdConnectionOptions o)
    {
        var p = s.Path;
        return o with
        {
            ClientId = r.String(s, nameof(o.ClientId), o.ClientId),
            Hostname = r.String(s, nameof(o.Hostname), o.Hostname),
            UserAgent = r.String(s, nameof(o.UserAgent), o.UserAgent),
            HeartbeatInterval = r.Duration(s, p, nameof(o.HeartbeatInterval), o.HeartbeatInterval),
            OutputBufferSize = r.Int(s, p, nameof(o.OutputBufferSize), o.OutputBufferSize),
            OutputBufferTimeout = r.Duration(s, p, nameof(o.OutputBufferTimeout), o.OutputBufferTimeout),
            Snappy = r.Bool(s, p, nameof(o.Snappy), o.Snappy),
            Deflate = r.Bool(s, p, nameof(o.Deflate), o.Deflate),
            DeflateLevel = r.Int(s, p, nameof(o.DeflateLevel), o.DeflateLevel),
            SampleRate = r.Int(s, p, nameof(o.SampleRate), o.SampleRate),
            MsgTimeout = r.Duration(s, p, nameof(o.MsgTimeout), o.MsgTimeout),
            AuthSecret = r.String(s, nameof(o.AuthSecret), o.AuthSecret),
            ConnectTimeout = r.Duration(s, p, nameof(o.ConnectTimeout), o.ConnectTimeout),
            ReadTimeout = r.Duration(s, p, nameof(o.ReadTimeout), o.ReadTimeout),
            WriteTimeout = r.Duration(s, p, nameof(o.WriteTimeout), o.WriteTimeout),
            MaxMessageSize = r.Int(s, p, nameof(o.MaxMessageSize), o.MaxMessageSize),
            MaxReadMessageSize = r.Int(s, p, nameof(o.MaxReadMessageSize), o.MaxReadMessageSize),
            MaxReqTimeout = r.Duration(s, p, nameof(o.MaxReqTimeout), o.MaxReqTimeout),
            MaxBodySize = r.Int(s, p, nameof(o.MaxBodySize), o.MaxBodySize),
            Tls = BindTls(r, s.GetSection(nameof(o.Tls)), o.Tls),
        };
    }

    internal static NsqProducerOptions BindProducer(Reader r, IConfigurationSection s, NsqProducerOptions o)
    {
        var p = s.Path;
        return o with
        {
            ConnectionsPerNode = r.Int(s, p, nameof(o.ConnectionsPerNode), o.ConnectionsPerNode),
            PublishTimeout = r.Duration(s, p, nameof(o.PublishTimeout), o.PublishTimeout),
            DisconnectedPolicy = r.Enum(s, p, nameof(o.DisconnectedPolicy), o.DisconnectedPolicy),
            DisconnectedWaitTimeout = r.Duration(s, p, nameof(o.DisconnectedWaitTimeout), o.DisconnectedWaitTimeout),
            ReconnectBaseDelay = r.Duration(s, p, nameof(o.ReconnectBaseDelay), o.ReconnectBaseDelay),
            ReconnectMaxDelay = r.Duration(s, p, nameof(o.ReconnectMaxDelay), o.ReconnectMaxDelay),
            CoalescePublishes = r.Bool(s, p, nameof(o.CoalescePublishes), o.CoalescePublishes),
            PublishLinger = r.Duration(s, p, nameof(o.PublishLinger), o.PublishLinger),
            MaxOutstandingPublishes = r.Int(s, p, nameof(o.MaxOutstandingPublishes), o.MaxOutstandingPublishes),
            MaxOutstandingBytes = r.Long(s, p, nameof(o.MaxOutstandingBytes), o.MaxOutstandingBytes),
        };
    }

    /// <summary>The consumer keys. Topic, channel, addresses and connection come from the handler and the outer section.</summary>
    internal static NsqReaderOptions BindReader(Reader r, IConfigurationSection s, NsqReaderOptions o)
    {
        var p = s.Path;
        return o with
        {
            MaxTries = r.Int(s, p, nameof(o.MaxTries), o.MaxTries),
            MaxInFlight = r.Int(s, p, nameof(o.MaxInFlight), o.MaxInFlight),
            MaxConcurrency = r.Int(s, p, nameof(o.MaxConcurrency), o.MaxConcurrency),
            RequeueDelay = r.Duration(s, p, nameof(o.RequeueDelay), o.RequeueDelay),
            MaxRequeueDelay = r.Duration(s, p, nameof(o.MaxRequeueDelay), o.MaxRequeueDelay),
            DeadLetterTopic = r.String(s, nameof(o.DeadLetterTopic), o.DeadLetterTopic),
            LookupdPollInterval = r.Duration(s, p, nameof(o.LookupdPollInterval), o.LookupdPollInterval),
            LookupdPollJitter = r.Double(s, p, nameof(o.LookupdPollJitter), o.LookupdPollJitter),
            LowReadyIdleTimeout = r.Duration(s, p, nameof(o.LowReadyIdleTimeout), o.LowReadyIdleTimeout),
            MaxBackoffDuration = r.Duration(s, p, nameof(o.MaxBackoffDuration), o.MaxBackoffDuration),
            BackoffOnRequeue = r.Bool(s, p, nameof(o.BackoffOnRequeue), o.BackoffOnRequeue),
            ReconnectDelay = r.Duration(s, p, nameof(o.ReconnectDelay), o.ReconnectDelay),
            MaxReconnectDelay = r.Duration(s, p, nameof(o.MaxReconnectDelay), o.MaxReconnectDelay),
        };
    }

    /// <summary>
    /// TLS from PEM files: on with <c>Tls:Enabled: true</c> (or when code already set <see cref="NsqdConnectionOptions.Tls"/>),
    /// then <c>TargetHost</c>, <c>TrustedCaCertificatePath</c>, <c>ClientCertificatePath</c>/<c>ClientKeyPath</c>,
    /// <c>CheckCertificateRevocation</c>, <c>EnabledSslProtocols</c>.
    /// </summary>
    private static NsqTlsOptions? BindTls(Reader r, IConfigurationSection s, NsqTlsOptions? tls)
    {
        if (!s.Exists())
        {
            return tls;
        }

        var p = s.Path;
        var enabled = r.Bool(s, p, nameof(NsqTlsOptions.Enabled), tls?.Enabled ?? false);
        if (!enabled)
        {
            return tls is null ? null : tls with { Enabled = false };
        }

        tls ??= new NsqTlsOptions();
        var authorities = tls.TrustedCertificateAuthorities;
        var client = tls.ClientCertificate;
        try
        {
            if (s["TrustedCaCertificatePath"] is { Length: > 0 } ca)
            {
                authorities = [];
                authorities.ImportFromPemFile(ca);
            }
        }
        catch (Exception ex) when (ex is IOException or System.Security.Cryptography.CryptographicException or UnauthorizedAccessException)
        {
            r.Problem($"{p}:TrustedCaCertificatePath: cannot read the certificate file: {ex.Message}");
        }

        try
        {
            if (s["ClientCertificatePath"] is { Length: > 0 } certificate)
            {
                client = X509Certificate2.CreateFromPemFile(certificate, s["ClientKeyPath"] is { Length: > 0 } key ? key : null);
            }
        }
        catch (Exception ex) when (ex is IOException or System.Security.Cryptography.CryptographicException or UnauthorizedAccessException)
        {
            r.Problem($"{p}:ClientCertificatePath: cannot read the certificate or its key: {ex.Message}");
        }

        return tls with
        {
            Enabled = true,
            TargetHost = r.String(s, nameof(tls.TargetHost), tls.TargetHost),
            TrustedCertificateAuthorities = authorities,
            ClientCertificate = client,
            CheckCertificateRevocation = r.Bool(s, p, nameof(tls.CheckCertificateRevocation), tls.CheckCertificateRevocation),
            EnabledSslProtocols = r.Enum(s, p, nameof(tls.EnabledSslProtocols), tls.EnabledSslProtocols),
        };
    }

    /// <summary>A list section (<c>Key:0</c>, <c>Key:1</c>, ...) replaces the list, as the configuration binder does for arrays given in full.</summary>
    private static void BindList(IConfigurationSection section, List<string> target)
    {
        var values = section.GetChildren().Where(c => c.Value is not null).Select(c => c.Value!).ToList();
        if (values.Count > 0)
        {
            target.Clear();
            target.AddRange(values);
        }
    }

    /// <summary>Reads one value per call; a value that does not parse keeps the current one and is recorded as a problem with its key.</summary>
    internal sealed class Reader(List<string> problems)
    {
        public void Problem(string text) => problems.Add(text);

        public string? String(IConfiguration s, string key, string? current) => s[key] ?? current;

        public bool Bool(IConfiguration s, string path, string key, bool current) =>
            Parse(s, path, key, current, "true or false", static v => bool.TryParse(v, out var b) ? b : null);

        public int Int(IConfiguration s, string path, string key, int current) =>
            Parse(s, path, key, current, "a whole number", static v => int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) ? i : null);

        public int? Int(IConfiguration s, string path, string key, int? current) =>
            s[key] is null ? current : Int(s, path, key, current ?? 0);

        public long Long(IConfiguration s, string path, string key, long current) =>
            Parse(s, path, key, current, "a whole number", static v => long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) ? l : null);

        public double Double(IConfiguration s, string path, string key, double current) =>
            Parse(s, path, key, current, "a number", static v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : null);

        public TimeSpan Duration(IConfiguration s, string path, string key, TimeSpan current) =>
            Parse(s, path, key, current, "a duration such as \"00:00:05\" or \"00:00:00.250\"", static v => TimeSpan.TryParse(v, CultureInfo.InvariantCulture, out var t) ? t : null);

        public TimeSpan? Duration(IConfiguration s, string path, string key, TimeSpan? current) =>
            s[key] is null ? current : Duration(s, path, key, current ?? TimeSpan.Zero);

        public TEnum Enum<TEnum>(IConfiguration s, string path, string key, TEnum current)
            where TEnum : struct, Enum =>
            Parse(s, path, key, current, "one of " + string.Join(", ", System.Enum.GetNames<TEnum>()), static v => System.Enum.TryParse<TEnum>(v, ignoreCase: true, out var e) ? e : null);

        private T Parse<T>(IConfiguration s, string path, string key, T current, string expected, Func<string, T?> parse)
            where T : struct
        {
            if (s[key] is not { } text)
            {
                return current;
            }

            if (parse(text.Trim()) is { } value)
            {
                return value;
            }

            problems.Add($"{path}:{key}: '{text}' is not {expected}.");
            return current;
        }
    }
}
