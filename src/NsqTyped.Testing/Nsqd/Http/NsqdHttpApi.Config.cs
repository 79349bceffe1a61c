using System.Text;
using System.Text.Json;

namespace NsqTyped.Testing.Nsqd.Http;

internal sealed partial class NsqdHttpApi
{
    /// <summary>
    /// <c>GET|PUT /config/:opt</c>. PUT accepts <c>nsqlookupd_tcp_addresses</c> (a JSON array of strings)
    /// and <c>log_level</c>; GET reports any option by its config name, marshalled as nsqd does: strings
    /// raw (the V1 decorator writes a Go string as is), everything else as JSON, durations in nanoseconds.
    /// </summary>
    private async ValueTask<NsqdHttpResult> ConfigAsync(NsqdHttpRequest request, CancellationToken cancellationToken)
    {
        var option = request.RouteParameter;
        if (request.Method == "PUT")
        {
            var readMax = Options.MaxMsgSize + 1;
            var body = await request.ReadBodyAsync(readMax, cancellationToken).ConfigureAwait(false);
            if (body.Length == readMax || body.Length == 0)
            {
                return NsqdHttpResult.V1Error(413, "INVALID_VALUE");
            }

            switch (option)
            {
                case "nsqlookupd_tcp_addresses":
                    if (!TryParseStringArray(body, out var addresses))
                    {
                        return NsqdHttpResult.V1Error(400, "INVALID_VALUE");
                    }

                    Config.SetLookupdTcpAddresses(addresses);
                    break;
                case "log_level":
                    var level = ParseLogLevel(Encoding.UTF8.GetString(body));
                    if (level == 0)
                    {
                        return NsqdHttpResult.V1Error(400, "INVALID_VALUE");
                    }

                    Config.LogLevel = level;
                    break;
                default:
                    return NsqdHttpResult.V1Error(400, "INVALID_OPTION");
            }
        }

        return GetOption(option) ?? NsqdHttpResult.V1Error(400, "INVALID_OPTION");
    }

    private NsqdHttpResult? GetOption(string name)
    {
        var options = Options;
        return name switch
        {
            "nsqlookupd_tcp_addresses" => Json(w => w.StringArray(Config.LookupdTcpAddresses)),
            "log_level" => Json(w => w.Number(Config.LogLevel)),
            "tcp_address" => NsqdHttpResult.V1Text(options.TcpAddress),
            "http_address" => NsqdHttpResult.V1Text(options.HttpAddress),
            "https_address" => NsqdHttpResult.V1Text(options.HttpsAddress ?? string.Empty),
            "broadcast_address" => NsqdHttpResult.V1Text(options.BroadcastAddress),
            "auth_http_addresses" => Json(w => w.StringArray(options.AuthHttpAddresses)),
            "auth_http_request_method" => NsqdHttpResult.V1Text(options.AuthHttpRequestMethod),
            "http_client_request_timeout" => Json(w => w.Number(Nanoseconds(options.HttpClientRequestTimeout))),
            "msg_timeout" => Json(w => w.Number(Nanoseconds(options.MsgTimeout))),
            "max_msg_timeout" => Json(w => w.Number(Nanoseconds(options.MaxMsgTimeout))),
            "max_msg_size" => Json(w => w.Number(options.MaxMsgSize)),
            "max_body_size" => Json(w => w.Number(options.MaxBodySize)),
            "max_req_timeout" => Json(w => w.Number(Nanoseconds(options.MaxReqTimeout))),
            "max_channel_consumers" => Json(w => w.Number(options.MaxChannelConsumers)),
            "max_heartbeat_interval" => Json(w => w.Number(Nanoseconds(options.MaxHeartbeatInterval))),
            "max_rdy_count" => Json(w => w.Number(options.MaxRdyCount)),
            "max_output_buffer_size" => Json(w => w.Number(options.MaxOutputBufferSize)),
            "max_output_buffer_timeout" => Json(w => w.Number(Nanoseconds(options.MaxOutputBufferTimeout))),
            "min_output_buffer_timeout" => Json(w => w.Number(Nanoseconds(options.MinOutputBufferTimeout))),
            "deflate" => Json(w => w.Bool(options.Deflate)),
            "max_deflate_level" => Json(w => w.Number(options.MaxDeflateLevel)),
            "snappy" => Json(w => w.Bool(options.Snappy)),
            "tls_required" => Json(w => w.Number(options.TlsRequired switch
            {
                // nsqd's TLSNotRequired / TLSRequiredExceptHTTP / TLSRequired.
                NsqdTlsRequirement.RequiredExceptHttp => 1,
                NsqdTlsRequirement.Required => 2,
                _ => 0,
            })),
            "tls_client_auth_policy" => NsqdHttpResult.V1Text(options.TlsClientAuthPolicy switch
            {
                NsqdTlsClientAuthPolicy.Require => "require",
                NsqdTlsClientAuthPolicy.RequireVerify => "require-verify",
                _ => string.Empty,
            }),
            _ => null,
        };
    }

    private static NsqdHttpResult Json(Action<GoJsonWriter> write)
    {
        var writer = new GoJsonWriter();
        write(writer);
        return NsqdHttpResult.V1Json(writer.ToUtf8());
    }

    /// <summary>Go's <c>json.Unmarshal</c> into a <c>[]string</c>: an array of strings, or <c>null</c> (nil).</summary>
    private static bool TryParseStringArray(byte[] body, out IReadOnlyList<string>? values)
    {
        values = null;
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Null)
            {
                return true;
            }

            if (root.ValueKind != JsonValueKind.Array)
            {
                return false;
            }

            var list = new List<string>();
            foreach (var item in root.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.String)
                {
                    return false;
                }

                list.Add(item.GetString()!);
            }

            values = list;
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>nsqd's <c>lg.ParseLogLevel</c>; 0 when the text is not a level.</summary>
    private static int ParseLogLevel(string text) => text.ToLowerInvariant() switch
    {
        "debug" => 1,
        "info" => 2,
        "warn" => 3,
        "error" => 4,
        "fatal" => 5,
        _ => 0,
    };
}
