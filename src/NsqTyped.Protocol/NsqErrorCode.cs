using System.Text;

namespace NsqTyped;

/// <summary>Error codes nsqd sends in error frames (<c>protocol_v2.go</c>).</summary>
public enum NsqErrorCode
{
    /// <summary>A code this library does not know; treated as fatal.</summary>
    Unknown = 0,
    /// <summary><c>E_INVALID</c>: invalid command, parameters or state.</summary>
    Invalid,
    /// <summary><c>E_BAD_PROTOCOL</c>: wrong protocol magic.</summary>
    BadProtocol,
    /// <summary><c>E_BAD_BODY</c>: malformed or oversized body.</summary>
    BadBody,
    /// <summary><c>E_BAD_TOPIC</c>: invalid topic name.</summary>
    BadTopic,
    /// <summary><c>E_BAD_CHANNEL</c>: invalid channel name.</summary>
    BadChannel,
    /// <summary><c>E_BAD_MESSAGE</c>: empty or oversized message.</summary>
    BadMessage,
    /// <summary><c>E_PUB_FAILED</c>.</summary>
    PubFailed,
    /// <summary><c>E_MPUB_FAILED</c>.</summary>
    MpubFailed,
    /// <summary><c>E_DPUB_FAILED</c>.</summary>
    DpubFailed,
    /// <summary><c>E_FIN_FAILED</c> (not fatal).</summary>
    FinFailed,
    /// <summary><c>E_REQ_FAILED</c> (not fatal).</summary>
    ReqFailed,
    /// <summary><c>E_TOUCH_FAILED</c> (not fatal).</summary>
    TouchFailed,
    /// <summary><c>E_IDENTIFY_FAILED</c>.</summary>
    IdentifyFailed,
    /// <summary><c>E_SUB_FAILED</c>.</summary>
    SubFailed,
    /// <summary><c>E_AUTH_FIRST</c>: AUTH is required before this command.</summary>
    AuthFirst,
    /// <summary><c>E_AUTH_FAILED</c>: the auth server rejected the secret.</summary>
    AuthFailed,
    /// <summary><c>E_AUTH_DISABLED</c>: AUTH sent to a server without auth.</summary>
    AuthDisabled,
    /// <summary><c>E_AUTH_ERROR</c>.</summary>
    AuthError,
    /// <summary><c>E_UNAUTHORIZED</c>: the identity lacks permission.</summary>
    Unauthorized,
}

/// <summary>Mapping between error codes and their wire text, and the fatality rule.</summary>
public static class NsqErrors
{
    private static readonly (string Text, NsqErrorCode Code)[] Table =
    [
        ("E_INVALID", NsqErrorCode.Invalid),
        ("E_BAD_PROTOCOL", NsqErrorCode.BadProtocol),
        ("E_BAD_BODY", NsqErrorCode.BadBody),
        ("E_BAD_TOPIC", NsqErrorCode.BadTopic),
        ("E_BAD_CHANNEL", NsqErrorCode.BadChannel),
        ("E_BAD_MESSAGE", NsqErrorCode.BadMessage),
        ("E_PUB_FAILED", NsqErrorCode.PubFailed),
        ("E_MPUB_FAILED", NsqErrorCode.MpubFailed),
        ("E_DPUB_FAILED", NsqErrorCode.DpubFailed),
        ("E_FIN_FAILED", NsqErrorCode.FinFailed),
        ("E_REQ_FAILED", NsqErrorCode.ReqFailed),
        ("E_TOUCH_FAILED", NsqErrorCode.TouchFailed),
        ("E_IDENTIFY_FAILED", NsqErrorCode.IdentifyFailed),
        ("E_SUB_FAILED", NsqErrorCode.SubFailed),
        ("E_AUTH_FIRST", NsqErrorCode.AuthFirst),
        ("E_AUTH_FAILED", NsqErrorCode.AuthFailed),
        ("E_AUTH_DISABLED", NsqErrorCode.AuthDisabled),
        ("E_AUTH_ERROR", NsqErrorCode.AuthError),
        ("E_UNAUTHORIZED", NsqErrorCode.Unauthorized),
    ];

    /// <summary>Maps the wire text of a code (e.g. <c>E_BAD_TOPIC</c>) to <see cref="NsqErrorCode"/>.</summary>
    public static NsqErrorCode ParseCode(ReadOnlySpan<char> codeText)
    {
        foreach (var (text, code) in Table)
        {
            if (codeText.SequenceEqual(text))
            {
                return code;
            }
        }

        return NsqErrorCode.Unknown;
    }

    /// <summary>The wire text of a known code (e.g. <c>E_BAD_TOPIC</c>).</summary>
    public static string ToCodeText(NsqErrorCode code)
    {
        foreach (var (text, c) in Table)
        {
            if (c == code)
            {
                return text;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(code), code, "Unknown has no wire text.");
    }

    /// <summary>
    /// Whether nsqd closes the connection after this error: every code except
    /// E_FIN_FAILED, E_REQ_FAILED and E_TOUCH_FAILED (unknown codes included).
    /// </summary>
    public static bool IsFatal(NsqErrorCode code) =>
        code is not (NsqErrorCode.FinFailed or NsqErrorCode.ReqFailed or NsqErrorCode.TouchFailed);

    /// <summary>
    /// Splits the data of an error frame (<c>"&lt;CODE&gt; &lt;description&gt;"</c>) into an exception.
    /// Error frames are rare, so this allocates the strings.
    /// </summary>
    public static NsqServerException ToException(ReadOnlySpan<byte> errorFrameData)
    {
        var text = Encoding.UTF8.GetString(errorFrameData);
        var space = text.IndexOf(' ', StringComparison.Ordinal);
        return space < 0
            ? new NsqServerException(text, string.Empty)
            : new NsqServerException(text[..space], text[(space + 1)..]);
    }
}
