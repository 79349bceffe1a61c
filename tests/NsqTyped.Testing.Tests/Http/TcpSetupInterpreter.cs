using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using NsqTyped.Protocol;

namespace NsqTyped.Testing.Tests.Http;

/// <summary>
/// Carries out the <c>tcp_setup</c> steps of HTTP fixtures. Their <c>description</c> is the only record
/// of what the capture's helper client did, so it is interpreted as a small language:
/// <list type="bullet">
/// <item><c>connect, '  V2', IDENTIFY {k: v, ...}, MPUB topic [a, bb], PUB topic 'body', SUB topic channel,
/// RDY n, received message 'a' (remarks)</c> — commands on connection <c>conn</c>, kept open until the
/// scenario ends;</item>
/// <item><c>waited until nsqlookupd|nsqd PATH lists X</c> — polls the HTTP path until the answer lists X
/// (<c>channel NAME</c>, <c>the nsqd</c>, or a bare name).</item>
/// </list>
/// Anything else fails the test, so a new fixture with a new kind of setup cannot pass silently.
/// Commands are written with <see cref="NsqCommandWriter"/> and answers parsed with <see cref="NsqFrameReader"/>.
/// </summary>
internal sealed class TcpSetupInterpreter : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly Dictionary<string, Connection> _connections = new(StringComparer.Ordinal);
    private readonly IPEndPoint _nsqdTcp;
    private readonly Func<string, IPEndPoint?> _httpEndPointOf;

    public TcpSetupInterpreter(IPEndPoint nsqdTcp, Func<string, IPEndPoint?> httpEndPointOf)
    {
        _nsqdTcp = nsqdTcp;
        _httpEndPointOf = httpEndPointOf;
    }

    public async Task RunAsync(string conn, string description, CancellationToken cancellationToken)
    {
        if (description.StartsWith("waited until ", StringComparison.Ordinal))
        {
            await WaitUntilAsync(description["waited until ".Length..], cancellationToken);
            return;
        }

        foreach (var item in SplitTopLevel(description))
        {
            await RunCommandAsync(conn, StripRemark(item), cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var connection in _connections.Values)
        {
            connection.Socket.Dispose();
        }

        _connections.Clear();
        await Task.CompletedTask;
    }

    private async Task RunCommandAsync(string conn, string item, CancellationToken cancellationToken)
    {
        if (item == "connect")
        {
            var socket = new Socket(_nsqdTcp.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(_nsqdTcp, cancellationToken);
            _connections[conn] = new Connection(socket);
            return;
        }

        var connection = _connections.TryGetValue(conn, out var c) ? c : throw new InvalidOperationException($"tcp_setup: '{item}' before connect on {conn}.");
        var writer = new ArrayBufferWriter<byte>();
        string verb = item.Split(' ', 2)[0];
        string rest = item.Length > verb.Length ? item[(verb.Length + 1)..] : string.Empty;
        switch (verb)
        {
            case "'" when item == "'  V2'":
                NsqCommandWriter.WriteMagic(writer);
                await connection.SendAsync(writer.WrittenMemory, cancellationToken);
                return;
            case "IDENTIFY":
                NsqCommandWriter.WriteIdentify(writer, ParseLooseObject(rest));
                await connection.SendAsync(writer.WrittenMemory, cancellationToken);
                await connection.ExpectResponseAsync(item, cancellationToken);
                return;
            case "MPUB":
            {
                var (topic, list) = SplitFirst(rest);
                var messages = list.Trim().TrimStart('[').TrimEnd(']').Split(',', StringSplitOptions.TrimEntries)
                    .Select(m => (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes(Unquote(m))).ToArray();
                NsqCommandWriter.WriteMpub(writer, topic, messages);
                await connection.SendAsync(writer.WrittenMemory, cancellationToken);
                await connection.ExpectResponseAsync(item, cancellationToken);
                return;
            }

            case "PUB":
            {
                var (topic, body) = SplitFirst(rest);
                NsqCommandWriter.WritePub(writer, topic, Encoding.UTF8.GetBytes(Unquote(body.Trim())));
                await connection.SendAsync(writer.WrittenMemory, cancellationToken);
                await connection.ExpectResponseAsync(item, cancellationToken);
                return;
            }

            case "SUB":
            {
                var (topic, channel) = SplitFirst(rest);
                NsqCommandWriter.WriteSub(writer, topic, channel.Trim());
                await connection.SendAsync(writer.WrittenMemory, cancellationToken);
                await connection.ExpectResponseAsync(item, cancellationToken);
                return;
            }

            case "RDY":
                NsqCommandWriter.WriteRdy(writer, long.Parse(rest, System.Globalization.CultureInfo.InvariantCulture));
                await connection.SendAsync(writer.WrittenMemory, cancellationToken);
                return;
            case "received" when rest.StartsWith("message ", StringComparison.Ordinal):
                await connection.ExpectMessageAsync(Unquote(rest["message ".Length..].Trim()), cancellationToken);
                return;
            default:
                throw new InvalidOperationException($"tcp_setup: cannot interpret '{item}'.");
        }
    }

    private async Task WaitUntilAsync(string condition, CancellationToken cancellationToken)
    {
        // "<server> <path> lists <what>"
        var parts = condition.Split(' ', 4);
        if (parts.Length < 4 || parts[2] != "lists")
        {
            throw new InvalidOperationException($"tcp_setup: cannot interpret 'waited until {condition}'.");
        }

        var endPoint = _httpEndPointOf(parts[0]) ?? throw new InvalidOperationException($"tcp_setup: no server '{parts[0]}'.");
        var what = StripRemark(parts[3]);
        Func<JsonElement, bool> satisfied = what switch
        {
            "the nsqd" => json => json.TryGetProperty("producers", out var p) && p.ValueKind == JsonValueKind.Array && p.GetArrayLength() > 0,
            _ when what.StartsWith("channel ", StringComparison.Ordinal) => json => ListsName(json, "channels", what["channel ".Length..]),
            _ => json => json.EnumerateObject().Any(p => ListsName(json, p.Name, what)),
        };
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            var response = await RawHttpClient.SendAsync(endPoint, "GET", parts[1], [], null, cancellationToken);
            if (response.Status == 200)
            {
                using var document = JsonDocument.Parse(response.Body);
                if (document.RootElement.ValueKind == JsonValueKind.Object && satisfied(document.RootElement))
                {
                    return;
                }
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"tcp_setup: '{condition}' did not happen within {Timeout.TotalSeconds} s (last answer {response.Status} {response.BodyText}).");
            }

            await Task.Delay(20, cancellationToken);
        }
    }

    private static bool ListsName(JsonElement json, string property, string name) =>
        json.TryGetProperty(property, out var list) && list.ValueKind == JsonValueKind.Array
        && list.EnumerateArray().Any(e => e.ValueKind == JsonValueKind.String && e.GetString() == name);

    /// <summary><c>{client_id: a, hostname: b}</c> → <c>{"client_id":"a","hostname":"b"}</c> (values are strings).</summary>
    private static byte[] ParseLooseObject(string text)
    {
        var inner = text.Trim().TrimStart('{').TrimEnd('}');
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            foreach (var pair in inner.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var colon = pair.IndexOf(':', StringComparison.Ordinal);
                json.WriteString(pair[..colon].Trim(), Unquote(pair[(colon + 1)..].Trim()));
            }

            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static (string First, string Remainder) SplitFirst(string text)
    {
        var space = text.IndexOf(' ', StringComparison.Ordinal);
        return space < 0 ? (text, string.Empty) : (text[..space], text[(space + 1)..]);
    }

    private static string Unquote(string text) =>
        text.Length >= 2 && text[0] == '\'' && text[^1] == '\'' ? text[1..^1] : text;

    private static string StripRemark(string item)
    {
        var trimmed = item.Trim();
        if (trimmed.EndsWith(')'))
        {
            var open = trimmed.LastIndexOf(" (", StringComparison.Ordinal);
            if (open > 0)
            {
                return trimmed[..open].Trim();
            }
        }

        return trimmed;
    }

    /// <summary>Splits on commas that are not inside <c>{}</c>, <c>[]</c>, <c>()</c> or quotes.</summary>
    private static List<string> SplitTopLevel(string text)
    {
        var items = new List<string>();
        var depth = 0;
        var quoted = false;
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var ch = text[i];
            if (ch == '\'')
            {
                quoted = !quoted;
            }
            else if (!quoted && ch is '{' or '[' or '(')
            {
                depth++;
            }
            else if (!quoted && ch is '}' or ']' or ')')
            {
                depth--;
            }
            else if (!quoted && depth == 0 && ch == ',')
            {
                items.Add(text[start..i].Trim());
                start = i + 1;
            }
        }

        items.Add(text[start..].Trim());
        return items.Where(s => s.Length > 0).ToList();
    }

    private sealed class Connection(Socket socket)
    {
        private readonly byte[] _buffer = new byte[64 * 1024];
        private int _length;

        public Socket Socket { get; } = socket;

        public async Task SendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken) =>
            await Socket.SendAsync(bytes, SocketFlags.None, cancellationToken);

        public async Task ExpectResponseAsync(string command, CancellationToken cancellationToken)
        {
            var (type, data) = await ReadFrameAsync(cancellationToken);
            if (type != NsqFrameType.Response)
            {
                throw new InvalidOperationException($"tcp_setup: {command} got {type} '{Encoding.UTF8.GetString(data)}'.");
            }
        }

        public async Task ExpectMessageAsync(string body, CancellationToken cancellationToken)
        {
            while (true)
            {
                var (type, data) = await ReadFrameAsync(cancellationToken);
                if (type == NsqFrameType.Response)
                {
                    continue; // a heartbeat
                }

                if (type != NsqFrameType.Message)
                {
                    throw new InvalidOperationException($"tcp_setup: waiting for message '{body}', got {type} '{Encoding.UTF8.GetString(data)}'.");
                }

                var message = NsqMessageFrame.Parse(new ReadOnlySequence<byte>(data));
                var actual = Encoding.UTF8.GetString(message.Body.ToArray());
                if (actual != body)
                {
                    throw new InvalidOperationException($"tcp_setup: expected message '{body}', got '{actual}'.");
                }

                return;
            }
        }

        private async Task<(NsqFrameType Type, byte[] Data)> ReadFrameAsync(CancellationToken cancellationToken)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Timeout);
            while (true)
            {
                var sequence = new ReadOnlySequence<byte>(_buffer, 0, _length);
                if (NsqFrameReader.TryReadFrame(ref sequence, out var frame))
                {
                    var result = (frame.Type, frame.Data.ToArray());
                    var consumed = _length - (int)sequence.Length;
                    Array.Copy(_buffer, consumed, _buffer, 0, _length - consumed);
                    _length -= consumed;
                    return result;
                }

                var read = await Socket.ReceiveAsync(_buffer.AsMemory(_length), SocketFlags.None, timeout.Token);
                if (read == 0)
                {
                    throw new InvalidOperationException("tcp_setup: nsqd closed the connection.");
                }

                _length += read;
            }
        }
    }
}
