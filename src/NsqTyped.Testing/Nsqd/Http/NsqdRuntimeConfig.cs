namespace NsqTyped.Testing.Nsqd.Http;

/// <summary>
/// The nsqd options that can change while the server runs (<c>PUT /config/nsqlookupd_tcp_addresses</c>,
/// <c>PUT /config/log_level</c>), shared by the HTTP API and the nsqlookupd registration. nsqd swaps
/// its options and signals its lookup loop (<c>triggerOptsNotification</c>); here the registration
/// subscribes to <see cref="LookupdTcpAddressesChanged"/> and reconnects to the new set.
/// </summary>
internal sealed class NsqdRuntimeConfig
{
    private readonly object _lock = new();
    private IReadOnlyList<string>? _lookupdTcpAddresses;
    private int _logLevel = LogLevelInfo;

    /// <summary>nsqd's <c>lg.INFO</c> (the default).</summary>
    public const int LogLevelInfo = 2;

    public NsqdRuntimeConfig(IReadOnlyList<string> lookupdTcpAddresses)
    {
        _lookupdTcpAddresses = [.. lookupdTcpAddresses];
    }

    /// <summary>
    /// Raised (outside any lock, on the thread that made the change) with the new list after a PUT.
    /// The list is <see langword="null"/> when the PUT body was JSON <c>null</c> (nsqd then reports <c>null</c>
    /// and registers with no lookupd).
    /// </summary>
    public event Action<IReadOnlyList<string>?>? LookupdTcpAddressesChanged;

    /// <summary>The nsqlookupd TCP addresses nsqd registers with now.</summary>
    public IReadOnlyList<string>? LookupdTcpAddresses
    {
        get
        {
            lock (_lock)
            {
                return _lookupdTcpAddresses;
            }
        }
    }

    /// <summary>nsqd's numeric log level (1 debug, 2 info, 3 warn, 4 error, 5 fatal).</summary>
    public int LogLevel
    {
        get => Volatile.Read(ref _logLevel);
        set => Volatile.Write(ref _logLevel, value);
    }

    /// <summary>Replaces the lookupd addresses and notifies the registration.</summary>
    public void SetLookupdTcpAddresses(IReadOnlyList<string>? addresses)
    {
        lock (_lock)
        {
            _lookupdTcpAddresses = addresses is null ? null : [.. addresses];
        }

        LookupdTcpAddressesChanged?.Invoke(addresses);
    }
}
