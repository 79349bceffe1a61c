namespace NsqTyped.Hosting;

/// <summary>
/// Settings of <see cref="Microsoft.Extensions.DependencyInjection.NsqTypedServiceCollectionExtensions.AddNsqTyped(Microsoft.Extensions.DependencyInjection.IServiceCollection, Action{NsqTypedOptions}?)"/>,
/// bound from the <c>"Nsq"</c> configuration section and validated when the host starts.
/// </summary>
/// <remarks>
/// The groups are the library's own option records (<see cref="NsqdConnectionOptions"/>, <see cref="NsqProducerOptions"/>,
/// <see cref="NsqReaderOptions"/>): configuration keys are their property names and an absent key keeps the record's
/// default, so every option and its default live in one place. Change them in code with <c>with</c>:
/// <c>o =&gt; o.Consumer = o.Consumer with { MaxInFlight = 50 }</c>. See <c>docs/configuration.md</c> for every key.
/// </remarks>
/// <example>
/// <code>
/// {
///   "Nsq": {
///     "NsqdTcpAddresses": [ "127.0.0.1:4150" ],
///     "LookupdHttpAddresses": [ "http://127.0.0.1:4161" ],
///     "Consumer": { "MaxInFlight": 50, "DeadLetterTopic": "dead-letters" },
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

    /// <summary>Settings of every nsqd connection (producer and consumers); they replace the <c>Connection</c> of <see cref="Producer"/> and <see cref="Consumer"/>.</summary>
    public NsqdConnectionOptions Connection { get; set; } = NsqdConnectionOptions.Default;

    /// <summary>Settings of the producer registered as <see cref="INsqPublisher"/> (its <c>Connection</c> is <see cref="Connection"/>).</summary>
    public NsqProducerOptions Producer { get; set; } = NsqProducerOptions.Default;

    /// <summary>
    /// Whether the host opens the producer's connections when it starts (instead of at the first publish), so the
    /// health check reports them and configuration mistakes show early. Default <see langword="true"/>.
    /// Configuration key <c>Nsq:Producer:ConnectOnStart</c>.
    /// </summary>
    public bool ConnectProducerOnStart { get; set; } = true;

    /// <summary>
    /// Defaults of every hosted consumer (one <see cref="NsqReader"/> per generated handler). Topic and channel come from
    /// the handler, addresses from <see cref="NsqdTcpAddresses"/>/<see cref="LookupdHttpAddresses"/>, the connection from
    /// <see cref="Connection"/>.
    /// </summary>
    public NsqReaderOptions Consumer { get; set; } = NsqReaderOptions.Default;

    /// <summary>
    /// Per-handler options used instead of <see cref="Consumer"/>, keyed by <c>"topic/channel"</c> (e.g.
    /// <c>"orders.created/billing"</c>). An entry bound from configuration starts from <see cref="Consumer"/> as
    /// configured, so a key it does not set keeps that value. A key that names no registered handler fails validation.
    /// </summary>
    public Dictionary<string, NsqReaderOptions> Consumers { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Whether the host runs the registered handlers. Default <see langword="true"/>; <see langword="false"/>
    /// for a process that only publishes although its assembly declares handlers (also set by <c>Nsq:Consumer:Enabled: false</c>).
    /// </summary>
    public bool ConsumersEnabled { get; set; } = true;

    /// <summary>
    /// <c>"topic/channel"</c> keys of handlers this host does not run (configuration: <c>Nsq:Consumers:{key}:Enabled: false</c>).
    /// A key that names no registered handler fails validation.
    /// </summary>
    public HashSet<string> DisabledConsumers { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Values the configuration held that could not be read (not a number, not a duration, an unreadable certificate file), with their keys; reported by validation.</summary>
    internal List<string> BindingProblems { get; } = [];
}
