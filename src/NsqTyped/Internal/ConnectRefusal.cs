namespace NsqTyped.Internal;

/// <summary>Which connect failures retrying cannot fix (so waiting for a connection must not hide them).</summary>
internal static class ConnectRefusal
{
    /// <summary>
    /// True for <see cref="NsqHandshakeRefusedException"/> (TLS certificate refusals, TLS not offered, AUTH
    /// required without a secret, an HTTP port) and for nsqd's <c>E_AUTH_FAILED</c> and <c>E_UNAUTHORIZED</c>.
    /// </summary>
    public static bool IsPermanent(Exception? error) =>
        error is NsqHandshakeRefusedException or NsqServerException { Code: NsqErrorCode.AuthFailed or NsqErrorCode.Unauthorized };
}
