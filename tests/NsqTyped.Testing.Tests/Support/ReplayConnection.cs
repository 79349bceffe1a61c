using System.IO.Compression;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Snappier;

namespace NsqTyped.Testing.Tests.Support;

/// <summary>
/// A raw client connection for fixture replay. Each layer (socket, TLS, decompression) has a pump
/// task copying what it decodes into a <see cref="ByteQueue"/>; the next layer reads from that
/// queue, so bytes that arrived before a layer switch are never lost. The test reads frames from
/// the top queue.
/// </summary>
internal sealed class ReplayConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _network;
    private readonly List<Stream> _layers = [];
    private bool _flushWrites;

    private ReplayConnection(Socket socket)
    {
        _socket = socket;
        _network = new NetworkStream(socket, ownsSocket: false);
        Raw = new ByteQueue();
        Top = Raw;
        Write = _network;
        _ = PumpAsync(_network, Raw);
    }

    /// <summary>Bytes as received on the socket.</summary>
    public ByteQueue Raw { get; }

    /// <summary>Decoded bytes of the current top layer.</summary>
    public ByteQueue Top { get; private set; }

    /// <summary>Where sends go (the top of the write stack).</summary>
    public Stream Write { get; private set; }

    /// <summary>Whether the connection ended at any layer.</summary>
    public bool IsClosed => Raw.IsEnded || Top.IsEnded;

    public static async Task<ReplayConnection> ConnectAsync(IPEndPoint endPoint, CancellationToken cancellationToken)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
        return new ReplayConnection(socket);
    }

    public async Task SendAsync(byte[] bytes, CancellationToken cancellationToken)
    {
        await Write.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        if (_flushWrites)
        {
            await Write.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>TLS handshake over what the server sends next; returns the first bytes the server sent in it.</summary>
    public async Task<byte[]> StartTlsAsync(X509Certificate2? clientCertificate, CancellationToken cancellationToken)
    {
        byte[] first = [];
        var inner = Top.AsStream(Write, bytes => first = bytes);
        var ssl = new SslStream(inner, leaveInnerStreamOpen: false);
        _layers.Add(ssl);
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            RemoteCertificateValidationCallback = static (_, certificate, _, _) =>
                certificate is not null && certificate.GetCertHashString() == TestCertificates.Server.GetCertHashString(),
            LocalCertificateSelectionCallback = clientCertificate is null ? null : (_, _, _, _, _) => clientCertificate,
            ClientCertificates = clientCertificate is null ? null : [clientCertificate],
        };
        await ssl.AuthenticateAsClientAsync(options, cancellationToken).ConfigureAwait(false);
        var decrypted = new ByteQueue();
        _ = PumpAsync(ssl, decrypted);
        Top = decrypted;
        Write = ssl;
        return first;
    }

    /// <summary>From now on both directions are Snappy-framed or raw-Deflate-compressed.</summary>
    public void StartCompression(string compression)
    {
        var inner = Top.AsStream(null);
        Stream read;
        if (compression == "snappy")
        {
            read = new SnappyStream(inner, CompressionMode.Decompress);
            Write = new SnappyStream(Write, CompressionMode.Compress, leaveOpen: true);
        }
        else if (compression == "deflate")
        {
            read = new DeflateStream(inner, CompressionMode.Decompress);
            Write = new DeflateStream(Write, CompressionLevel.Fastest, leaveOpen: true);
        }
        else
        {
            throw new NotSupportedException($"Compression '{compression}' is not known.");
        }

        _layers.Add(read);
        _layers.Add(Write);
        _flushWrites = true;
        var decoded = new ByteQueue();
        _ = PumpAsync(read, decoded);
        Top = decoded;
    }

    private static async Task PumpAsync(Stream source, ByteQueue target)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var n = await source.ReadAsync(buffer).ConfigureAwait(false);
                if (n == 0)
                {
                    target.End("eof");
                    return;
                }

                target.Append(buffer.AsSpan(0, n));
            }
        }
        catch (Exception ex)
        {
            target.End(ex is IOException or SocketException ? "reset" : ex.GetType().Name + ": " + ex.Message);
        }
    }

    public void Close()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }

        _socket.Close();
    }

    public async ValueTask DisposeAsync()
    {
        Close();
        foreach (var layer in _layers)
        {
            try
            {
                await layer.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException or NotSupportedException)
            {
            }
        }

        await _network.DisposeAsync().ConfigureAwait(false);
        _socket.Dispose();
    }
}
