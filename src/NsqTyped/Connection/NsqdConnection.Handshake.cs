using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
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
        catch (Exception ex) when (ex is SocketException or IOException or ObjectDisposedException or AuthenticationException)
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
        ValidateNegotiated(settings);
        Settings = settings;

        if (Options.Tls is { Enabled: true } tls)
        {
            if (!settings.TlsV1)
            {
                throw new NsqHandshakeRefusedException(
                    $"TLS was requested but nsqd {Address} did not agree to it (is it started with --tls-cert and --tls-key?); refusing to continue in plain text.");
            }

            var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
            _transport = ssl;
            var validation = new TlsValidation();
            try
            {
                await ssl.AuthenticateAsClientAsync(CreateSslOptions(tls, validation), token).ConfigureAwait(false);
                stream = ssl;

                // With TLS 1.3 nsqd checks the client certificate after the client finished its side: a refusal
                // surfaces on this first read.
                await ExpectOkAsync(stream, "the TLS upgrade", token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is AuthenticationException or IOException or NsqServerException { Code: NsqErrorCode.IdentifyFailed } && !token.IsCancellationRequested)
            {
                throw TlsRefusal(tls, validation, ex);
            }
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
                throw new NsqHandshakeRefusedException($"nsqd {Address} requires AUTH but no AuthSecret is configured.");
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

    /// <summary>
    /// The values the client acts on must make sense: a server answering <c>"max_rdy_count": -1</c> (or
    /// 0, which allows no message at all) is not an nsqd to consume from, and the connection closes with
    /// a protocol exception (a Reader then reconnects with backoff).
    /// </summary>
    private void ValidateNegotiated(NsqIdentifyResponse settings)
    {
        string? problem = settings switch
        {
            { MaxRdyCount: < 1 } => $"max_rdy_count {settings.MaxRdyCount} (it must be at least 1)",
            { MsgTimeout: < 0 } => $"msg_timeout {settings.MsgTimeout} (it must not be negative)",
            { MaxMsgTimeout: < 0 } => $"max_msg_timeout {settings.MaxMsgTimeout} (it must not be negative)",
            { SampleRate: < 0 or > 99 } => $"sample_rate {settings.SampleRate} (it is 0 to 99)",
            { OutputBufferSize: < -1 } => $"output_buffer_size {settings.OutputBufferSize} (-1 disables it; nothing lower exists)",
            { OutputBufferTimeout: < -1 } => $"output_buffer_timeout {settings.OutputBufferTimeout} (-1 disables it; nothing lower exists)",
            _ => null,
        };

        if (problem is not null)
        {
            throw new NsqProtocolException($"nsqd {Address} negotiated an impossible {problem} in its IDENTIFY response; closing the connection.");
        }
    }

    private SslClientAuthenticationOptions CreateSslOptions(NsqTlsOptions tls, TlsValidation validation)
    {
        var custom = tls.RemoteCertificateValidationCallback;
        var options = tls.CreateSslClientOptions();
        options.TargetHost = tls.TargetHost ?? _endpoint.Host;

        // The standard rule (or the application's callback), recording why a certificate was refused.
        options.RemoteCertificateValidationCallback = (sender, certificate, chain, errors) =>
        {
            validation.Ran = true;
            validation.Errors = errors;
            validation.ChainStatus = chain is null ? "" : string.Join(", ", chain.ChainStatus.Select(s => s.Status).Where(s => s != X509ChainStatusFlags.NoError).Distinct());
            validation.Rejected = !(custom?.Invoke(sender, certificate, chain, errors) ?? errors == SslPolicyErrors.None);
            validation.ByCallback = custom is not null;
            return !validation.Rejected;
        };
        return options;
    }

    /// <summary>The TLS handshake failed: says which side refused what, from the validation record and the TLS alert.</summary>
    private NsqConnectionException TlsRefusal(NsqTlsOptions tls, TlsValidation validation, Exception error)
    {
        var host = tls.TargetHost ?? _endpoint.Host;
        string cause;
        if (validation.Rejected && validation.ByCallback)
        {
            cause = $"the server certificate was rejected by NsqTlsOptions.RemoteCertificateValidationCallback (policy errors: {validation.Errors})";
        }
        else if (validation.Rejected && validation.Errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            cause = "nsqd presented no server certificate";
        }
        else if (validation.Rejected && validation.Errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            cause = $"name mismatch: the server certificate is not issued for '{host}' (set NsqTlsOptions.TargetHost to a name the certificate lists)";
        }
        else if (validation.Rejected)
        {
            cause = $"unknown CA: the server certificate does not chain to a trusted authority ({validation.ChainStatus}); add its CA to NsqTlsOptions.TrustedCertificateAuthorities";
        }
        else if (AlertIn(error, "protocol version"))
        {
            cause = "no TLS version both sides accept (NsqTlsOptions.EnabledSslProtocols, nsqd --tls-min-version)";
        }
        else if (AlertIn(error, "certificate required") || AlertIn(error, "didn't provide a certificate") || (tls.ClientCertificate is null && (AlertIn(error, "bad certificate") || AlertIn(error, "handshake failure"))))
        {
            // TLS 1.3 sends "certificate required"; with TLS 1.2 nsqd (Go) answers a missing one with "bad certificate";
            // nsqd's own E_IDENTIFY_FAILED says "client didn't provide a certificate".
            cause = "client certificate required: nsqd requires one (--tls-client-auth-policy) and none was presented; set NsqTlsOptions.ClientCertificate";
        }
        else if (tls.ClientCertificate is not null && (AlertIn(error, "unknown ca") || AlertIn(error, "unknown authority") || AlertIn(error, "bad certificate") || AlertIn(error, "certificate unknown") || validation.Ran))
        {
            cause = "nsqd rejected the client certificate: it is not issued by an authority in nsqd's --tls-root-ca-file (or not for client authentication)";
        }
        else if (Find<SocketException>(error) is { } network)
        {
            // Reset or aborted on the way: a network fault, worth retrying.
            return new NsqConnectionException($"TLS with nsqd {Address} failed: the connection broke during the handshake ({network.Message.TrimEnd('.')}).", error);
        }
        else
        {
            // The server ended the handshake without a readable alert (with TLS 1.2 nsqd may write its error in plain
            // text after the alert). The server certificate was not the problem, so the client's side is left.
            cause = tls.ClientCertificate is null
                ? $"nsqd ended the TLS handshake ({InnermostMessage(error).TrimEnd('.')}); it most likely requires a client certificate (--tls-client-auth-policy): set NsqTlsOptions.ClientCertificate"
                : $"nsqd ended the TLS handshake ({InnermostMessage(error).TrimEnd('.')}); it most likely rejected the client certificate (not issued by an authority in its --tls-root-ca-file)";
        }

        return new NsqHandshakeRefusedException($"TLS with nsqd {Address} failed: {cause.TrimEnd('.')}.", error);
    }

    private static T? Find<T>(Exception error)
        where T : Exception
    {
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            if (e is T found)
            {
                return found;
            }
        }

        return null;
    }

    private static bool AlertIn(Exception error, string alert)
    {
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            if (e.Message.Contains(alert, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static string InnermostMessage(Exception error)
    {
        var innermost = error;
        while (innermost.InnerException is { } inner)
        {
            innermost = inner;
        }

        return innermost == error ? error.Message : $"{error.Message} ({innermost.Message})";
    }

    /// <summary>What the certificate validation of one TLS handshake decided.</summary>
    private sealed class TlsValidation
    {
        public bool Ran { get; set; }

        public bool Rejected { get; set; }

        public bool ByCallback { get; set; }

        public SslPolicyErrors Errors { get; set; }

        public string ChainStatus { get; set; } = "";
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
            if (header.AsSpan(0, 4).SequenceEqual("HTTP"u8))
            {
                throw new NsqHandshakeRefusedException(
                    $"{Address} answered like an HTTP server: it looks like nsqd's HTTP port (default 4151), not its TCP port (default 4150).");
            }

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
