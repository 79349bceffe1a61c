using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace NsqTyped.Testing.Lookupd;

/// <summary>Go-style <c>host:port</c> addresses as NSQ's flags take them (<c>127.0.0.1:4160</c>, <c>[::1]:4160</c>, <c>:4160</c>).</summary>
internal static class HostPort
{
    /// <summary>Splits <c>host:port</c> like Go's <c>net.SplitHostPort</c> and checks the port range.</summary>
    /// <exception cref="ArgumentException">Not a <c>host:port</c> pair, or the port is outside 0..65535.</exception>
    public static (string Host, int Port) Parse(string address, string paramName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address, paramName);
        var colon = address.LastIndexOf(':');
        if (colon < 0)
        {
            throw new ArgumentException($"'{address}' is not a host:port address.", paramName);
        }

        var host = address[..colon];
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }
        else if (host.Contains(':'))
        {
            throw new ArgumentException($"'{address}' is not a host:port address (IPv6 hosts need brackets).", paramName);
        }

        if (!int.TryParse(address.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > IPEndPoint.MaxPort)
        {
            throw new ArgumentException($"'{address}' has no valid port (0..65535).", paramName);
        }

        return (host, port);
    }

    /// <summary>The endpoint a listener binds for <paramref name="address"/>; an empty host means every interface, as in Go.</summary>
    public static IPEndPoint ResolveListenEndPoint(string address, string paramName)
    {
        var (host, port) = Parse(address, paramName);
        if (host.Length == 0)
        {
            return new IPEndPoint(IPAddress.Any, port);
        }

        if (IPAddress.TryParse(host, out var ip))
        {
            return new IPEndPoint(ip, port);
        }

        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return new IPEndPoint(IPAddress.Loopback, port);
        }

        var addresses = Dns.GetHostAddresses(host);
        var chosen = Array.Find(addresses, a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
            ?? throw new ArgumentException($"'{host}' does not resolve to an address.", paramName);
        return new IPEndPoint(chosen, port);
    }

    /// <summary>Formats an endpoint as Go prints a <c>net.Addr</c>: <c>127.0.0.1:4160</c> or <c>[::1]:4160</c>.</summary>
    public static string Format(IPEndPoint endPoint) =>
        endPoint.AddressFamily == AddressFamily.InterNetworkV6
            ? "[" + endPoint.Address + "]:" + endPoint.Port.ToString(CultureInfo.InvariantCulture)
            : endPoint.Address + ":" + endPoint.Port.ToString(CultureInfo.InvariantCulture);

    /// <summary>The remote address of a socket in Go's format, or an empty string when unknown.</summary>
    public static string FormatRemote(Socket socket) => socket.RemoteEndPoint is IPEndPoint remote
        ? Format(remote.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(remote.Address.MapToIPv4(), remote.Port) : remote)
        : string.Empty;
}
