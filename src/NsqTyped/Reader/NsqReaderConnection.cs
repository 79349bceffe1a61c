using NsqTyped.Protocol;

namespace NsqTyped;

/// <summary>
/// A read-only view of one of an <see cref="NsqReader"/>'s connections (gnsq <c>connections</c>): what it
/// is connected to and how busy it is. The Reader alone decides its RDY count and subscription, so the
/// view offers no commands.
/// </summary>
public sealed class NsqReaderConnection
{
    private readonly NsqdConnection _connection;

    internal NsqReaderConnection(NsqdConnection connection) => _connection = connection;

    /// <summary>The connection behind the view (tests cut it from the client side).</summary>
    internal NsqdConnection Connection => _connection;

    /// <summary>nsqd's address as <c>host:port</c>.</summary>
    public string Address => _connection.Address;

    /// <summary>Whether the connection is open.</summary>
    public bool IsConnected => _connection.IsConnected;

    /// <summary>The settings nsqd negotiated in IDENTIFY (max RDY, message timeout, granted upgrades).</summary>
    public NsqIdentifyResponse? Settings => _connection.Settings;

    /// <summary>The identity AUTH returned; <see langword="null"/> when the server required no AUTH.</summary>
    public NsqAuthResponse? Identity => _connection.Identity;

    /// <summary>Messages delivered on this connection and not yet answered (expired ones excluded).</summary>
    public int InFlightCount => _connection.InFlightCount;

    /// <summary>The RDY count the Reader last sent on this connection.</summary>
    public long ReadyCount => _connection.LastReadyCount;

    /// <summary>At least 85 % of the RDY count is in flight (gnsq <c>is_starved</c> for one connection).</summary>
    public bool IsStarved => _connection.IsStarved;

    /// <inheritdoc />
    public override string ToString() => Address;
}
