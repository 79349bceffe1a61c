using System.Net;
using System.Net.Sockets;
using System.Text;

namespace NsqTyped.Testing.Tests.Http;

/// <summary>A response exactly as it came off the wire: status line, headers in order, de-framed body.</summary>
internal sealed record RawHttpResponse(
    string Version,
    int Status,
    string Reason,
    IReadOnlyList<KeyValuePair<string, string>> Headers,
    byte[] Body,
    bool Chunked)
{
    /// <summary>All values of a header (case-insensitive name).</summary>
    public IEnumerable<string> HeaderValues(string name) =>
        Headers.Where(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value);

    /// <summary>The body as UTF-8 text.</summary>
    public string BodyText => Encoding.UTF8.GetString(Body);
}

/// <summary>
/// Sends one HTTP/1.1 request on a new TCP connection with nothing but what the caller gives (plus Host,
/// as the capture's client did), and parses the raw answer. HttpClient would add headers of its own.
/// </summary>
internal static class RawHttpClient
{
    public static async Task<RawHttpResponse> SendAsync(
        IPEndPoint endPoint,
        string method,
        string pathAndQuery,
        IEnumerable<KeyValuePair<string, string>> headers,
        byte[]? body,
        CancellationToken cancellationToken)
    {
        using var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(endPoint, cancellationToken);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        var head = new StringBuilder();
        head.Append(method).Append(' ').Append(pathAndQuery).Append(" HTTP/1.1\r\n");
        head.Append("Host: ").Append(endPoint).Append("\r\n");
        foreach (var (name, value) in headers)
        {
            head.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        head.Append("\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()), cancellationToken);
        if (body is { Length: > 0 })
        {
            await stream.WriteAsync(body, cancellationToken);
        }

        await stream.FlushAsync(cancellationToken);
        var reader = new ResponseReader(stream);
        var statusLine = await reader.ReadLineAsync(cancellationToken)
            ?? throw new InvalidOperationException("The server closed the connection without answering.");
        var parts = statusLine.Split(' ', 3);
        var status = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
        var reason = parts.Length > 2 ? parts[2] : string.Empty;
        var responseHeaders = new List<KeyValuePair<string, string>>();
        while (await reader.ReadLineAsync(cancellationToken) is { Length: > 0 } line)
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            responseHeaders.Add(new(line[..colon], line[(colon + 1)..].Trim()));
        }

        var chunked = responseHeaders.Any(h => h.Key.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase)
            && h.Value.Contains("chunked", StringComparison.OrdinalIgnoreCase));
        var contentLength = responseHeaders.FirstOrDefault(h => h.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)).Value;
        byte[] responseBody;
        if (method == "HEAD" || status is 204 or 304)
        {
            responseBody = [];
        }
        else if (chunked)
        {
            var collected = new MemoryStream();
            while (true)
            {
                var sizeLine = await reader.ReadLineAsync(cancellationToken) ?? throw new InvalidOperationException("Truncated chunked body.");
                var size = Convert.ToInt32(sizeLine.Split(';')[0].Trim(), 16);
                if (size == 0)
                {
                    while (await reader.ReadLineAsync(cancellationToken) is { Length: > 0 })
                    {
                    }

                    break;
                }

                collected.Write(await reader.ReadBytesAsync(size, cancellationToken));
                await reader.ReadLineAsync(cancellationToken);
            }

            responseBody = collected.ToArray();
        }
        else if (contentLength is not null)
        {
            responseBody = await reader.ReadBytesAsync(int.Parse(contentLength, System.Globalization.CultureInfo.InvariantCulture), cancellationToken);
        }
        else
        {
            responseBody = await reader.ReadToEndAsync(cancellationToken);
        }

        return new RawHttpResponse(parts[0], status, reason, responseHeaders, responseBody, chunked);
    }

    private sealed class ResponseReader(Stream stream)
    {
        private readonly byte[] _buffer = new byte[8192];
        private int _start;
        private int _end;

        public async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
        {
            var line = new List<byte>();
            while (true)
            {
                if (_start == _end && !await FillAsync(cancellationToken))
                {
                    return line.Count == 0 ? null : Encoding.Latin1.GetString(line.ToArray());
                }

                var b = _buffer[_start++];
                if (b == '\n')
                {
                    if (line.Count > 0 && line[^1] == '\r')
                    {
                        line.RemoveAt(line.Count - 1);
                    }

                    return Encoding.Latin1.GetString(line.ToArray());
                }

                line.Add(b);
            }
        }

        public async Task<byte[]> ReadBytesAsync(int count, CancellationToken cancellationToken)
        {
            var result = new byte[count];
            var filled = 0;
            while (filled < count)
            {
                if (_start == _end && !await FillAsync(cancellationToken))
                {
                    throw new InvalidOperationException($"Body truncated: {filled} of {count} bytes.");
                }

                var n = Math.Min(count - filled, _end - _start);
                Array.Copy(_buffer, _start, result, filled, n);
                _start += n;
                filled += n;
            }

            return result;
        }

        public async Task<byte[]> ReadToEndAsync(CancellationToken cancellationToken)
        {
            var collected = new MemoryStream();
            while (_start < _end || await FillAsync(cancellationToken))
            {
                collected.Write(_buffer, _start, _end - _start);
                _start = _end;
            }

            return collected.ToArray();
        }

        private async Task<bool> FillAsync(CancellationToken cancellationToken)
        {
            _start = 0;
            _end = await stream.ReadAsync(_buffer, cancellationToken);
            return _end > 0;
        }
    }
}
