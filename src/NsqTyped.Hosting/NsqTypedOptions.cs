namespace NsqTyped.Hosting;

/// <summary>
/// Settings of <see cref="Microsoft.Extensions.DependencyInjection.NsqTypedServiceCollectionExtensions.AddNsqTyped(Microsoft.Extensions.DependencyInjection.IServiceCollection, Action{NsqTypedOptions}?)"/>,
/// bound from the <c>"Nsq"</c> configuration section and validated when the host starts.
/// </summary>
/// <remarks>
/// Every property is optional and plain (strings, numbers, <see cref="TimeSpan"/>s as <c>"00:00:05"</c>), so the
/// whole object binds from <c>appsettings.json</c> or environment variables (<c>Nsq__NsqdTcpAddresses__0=...</c>).
/// A property left <see langword="null"/> keeps the default of the corresponding NsqTyped options record
/// (<see cref="NsqdConnectionOptions"/>, <see cref="NsqProducerOptions"/>, <see cref="NsqReaderOptions"/>); see
/// <c>docs/configuration.md</c> for every key and its default.
/// </remarks>
/// <example>
/// <code>
/// {
///   "Nsq": {
///     "NsqdTcpAddresses": [ "127.0.0.1:4150" ],
///     "LookupdHttpAddresses": [ "http://127.0.0.1:4161" ],
///     "Consumer": { "MaxInFlight": 50 },
///     "Consumers": { "orders.created/billing": { "MaxInFlight": 200 } }
///   }
/// }
/// </code>
/// </example>
public sealed class NsqTypedOptions
{
    /// <summary>The configuration section <c>AddNsqTyped(IConfiguration)</c> reads when given the root: <c>"Nsq"</c>.</summary>
    public const string SectionName = "Nsq";

    /// <summary>
    /// nsqd TCP addresses (<c>host:port</c>). The producer publishes to these; consumers connect to them
    /// directly when <see cref="LookupdHttpAddresses"/> is empty.
    /// </summary>
    public List<string> NsqdTcpAddresses { get; set; } = [];

    /// <summary>
    /// nsqlookupd HTTP addresses (<c>http://host:4161</c>). When any is given, consumers discover the nsqd
    /// that have their topic through them instead of connecting to <see cref="NsqdTcpAddresses"/>.
    /// </summary>
    public List<string> LookupdHttpAddresses { get; set; } = [];

    /// <summary>Settings of every nsqd connection (producer and consumers).</summary>
    public NsqTypedConnectionSettings Connection { get; set; } = new();

    /// <summary>Settings of the producer registered as <see cref="INsqPublisher"/>.</summary>
    public NsqTypedProducerSettings Producer { get; set; } = new();

    /// <summary>Defaults of every hosted consumer (one <see cref="NsqReader"/> per generated handler).</summary>
    public NsqTypedConsumerSettings Consumer { get; set; } = new();

    /// <summary>
    /// Per-handler overrides of <see cref="Consumer"/>, keyed by <c>"topic/channel"</c>
    /// (e.g. <c>"orders.created/billing"</c>). A key that names no registered handler fails validation.
    /// </summary>
    public Dictionary<string, NsqTypedConsumerSettings> Consumers { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Whether the host runs the registered handlers. Default <see langword="true"/>; <see langword="false"/>
    /// for a process that only publishes although its assembly declares handlers.
    /// </summary>
    public bool ConsumersEnabled { get; set; } = true;
}

/// <summary>Connection settings (<see cref="NsqdConnectionOptions"/>); <see langword="null"/> keeps that record's default.</summary>
public sealed class NsqTypedConnectionSettings
{
    /// <summary><see cref="NsqdConnectionOptions.ClientId"/>. Default: the short host name.</summary>
    public string? ClientId { get; set; }

    /// <summary><see cref="NsqdConnectionOptions.Hostname"/>. Default: the host name.</summary>
    public string? Hostname { get; set; }

    /// <summary><see cref="NsqdConnectionOptions.UserAgent"/>. Default: <c>nsqtyped/&lt;version&gt;</c>.</summary>
    public string? UserAgent { get; set; }

    /// <summary><see cref="NsqdConnectionOptions.HeartbeatInterval"/>. Default 30 s.</summary>
    public TimeSpan? HeartbeatInterval { get; set; }

    /// <summary><see cref="NsqdConnectionOptions.OutputBufferSize"/>. Default: nsqd's (16 KiB).</summary>
    public int? OutputBufferSize { get; set; }

    /// <summary><see cref="NsqdConnectionOptions.OutputBufferTimeout"/>. Default: nsqd's (250 ms).</summary>
    public TimeSpan? OutputBufferTimeout { get; set; }

    /// <summary><see cref="NsqdConnectionOptions.Snappy"/>. Default <see langword="false"/>.</summary>
    public bool? Snappy { get; set; }

    /// <summary><see cref="NsqdConnectionOptions.Deflate"/>. Default <see langword="false"/>.</summary>
    public bool? Deflate { get; set; }

    /// <summary><see cref="NsqdConnectionOptions.DeflateLevel"/>. Default 6.</summary>
    public int? DeflateLevel { get; set; }

    /// <summary><see cref="NsqdConnectionOptions.SampleRate"/>. Default 0 (every message).</summary>
    public int? SampleRate { get; set; }

    /// <summary><see cref="NsqdConnectionOptions.MsgTimeout"/>. Default: nsqd's (60 s).</summary>
    public TimeSpan? MsgTimeout { get; set; }

    /// <summary><see cref="NsqdConnectionOptions.AuthSecret"/>. Default none.</summary>
    public string? AuthSecret { get; set; }

    /// <summary><see cref="NsqdConnectionOptions.ConnectTimeout"/>. Default 10 s.</summary>
    public TimeSpan? ConnectTimeout { get; set; }

    /// <summary><see cref="NsqdConnectionOptions.ReadTimeout"/>. Default 60 s.</summary>
    public TimeSpan? ReadTimeout { get; set; }

    /// <summary><see cref="NsqdConnectionOptions.WriteTimeout"/>. Default 10 s.</summary>
    public TimeSpan? WriteTimeout { get; set; }

    /// <summary><see cref="NsqdConnectionOptions.MaxMessageSize"/>. Default 1 MiB.</summary>
    public int? MaxMessageSize { get; set; }

    /// <summary><see cref="NsqdConnectionOptions.MaxBodySize"/>. Default 5 MiB.</summary>
    public int? MaxBodySize { get; set; }

    /// <summary>TLS (<see cref="NsqTlsOptions"/>). Default: no TLS.</summary>
    public NsqTypedTlsSettings Tls { get; set; } = new();
}

/// <summary>TLS settings; certificates are read from PEM files when the options are built.</summary>
public sealed class NsqTypedTlsSettings
{
    /// <summary>Whether to use TLS (<c>tls_v1</c>). Default <see langword="false"/>.</summary>
    public bool Enabled { get; set; }

    /// <summary><see cref="NsqTlsOptions.TargetHost"/>. Default: the host of the address.</summary>
    public string? TargetHost { get; set; }

    /// <summary>A PEM file of certificate authorities trusted instead of the system store. Default none.</summary>
    public string? TrustedCaCertificatePath { get; set; }

    /// <summary>A PEM client certificate (with <see cref="ClientKeyPath"/>) for servers that require one. Default none.</summary>
    public string? ClientCertificatePath { get; set; }

    /// <summary>The PEM private key of <see cref="ClientCertificatePath"/>; <see langword="null"/> when the certificate file holds it.</summary>
    public string? ClientKeyPath { get; set; }

    /// <summary><see cref="NsqTlsOptions.CheckCertificateRevocation"/>. Default <see langword="false"/>.</summary>
    public bool CheckCertificateRevocation { get; set; }
}

/// <summary>Producer settings (<see cref="NsqProducerOptions"/>); <see langword="null"/> keeps that record's default.</summary>
public sealed class NsqTypedProducerSettings
{
    /// <summary>
    /// Whether the host opens the producer's connections when it starts (instead of at the first publish),
    /// so the health check reports them and configuration mistakes show early. Default <see langword="true"/>.
    /// </summary>
    public bool ConnectOnStart { get; set; } = true;

    /// <summary><see cref="NsqProducerOptions.ConnectionsPerNode"/>. Default 1.</summary>
    public int? ConnectionsPerNode { get; set; }

    /// <summary><see cref="NsqProducerOptions.PublishTimeout"/>. Default 10 s.</summary>
    public TimeSpan? PublishTimeout { get; set; }

    /// <summary><see cref="NsqProducerOptions.DisconnectedPolicy"/> (<c>WaitForConnection</c> or <c>FailFast</c>). Default <c>WaitForConnection</c>.</summary>
    public NsqDisconnectedPolicy? DisconnectedPolicy { get; set; }

    /// <summary><see cref="NsqProducerOptions.DisconnectedWaitTimeout"/>. Default 5 s.</summary>
    public TimeSpan? DisconnectedWaitTimeout { get; set; }

    /// <summary><see cref="NsqProducerOptions.ReconnectBaseDelay"/>. Default 200 ms.</summary>
    public TimeSpan? ReconnectBaseDelay { get; set; }

    /// <summary><see cref="NsqProducerOptions.ReconnectMaxDelay"/>. Default 30 s.</summary>
    public TimeSpan? ReconnectMaxDelay { get; set; }
}

/// <summary>Consumer settings (<see cref="NsqReaderOptions"/>); <see langword="null"/> falls back to <see cref="NsqTypedOptions.Consumer"/>, then to that record's default.</summary>
public sealed class NsqTypedConsumerSettings
{
    /// <summary>Whether this handler runs in this host. Default <see langword="true"/>.</summary>
    public bool? Enabled { get; set; }

    /// <summary><see cref="NsqReaderOptions.MaxTries"/>. Default 5 (0 = unlimited).</summary>
    public int? MaxTries { get; set; }

    /// <summary><see cref="NsqReaderOptions.MaxInFlight"/>. Default 1.</summary>
    public int? MaxInFlight { get; set; }

    /// <summary><see cref="NsqReaderOptions.MaxConcurrency"/>. Default 0 (one handler per connection); -1 = CPU count.</summary>
    public int? MaxConcurrency { get; set; }

    /// <summary><see cref="NsqReaderOptions.RequeueDelay"/>. Default 0.</summary>
    public TimeSpan? RequeueDelay { get; set; }

    /// <summary><see cref="NsqReaderOptions.LookupdPollInterval"/>. Default 60 s.</summary>
    public TimeSpan? LookupdPollInterval { get; set; }

    /// <summary><see cref="NsqReaderOptions.LookupdPollJitter"/>. Default 0.3.</summary>
    public double? LookupdPollJitter { get; set; }

    /// <summary><see cref="NsqReaderOptions.LowReadyIdleTimeout"/>. Default 10 s.</summary>
    public TimeSpan? LowReadyIdleTimeout { get; set; }

    /// <summary><see cref="NsqReaderOptions.MaxBackoffDuration"/>. Default 128 s (0 = no backoff).</summary>
    public TimeSpan? MaxBackoffDuration { get; set; }

    /// <summary><see cref="NsqReaderOptions.BackoffOnRequeue"/>. Default <see langword="true"/>.</summary>
    public bool? BackoffOnRequeue { get; set; }

    /// <summary><see cref="NsqReaderOptions.ReconnectDelay"/>. Default 1 s.</summary>
    public TimeSpan? ReconnectDelay { get; set; }

    /// <summary><see cref="NsqReaderOptions.MaxReconnectDelay"/>. Default 60 s.</summary>
    public TimeSpan? MaxReconnectDelay { get; set; }
}
