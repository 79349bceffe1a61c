using System.IO.Compression;
using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using NsqTyped.Protocol;
using NsqTyped.Testing.Nsqd.Auth;
using Snappier;

namespace NsqTyped.Testing.Nsqd.Tcp;

/// <summary>IDENTIFY (settings, feature negotiation, TLS/Snappy/Deflate upgrades) and AUTH.</summary>
internal sealed partial class NsqdTcpSession
{
    private PendingUpgrade? _pendingUpgrade;
    private NsqdAuthState? _auth;
    private long _authExpires;
    private string _authSecret = "";
    private int _outputBufferSize;
    private TimeSpan _outputBufferTimeout;

    private sealed record PendingUpgrade(bool Tls, bool Snappy, bool Deflate, int DeflateLevel);

    private bool HasAuthorizations => _auth is { Authorizations.Count: > 0 };

    private void ExecuteIdentify(NsqIdentifyRequest request)
    {
        // nsqd's clientV2.Identify: the settings apply in this order; the first invalid one fails IDENTIFY.
        ClientId = request.ClientId ?? "";
        Hostname = request.Hostname ?? "";
        UserAgent = request.UserAgent ?? "";

        var heartbeat = HeartbeatInterval;
        var desiredHeartbeat = request.HeartbeatInterval ?? 0;
        if (desiredHeartbeat == -1)
        {
            heartbeat = TimeSpan.Zero;
        }
        else if (desiredHeartbeat != 0)
        {
            if (desiredHeartbeat < 1000 || desiredHeartbeat > _options.MaxHeartbeatInterval.TotalMilliseconds)
            {
                throw NsqdClientException.Fatal($"E_BAD_BODY IDENTIFY heartbeat interval ({desiredHeartbeat}) is invalid");
            }

            heartbeat = TimeSpan.FromMilliseconds(desiredHeartbeat);
        }

        SetHeartbeatInterval(heartbeat);

        var desiredTimeout = request.OutputBufferTimeout ?? 0;
        var desiredSize = request.OutputBufferSize ?? 0;
        var bufferTimeout = _outputBufferTimeout;
        var bufferSize = _outputBufferSize;
        if (desiredTimeout == -1)
        {
            bufferTimeout = TimeSpan.Zero;
        }
        else if (desiredTimeout != 0)
        {
            if (desiredTimeout < _options.MinOutputBufferTimeout.TotalMilliseconds || desiredTimeout > _options.MaxOutputBufferTimeout.TotalMilliseconds)
            {
                throw NsqdClientException.Fatal($"E_BAD_BODY IDENTIFY output buffer timeout ({desiredTimeout}) is invalid");
            }

            bufferTimeout = TimeSpan.FromMilliseconds(desiredTimeout);
        }

        if (desiredSize == -1)
        {
            // Effectively unbuffered: every write goes straight to the connection.
            bufferSize = 1;
            bufferTimeout = TimeSpan.Zero;
        }
        else if (desiredSize != 0)
        {
            if (desiredSize < 64 || desiredSize > _options.MaxOutputBufferSize)
            {
                throw NsqdClientException.Fatal($"E_BAD_BODY IDENTIFY output buffer size ({desiredSize}) is invalid");
            }

            bufferSize = desiredSize;
        }

        _outputBufferSize = bufferSize;
        _outputBufferTimeout = bufferTimeout;
        _output.Configure(bufferSize, bufferTimeout);

        var sampleRate = request.SampleRate ?? 0;
        if (sampleRate is < 0 or > 99)
        {
            throw NsqdClientException.Fatal($"E_BAD_BODY IDENTIFY sample rate ({sampleRate}) is invalid");
        }

        SampleRate = sampleRate;

        var msgTimeout = request.MsgTimeout ?? 0;
        if (msgTimeout != 0)
        {
            if (msgTimeout < 1000 || msgTimeout > _options.MaxMsgTimeout.TotalMilliseconds)
            {
                throw NsqdClientException.Fatal($"E_BAD_BODY IDENTIFY msg timeout ({msgTimeout}) is invalid");
            }

            MsgTimeout = TimeSpan.FromMilliseconds(msgTimeout);
        }

        if (!request.FeatureNegotiation)
        {
            _output.WriteFrame(NsqdFrameWriter.FrameTypeResponse, s_ok);
            return;
        }

        var tls = _options.TlsCertificate is not null && request.TlsV1 == true;
        var deflate = _options.Deflate && request.Deflate == true;
        var deflateLevel = 6;
        if (deflate && request.DeflateLevel > 0)
        {
            deflateLevel = request.DeflateLevel.Value;
        }

        deflateLevel = Math.Min(deflateLevel, _options.MaxDeflateLevel);
        var snappy = _options.Snappy && request.Snappy == true;
        if (deflate && snappy)
        {
            throw NsqdClientException.Fatal("E_IDENTIFY_FAILED cannot enable both deflate and snappy compression");
        }

        var response = new NsqIdentifyResponse
        {
            MaxRdyCount = _options.MaxRdyCount,
            Version = _options.Version,
            MaxMsgTimeout = (long)_options.MaxMsgTimeout.TotalMilliseconds,
            MsgTimeout = (long)MsgTimeout.TotalMilliseconds,
            TlsV1 = tls,
            Deflate = deflate,
            DeflateLevel = deflateLevel,
            MaxDeflateLevel = _options.MaxDeflateLevel,
            Snappy = snappy,
            SampleRate = SampleRate,
            AuthRequired = _broker.IsAuthEnabled,
            OutputBufferSize = bufferSize,
            OutputBufferTimeout = (long)bufferTimeout.TotalMilliseconds,
        };
        _output.WriteFrame(NsqdFrameWriter.FrameTypeResponse, response.ToUtf8Json());
        if (tls || snappy || deflate)
        {
            _pendingUpgrade = new PendingUpgrade(tls, snappy, deflate, deflateLevel);
        }
    }

    /// <summary>
    /// Upgrades the stream stack after the IDENTIFY response, in nsqd's order (TLS, then Snappy or
    /// Deflate), each followed by an OK frame through the new layer. Returns false when the
    /// connection must end (handshake failed, or the client-certificate policy refused it).
    /// </summary>
    private async Task<bool> UpgradeAsync(PendingUpgrade upgrade, byte[] leftover)
    {
        Stream read = leftover.Length > 0 ? new NsqdPrefixedStream(leftover, _network) : _network;
        try
        {
            if (upgrade.Tls)
            {
                var ssl = new SslStream(read, leaveInnerStreamOpen: true);
                _ssl = ssl;
                var options = new SslServerAuthenticationOptions
                {
                    ServerCertificate = _options.TlsCertificate,
                    ClientCertificateRequired = _options.TlsClientAuthPolicy != NsqdTlsClientAuthPolicy.None,

                    // The policy is checked after the handshake, so a refusal can be reported inside TLS as nsqd does.
                    RemoteCertificateValidationCallback = static (_, _, _, _) => true,
                };
                await _output.UpgradeAsync(
                    async _ =>
                    {
                        await ssl.AuthenticateAsServerAsync(options, _closed.Token).ConfigureAwait(false);
                        return ssl;
                    },
                    flushAfterWrite: false).ConfigureAwait(false);
                read = ssl;
                Tls = true;
                TlsVersion = ssl.SslProtocol switch
                {
                    SslProtocols.Tls13 => "TLS1.3",
                    SslProtocols.Tls12 => "TLS1.2",
                    _ => ssl.SslProtocol.ToString(),
                };
                TlsCipherSuite = ssl.NegotiatedCipherSuite.ToString();
                TlsNegotiatedProtocolIsMutual = true;
                CheckClientCertificate(ssl);
                _output.WriteFrame(NsqdFrameWriter.FrameTypeResponse, s_ok);
            }

            if (upgrade.Snappy)
            {
                await _output.UpgradeAsync(
                    s => Task.FromResult<Stream>(new SnappyStream(s, CompressionMode.Compress, leaveOpen: true)),
                    flushAfterWrite: true).ConfigureAwait(false);
                read = new SnappyStream(read, CompressionMode.Decompress, leaveOpen: true);
                Snappy = true;
                _output.WriteFrame(NsqdFrameWriter.FrameTypeResponse, s_ok);
            }

            if (upgrade.Deflate)
            {
                var level = upgrade.DeflateLevel;
                await _output.UpgradeAsync(
                    s => Task.FromResult<Stream>(new DeflateStream(s, new ZLibCompressionOptions { CompressionLevel = level }, leaveOpen: true)),
                    flushAfterWrite: true).ConfigureAwait(false);
                read = new DeflateStream(read, CompressionMode.Decompress, leaveOpen: true);
                Deflate = true;
                _output.WriteFrame(NsqdFrameWriter.FrameTypeResponse, s_ok);
            }
        }
        catch (NsqdClientException error)
        {
            _output.WriteFrame(NsqdFrameWriter.FrameTypeError, Encoding.Latin1.GetBytes(error.Message));
            return false;
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException or OperationCanceledException)
        {
            LogConnectionError(_logger, RemoteAddress, ex.Message);
            return false;
        }

        _readStream = read;
        _reader = CreateReader(read);
        return true;
    }

    private void CheckClientCertificate(SslStream ssl)
    {
        var policy = _options.TlsClientAuthPolicy;
        if (policy == NsqdTlsClientAuthPolicy.None)
        {
            return;
        }

        if (ssl.RemoteCertificate is null)
        {
            throw NsqdClientException.Fatal("E_IDENTIFY_FAILED IDENTIFY failed tls: client didn't provide a certificate");
        }

        if (policy == NsqdTlsClientAuthPolicy.RequireVerify)
        {
            using var certificate = new X509Certificate2(ssl.RemoteCertificate);
            using var chain = new X509Chain();
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            if (_options.TlsRootCertificates is { } roots)
            {
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(roots);
            }

            if (!chain.Build(certificate))
            {
                throw NsqdClientException.Fatal("E_IDENTIFY_FAILED IDENTIFY failed tls: failed to verify certificate: x509: certificate signed by unknown authority");
            }
        }
    }

    private async ValueTask ExecuteAuthAsync(byte[] secret)
    {
        if (HasAuthorizations)
        {
            throw NsqdClientException.Fatal("E_INVALID AUTH already set");
        }

        if (!_broker.IsAuthEnabled)
        {
            throw NsqdClientException.Fatal("E_AUTH_DISABLED AUTH disabled");
        }

        _authSecret = Encoding.UTF8.GetString(secret);
        if (!await QueryAuthAsync().ConfigureAwait(false))
        {
            // nsqd does not leak auth-server errors to clients.
            throw NsqdClientException.Fatal("E_AUTH_FAILED AUTH failed");
        }

        if (!HasAuthorizations)
        {
            throw NsqdClientException.Fatal("E_UNAUTHORIZED AUTH no authorizations found");
        }

        var response = new NsqAuthResponse
        {
            Identity = _auth!.Identity,
            IdentityUrl = _auth.IdentityUrl,
            PermissionCount = _auth.Authorizations.Count,
        };
        _output.WriteFrame(NsqdFrameWriter.FrameTypeResponse, response.ToUtf8Json());
    }

    private async Task RefreshAuthAsync()
    {
        if (!await QueryAuthAsync().ConfigureAwait(false))
        {
            throw NsqdClientException.Fatal("E_AUTH_FAILED AUTH failed");
        }
    }

    private async Task<bool> QueryAuthAsync()
    {
        var remoteIp = (_socket.RemoteEndPoint as IPEndPoint)?.Address;
        if (remoteIp is { IsIPv4MappedToIPv6: true })
        {
            remoteIp = remoteIp.MapToIPv4();
        }

        var commonName = "";
        if (_ssl?.RemoteCertificate is { } certificate)
        {
            using var x509 = new X509Certificate2(certificate);
            commonName = x509.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        }

        var request = new NsqdAuthRequest
        {
            Secret = _authSecret,
            RemoteIp = remoteIp?.ToString() ?? "",
            Tls = Tls,
            CommonName = commonName,
        };
        NsqdAuthState? state;
        try
        {
            state = await _broker.Authorizer!.AuthorizeAsync(request, _closed.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !_closed.IsCancellationRequested)
        {
            LogConnectionError(_logger, RemoteAddress, "auth query failed: " + ex.Message);
            return false;
        }

        if (state is null || NsqdAuthorizers.Validate(state) is not null)
        {
            return false;
        }

        _auth = state;
        _authExpires = _broker.NowTicks + TimeSpan.FromSeconds(state.Ttl).Ticks;
        AuthIdentity = state.Identity;
        AuthIdentityUrl = state.IdentityUrl;
        Authed = HasAuthorizations;
        return true;
    }

    /// <summary>
    /// nsqd's CheckAuth: without auth nothing to check; otherwise AUTH must have succeeded and the
    /// cached answer must allow the topic/channel. Returns false when the answer expired and must be
    /// fetched again first.
    /// </summary>
    private bool CheckAuth(string command, string topic, string channel)
    {
        if (!_broker.IsAuthEnabled)
        {
            return true;
        }

        if (!HasAuthorizations)
        {
            throw NsqdClientException.Fatal($"E_AUTH_FIRST AUTH required before {command}");
        }

        if (_broker.NowTicks >= _authExpires)
        {
            return false;
        }

        foreach (var authorization in _auth!.Authorizations)
        {
            if (authorization.IsAllowed(topic, channel))
            {
                return true;
            }
        }

        throw NsqdClientException.Fatal(
            $"E_UNAUTHORIZED AUTH failed for {command} on {NsqdClientException.Quote(Encoding.Latin1.GetBytes(topic))} {NsqdClientException.Quote(Encoding.Latin1.GetBytes(channel))}");
    }
}
