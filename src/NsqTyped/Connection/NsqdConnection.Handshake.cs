using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using NsqTyped.Internal;
using NsqTyped.Protocol;
using Snappier;

namespace NsqTyped;

public sealed partial class NsqdConnection
{
    // IDENTIFY and AUTH responses are small JSON documents; anything bigger is not nsqd.
    private const int MaxHandshakeFrameSize = 64 * 1024;

    private async Task HandshakeAsync(CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _lifetime.Token);
        deadline.CancelAfter(Options.ConnectTimeout);
        var token = deadline.Token;
        try
        {
            await HandshakeCoreAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException($"Connecting to nsqd {Address} was canceled.", cancellationToken);
        }
        catch (OperationCanceledException ex) when (!_lifetime.IsCancellationRequested)
        {
            throw new NsqTimeoutException($"Connecting to nsqd {Address} did not complete within {Options.ConnectTimeout.TotalMilliseconds:0} ms.", ex);
        }
        catch (OperationCanceledException ex)
        {
            throw new NsqConnectionException($"The connection to nsqd {Address} was closed while connecting.", ex);
        }
        catch (Exception ex) when (ex is SocketException or IOException or ObjectDisposedException or System.Security.Authentication.AuthenticationException)
        {
            throw new NsqConnectionException($"Connecting to nsqd {Address} failed: {ex.Message}", ex);
        }
    }

    private async Task HandshakeCoreAsync(CancellationToken token)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        _socket = socket;
        await socket.ConnectAsync(_endpoint.Host, _endpoint.Port, token).ConfigureAwait(false);
        Stream stream = new NetworkStream(socket, ownsSocket: true);
        _transport = stream;

        var request = Options.ToIdentifyRequest();
        var buffer = new ArrayBufferWriter<byte>(512);
        NsqCommandWriter.WriteMagic(buffer);
        NsqCommandWriter.WriteIdentify(buffer, request);
        await stream.WriteAsync(buffer.WrittenMemory, token).ConfigureAwait(false);

        var identify = await ReadHandshakeResponseAsync(stream, "IDENTIFY", token).ConfigureAwait(false);
        var settings = identify.AsSpan().SequenceEqual("OK"u8) ? new NsqIdentifyResponse() : NsqIdentifyResponse.Parse(identify);
        Settings = settings;

        if (Options.Tls is { Enabled: true } tls)
        {
            if (!settings.TlsV1)
            {
                throw new NsqConnectionException(
                    $"TLS was requested but nsqd {Address} did not agree to it (is it started with --tls-cert and --tls-key?); refusing to continue in plain text.");
            }

            var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
            _transport = ssl;
            await ssl.AuthenticateAsClientAsync(CreateSslOptions(tls), token).ConfigureAwait(false);
            stream = ssl;
            await ExpectOkAsync(stream, "the TLS upgrade", token).ConfigureAwait(false);
        }

        Stream readStream = stream;
        Stream writeStream = stream;
        // Only what was asked for: nsqd grants nothing unrequested, and a stray flag must not desynchronise the stream.
        if (Options.Snappy && settings.Snappy)
        {
            readStream = new SnappyStream(stream, CompressionMode.Decompress, leaveOpen: true);
            writeStream = new SnappyStream(stream, CompressionMode.Compress, leaveOpen: true);
            _readStream = readStream;
            _writeStream = writeStream;
            await ExpectOkAsync(readStream, "the Snappy upgrade", token).ConfigureAwait(false);
        }
        else if (Options.Deflate && settings.Deflate)
        {
            var level = settings.DeflateLevel is >= 1 and <= 9 ? settings.DeflateLevel : Options.DeflateLevel;
            readStream = new DeflateStream(stream, CompressionMode.Decompress, leaveOpen: true);
            writeStream = new DeflateStream(stream, new ZLibCompressionOptions { CompressionLevel = level }, leaveOpen: true);
            _readStream = readStream;
            _writeStream = writeStream;
            await ExpectOkAsync(readStream, "the Deflate upgrade", token).ConfigureAwait(false);
        }
        else
        {
            _readStream = readStream;
            _writeStream = writeStream;
        }

        if (Options.Snappy && !settings.Snappy)
        {
            Log.FeatureDeclined(_logger, Address, "snappy");
        }

        if (Options.Deflate && !settings.Deflate)
        {
            Log.FeatureDeclined(_logger, Address, "deflate");
        }

        var granted = settings with
        {
            TlsV1 = settings.TlsV1 && Options.Tls is { Enabled: true },
            Snappy = Options.Snappy && settings.Snappy,
            Deflate = Options.Deflate && settings.Deflate,
        };
        Settings = granted;

        if (settings.AuthRequired)
        {
            if (Options.AuthSecret is null)
            {
                throw new NsqConnectionException($"nsqd {Address} requires AUTH but no AuthSecret is configured.");
            }

            buffer.ResetWrittenCount();
            NsqCommandWriter.WriteAuth(buffer, Encoding.UTF8.GetBytes(Options.AuthSecret));
            await writeStream.WriteAsync(buffer.WrittenMemory, token).ConfigureAwait(false);
            await writeStream.FlushAsync(token).ConfigureAwait(false);
            var auth = NsqAuthResponse.Parse(await ReadHandshakeResponseAsync(readStream, "AUTH", token).ConfigureAwait(false));
            Identity = auth;
            Log.Authenticated(_logger, Address, auth.Identity, auth.PermissionCount);
            RaiseEvent(new NsqAuthenticatedEventArgs(auth));
        }
    }

    private SslClientAuthenticationOptions CreateSslOptions(NsqTlsOptions tls)
    {
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = tls.TargetHost ?? _endpoint.Host,
            EnabledSslProtocols = tls.EnabledSslProtocols,
            CertificateRevocationCheckMode = tls.CheckCertificateRevocation ? X509RevocationMode.Online : X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = tls.RemoteCertificateValidationCallback,
        };

        if (tls.TrustedCertificateAuthorities is { Count: > 0 } authorities)
        {
            var policy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = options.CertificateRevocationCheckMode,
            };
            policy.CustomTrustStore.AddRange(authorities);
            options.CertificateChainPolicy = policy;
        }

        if (tls.ClientCertificate is { } certificate)
        {
            options.ClientCertificates = [certificate];
            options.LocalCertificateSelectionCallback = (_, _, _, _, _) => certificate;
        }

        return options;
    }

    private async Task ExpectOkAsync(Stream stream, string step, CancellationToken token)
    {
        var data = await ReadHandshakeResponseAsync(stream, step, token).ConfigureAwait(false);
        if (!data.AsSpan().SequenceEqual("OK"u8))
        {
            throw new NsqProtocolException($"nsqd {Address} answered {step} with '{Encoding.UTF8.GetString(data)}' instead of OK.");
        }
    }

    /// <summary>
    /// Reads one response frame byte-exactly (size, then exactly that many bytes) so nothing past it is
    /// consumed: the next bytes may belong to a TLS or compression layer that is not in place yet.
    /// </summary>
    private async Task<byte[]> ReadHandshakeResponseAsync(Stream stream, string step, CancellationToken token)
    {
        var header = new byte[8];
        while (true)
        {
            try
            {
                await stream.ReadExactlyAsync(header.AsMemory(0, 4), token).ConfigureAwait(false);
            }
            catch (EndOfStreamException ex)
            {
                throw new NsqConnectionException($"nsqd {Address} closed the connection during {step}.", ex);
            }

            var size = BinaryPrimitives.ReadInt32BigEndian(header);
            if (size is < 4 or > MaxHandshakeFrameSize)
            {
                throw new NsqProtocolException($"nsqd {Address} sent a frame of size {size} during {step}.");
            }

            var frame = new byte[size];
            try
            {
                await stream.ReadExactlyAsync(frame, token).ConfigureAwait(false);
            }
            catch (EndOfStreamException ex)
            {
                throw new NsqConnectionException($"nsqd {Address} closed the connection during {step}.", ex);
            }

            var type = BinaryPrimitives.ReadInt32BigEndian(frame);
            var data = frame.AsSpan(4);
            switch (type)
            {
                case (int)NsqFrameType.Response when data.SequenceEqual("_heartbeat_"u8):
                    // Heartbeats can race the handshake; the read loop answers the next ones.
                    continue;
                case (int)NsqFrameType.Response:
                    return data.ToArray();
                case (int)NsqFrameType.Error:
                    throw NsqErrors.ToException(data);
                default:
                    throw new NsqProtocolException($"nsqd {Address} sent a frame of type {type} during {step}.");
            }
        }
    }
}
