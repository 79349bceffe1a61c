using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using NsqTyped.Conformance;
using NsqTyped.Protocol;
using NsqTyped.Testing.Tests.Support;

namespace NsqTyped.Testing.Tests.Tcp;

/// <summary>
/// Replays one recorded TCP scenario against a fresh <see cref="EmbeddedNsqd"/> started with the
/// fixture's <c>server_flags</c>, over real sockets with the fixture's read rules and layers, and
/// returns every difference from the recording (empty = conformant).
/// </summary>
internal sealed class TcpFixtureReplayer
{
    /// <summary>Extra quiet time after the expected frames arrived, instead of the fixture's full idle window.</summary>
    private static readonly TimeSpan s_settle = TimeSpan.FromMilliseconds(100);

    private readonly ConformanceFixture _fixture;
    private readonly List<string> _failures = [];
    private readonly Dictionary<string, ReplayConnection> _connections = new(StringComparer.Ordinal);
    private readonly Dictionary<string, byte[]> _ids = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _timestamps = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _deliveryStepStarts = new(StringComparer.Ordinal);
    private readonly List<(string Conn, long At, byte[] Bytes)> _sent = [];
    private int _messageCount;
    private long _currentSendStarted;
    private EmbeddedNsqd? _nsqd;

    public TcpFixtureReplayer(ConformanceFixture fixture) => _fixture = fixture;

    public async Task<IReadOnlyList<string>> RunAsync(CancellationToken cancellationToken)
    {
        FixtureAuthService? auth = null;
        try
        {
            if (AuthServiceDescription(_fixture) is { } description)
            {
                auth = await FixtureAuthService.StartAsync(description).ConfigureAwait(false);
            }

            var options = TcpFixtureOptions.FromFlags(_fixture.ServerFlags, auth?.Address);
            _nsqd = await EmbeddedNsqd.StartAsync(options, cancellationToken).ConfigureAwait(false);
            foreach (var step in _fixture.Steps)
            {
                try
                {
                    await RunStepAsync(step, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    Fail(step, $"threw {ex.GetType().Name}: {ex.Message}");
                    break;
                }
            }

            if (auth is not null)
            {
                CheckAuthRequests(auth);
            }
        }
        finally
        {
            foreach (var connection in _connections.Values)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }

            if (_nsqd is not null)
            {
                await _nsqd.DisposeAsync().ConfigureAwait(false);
            }

            if (auth is not null)
            {
                await auth.DisposeAsync().ConfigureAwait(false);
            }
        }

        return _failures;
    }

    /// <summary>
    /// What the scenario's auth service answers. A fixture run with <c>--auth-http-address</c> but
    /// without its own <c>auth_service</c> text used the capture's one scenario-local auth service
    /// (port 4181), which another fixture describes.
    /// </summary>
    private static string? AuthServiceDescription(ConformanceFixture fixture)
    {
        if (fixture.Json.TryGetProperty("auth_service", out var own))
        {
            return own.GetString();
        }

        if (fixture.ServerFlag("--auth-http-address") is null)
        {
            return null;
        }

        return ConformanceFixtures.LoadAllTcp()
            .Select(f => f.Json.TryGetProperty("auth_service", out var text) ? text.GetString() : null)
            .FirstOrDefault(text => text is not null);
    }

    private void Fail(ConformanceStep step, string message) => _failures.Add($"step {step.Number} ({step.Action} {step.Conn} {step.SendText}): {message}");

    private async Task RunStepAsync(ConformanceStep step, CancellationToken cancellationToken)
    {
        switch (step.Action)
        {
            case "connect":
                _connections[step.Conn!] = await ReplayConnection.ConnectAsync(_nsqd!.TcpEndPoint, cancellationToken).ConfigureAwait(false);
                break;
            case "send":
            case "receive":
                await SendAndReceiveAsync(step, cancellationToken).ConfigureAwait(false);
                break;
            case "tls_handshake":
                await HandshakeAsync(step, cancellationToken).ConfigureAwait(false);
                break;
            case "start_compression":
                _connections[step.Conn!].StartCompression(step.Compression!);
                break;
            case "sleep":
                if (step.Until is { } until)
                {
                    // "nsqd_start+5400ms" only waits for nsqd's 5 s queue-scan channel refresh (see the
                    // README's "Queue scan"); the embedded server scans every channel promptly, so the
                    // scenario needs no wait here.
                    if (!until.StartsWith("nsqd_start+", StringComparison.Ordinal))
                    {
                        Fail(step, $"unknown sleep target '{until}'");
                    }
                }
                else if (step.Ms is { } ms)
                {
                    await Task.Delay(ms, cancellationToken).ConfigureAwait(false);
                }

                break;
            case "close":
                _connections[step.Conn!].Close();
                break;
            default:
                Fail(step, $"unknown action '{step.Action}'");
                break;
        }
    }

    private async Task HandshakeAsync(ConformanceStep step, CancellationToken cancellationToken)
    {
        var connection = _connections[step.Conn!];
        var certificate = step.ClientCertificate == true ? TestCertificates.Client : null;
        byte[] first;
        try
        {
            first = await connection.StartTlsAsync(certificate, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is System.Security.Authentication.AuthenticationException or IOException)
        {
            if (step.Result != "failed")
            {
                Fail(step, $"handshake failed: {ex.Message}");
            }

            return;
        }

        if (step.Result == "failed")
        {
            Fail(step, "handshake succeeded, the recording says it failed");
        }

        if (step.ServerFirstBytesPattern is { } pattern)
        {
            var length = ConformanceHex.PatternLength(pattern);
            if (first.Length < length || !ConformanceHex.Matches(first.AsSpan(0, length), pattern))
            {
                Fail(step, $"server's first TLS bytes {ConformanceHex.Format(first.AsSpan(0, Math.Min(first.Length, 16)))} do not match {pattern}");
            }
        }
    }

    private async Task SendAndReceiveAsync(ConformanceStep step, CancellationToken cancellationToken)
    {
        var connection = _connections[step.Conn!];

        // Lower bounds for "not earlier than requested" use the moment before the write: the server
        // may act on the bytes before this task resumes after the write.
        var sendStarted = Stopwatch.GetTimestamp();
        if (step.Action == "send")
        {
            var bytes = step.ResolveSendBytes(_ids) ?? [];
            await connection.SendAsync(bytes, cancellationToken).ConfigureAwait(false);
            _sent.Add((step.Conn!, sendStarted, bytes));
        }

        _currentSendStarted = sendStarted;
        var start = Stopwatch.GetTimestamp();
        var expected = step.Frames;
        var read = await ReadAsync(connection, step, start, cancellationToken).ConfigureAwait(false);

        if (expected is null)
        {
            // Only identify_heartbeat_unanswered: the count of heartbeats before the close is timing-dependent.
            if (read.Frames.Count == 0 || read.Frames.Any(f => f.Type != 0 || !f.Data.AsSpan().SequenceEqual("_heartbeat_"u8)))
            {
                Fail(step, $"expected only heartbeats ({step.FramesSummary}), got {Describe(read.Frames)}");
            }
        }
        else
        {
            CompareFrames(step, expected, read.Frames);
        }

        CompareBytes(step, read.Bytes);
        CheckTiming(step, expected, read, start);
        await CheckConnectionAsync(step, connection, cancellationToken).ConfigureAwait(false);
    }

    private sealed record ReceivedFrame(int Type, int Size, byte[] Data);

    private sealed record ReadResult(List<ReceivedFrame> Frames, byte[] Bytes, long? FirstFrameAt, bool Closed);

    private async Task<ReadResult> ReadAsync(ReplayConnection connection, ConformanceStep step, long start, CancellationToken cancellationToken)
    {
        var rule = step.Read!;
        var queue = connection.Top;
        var max = TimeSpan.FromMilliseconds(rule.MaxMs ?? 3000);
        var expectedCount = step.Frames?.Count ?? -1;
        long? firstFrameAt = null;
        int take;
        while (true)
        {
            var (count, completeLength) = CountFrames(queue.Snapshot(), int.MaxValue);
            if (count > 0)
            {
                firstFrameAt ??= Stopwatch.GetTimestamp();
            }

            var elapsed = Stopwatch.GetElapsedTime(start);
            TimeSpan wait;
            if (rule.StopAfterFrames is { } stopAfter)
            {
                if (count >= stopAfter || queue.IsEnded || elapsed >= max)
                {
                    take = CountFrames(queue.Snapshot(), stopAfter).Length;
                    break;
                }

                wait = max - elapsed;
            }
            else if (rule.UntilFrames is { } until)
            {
                if (count >= until || queue.IsEnded || elapsed >= max)
                {
                    take = CountFrames(queue.Snapshot(), until).Length;
                    break;
                }

                wait = max - elapsed;
            }
            else
            {
                var idle = TimeSpan.FromMilliseconds(rule.IdleMs ?? 250);

                // Once everything the recording saw has arrived, a short quiet period is enough to
                // notice extra frames; an expectation of "nothing" keeps the fixture's full window.
                if (expectedCount > 0 && count >= expectedCount && idle > s_settle)
                {
                    idle = s_settle;
                }

                var lastActivity = Math.Max(start, queue.LastAppendTimestamp);
                var quiet = Stopwatch.GetElapsedTime(lastActivity);

                // The idle window is how the recording decided that nothing more was coming; frames it
                // did see are waited for up to max_ms, so a busy test machine cannot make them "late".
                var missing = expectedCount > 0 && count < expectedCount;
                if (queue.IsEnded || (quiet >= idle && !missing) || elapsed >= max)
                {
                    take = completeLength;
                    break;
                }

                wait = missing ? max - elapsed : Min(idle - quiet, max - elapsed);
            }

            await queue.WaitChangedAsync(wait, cancellationToken).ConfigureAwait(false);
        }

        var bytes = queue.Take(take);
        var frames = new List<ReceivedFrame>();
        var sequence = new ReadOnlySequence<byte>(bytes);
        while (NsqFrameReader.TryReadFrame(ref sequence, out var frame, int.MaxValue))
        {
            frames.Add(new ReceivedFrame((int)frame.Type, frame.Size, frame.Data.ToArray()));
        }

        return new ReadResult(frames, bytes, firstFrameAt, connection.IsClosed);
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    /// <summary>Complete frames at the start of <paramref name="bytes"/> (at most <paramref name="limit"/>) and their total length.</summary>
    private static (int Count, int Length) CountFrames(byte[] bytes, int limit)
    {
        var count = 0;
        var offset = 0;
        while (count < limit && bytes.Length - offset >= 4)
        {
            var size = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(offset));
            if (size < 4 || bytes.Length - offset - 4 < size)
            {
                break;
            }

            offset += 4 + size;
            count++;
        }

        return (count, offset);
    }

    private void CompareFrames(ConformanceStep step, IReadOnlyList<ConformanceFrame> expected, List<ReceivedFrame> actual)
    {
        if (expected.Count != actual.Count)
        {
            Fail(step, $"expected {expected.Count} frame(s) [{string.Join(", ", expected)}], got {actual.Count}: {Describe(actual)}");
            return;
        }

        for (var i = 0; i < expected.Count; i++)
        {
            var want = expected[i];
            var got = actual[i];
            var label = $"frame {i + 1}";
            if (want.FrameType != got.Type)
            {
                Fail(step, $"{label}: frame type {got.Type}, expected {want.FrameType} ({want})");
                continue;
            }

            if (!want.IsMessage)
            {
                var data = want.ExactData ?? want.ResolveTemplate(_ids);
                if (data is not null && !data.AsSpan().SequenceEqual(got.Data))
                {
                    Fail(step, $"{label}: data '{Encoding.Latin1.GetString(got.Data)}', expected '{Encoding.Latin1.GetString(data)}'");
                }

                if (want.Size != got.Size)
                {
                    Fail(step, $"{label}: size {got.Size}, expected {want.Size}");
                }

                continue;
            }

            CompareMessage(step, label, want, got);
        }
    }

    private void CompareMessage(ConformanceStep step, string label, ConformanceFrame want, ReceivedFrame got)
    {
        if (got.Data.Length < NsqMessageFrame.HeaderLength)
        {
            Fail(step, $"{label}: message frame too short ({got.Data.Length} bytes)");
            return;
        }

        var timestamp = BinaryPrimitives.ReadInt64BigEndian(got.Data);
        var attempts = BinaryPrimitives.ReadUInt16BigEndian(got.Data.AsSpan(8));
        var id = got.Data.AsSpan(10, 16).ToArray();
        var body = got.Data.AsSpan(26).ToArray();
        if (want.Size != got.Size)
        {
            Fail(step, $"{label}: size {got.Size}, expected {want.Size}");
        }

        if (want.Attempts is { } wantAttempts && wantAttempts != attempts)
        {
            Fail(step, $"{label}: attempts {attempts}, expected {wantAttempts}");
        }

        if (want.BodyText is { } text && !Encoding.UTF8.GetBytes(text).AsSpan().SequenceEqual(body))
        {
            Fail(step, $"{label}: body '{Encoding.UTF8.GetString(body)}', expected '{text}'");
        }

        if (want.BodyLength is { } length && length != body.Length)
        {
            Fail(step, $"{label}: body length {body.Length}, expected {length}");
        }

        if (want.IdIs16AsciiHex == true && !id.All(b => b is (>= (byte)'0' and <= (byte)'9') or (>= (byte)'a' and <= (byte)'f')))
        {
            Fail(step, $"{label}: id {Encoding.Latin1.GetString(id)} is not 16 lower-case hex characters");
        }

        if (want.TimestampIsUnixNsNearNow == true)
        {
            var now = (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks * 100;
            if (Math.Abs(now - timestamp) > TimeSpan.FromMinutes(1).Ticks * 100)
            {
                Fail(step, $"{label}: timestamp {timestamp} is not near now ({now})");
            }
        }

        if (want.IdSameAs is { } sameId && (!_ids.TryGetValue(sameId, out var earlier) || !earlier.AsSpan().SequenceEqual(id)))
        {
            Fail(step, $"{label}: id {Encoding.Latin1.GetString(id)} is not the id of {sameId}");
        }

        if (want.TimestampSameAs is { } sameTimestamp && (!_timestamps.TryGetValue(sameTimestamp, out var earlierTimestamp) || earlierTimestamp != timestamp))
        {
            Fail(step, $"{label}: timestamp {timestamp} is not the timestamp of {sameTimestamp}");
        }

        var reference = want.Ref ?? $"m{_messageCount + 1}";
        _messageCount++;
        _ids[reference] = id;
        _timestamps[reference] = timestamp;
        _deliveryStepStarts[reference] = _currentSendStarted;
    }

    private void CompareBytes(ConformanceStep step, byte[] bytes)
    {
        var layer = step.Layer ?? "plain";
        var onPlainBytes = layer is "plain" or "tls";
        if (onPlainBytes)
        {
            if (step.RawHex is { } raw && !string.Equals(raw, ConformanceHex.Format(bytes), StringComparison.Ordinal))
            {
                Fail(step, $"raw bytes {ConformanceHex.Format(bytes)}, expected {raw}");
            }
            else if (step.RawHex is null && step.RawPattern is { } pattern && !ConformanceHex.Matches(bytes, pattern))
            {
                Fail(step, $"raw bytes {ConformanceHex.Format(bytes)} do not match {pattern}");
            }

            return;
        }

        if (step.DecodedHex is { } decoded && !string.Equals(decoded, ConformanceHex.Format(bytes), StringComparison.Ordinal))
        {
            Fail(step, $"decoded bytes {ConformanceHex.Format(bytes)}, expected {decoded}");
        }
        else if (step.DecodedHex is null && step.DecodedPattern is { } pattern && !ConformanceHex.Matches(bytes, pattern))
        {
            Fail(step, $"decoded bytes {ConformanceHex.Format(bytes)} do not match {pattern}");
        }
    }

    private async Task CheckConnectionAsync(ConformanceStep step, ReplayConnection connection, CancellationToken cancellationToken)
    {
        switch (step.ConnectionAfter)
        {
            case "closed":
                // The server closes right after the error frame; allow the FIN a moment to arrive.
                var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency;
                while (!connection.IsClosed && Stopwatch.GetTimestamp() < deadline)
                {
                    await connection.Raw.WaitChangedAsync(TimeSpan.FromMilliseconds(50), cancellationToken).ConfigureAwait(false);
                }

                if (!connection.IsClosed)
                {
                    Fail(step, "connection still open, the recording says the server closed it");
                }

                break;
            case "open":
                if (connection.Raw.IsEnded)
                {
                    Fail(step, $"connection closed ({connection.Raw.EndKind}), the recording says it stayed open");
                }

                break;
        }
    }

    /// <summary>
    /// Timing windows: never earlier than the fixture's minimum or than what the scenario asked for,
    /// never later than the fixture's maximum. Where nsqd's minimum only reflects its 5 s queue-scan
    /// refresh (the README allows a more prompt server), the semantic bound (the requested delay) is
    /// the minimum.
    /// </summary>
    private void CheckTiming(ConformanceStep step, IReadOnlyList<ConformanceFrame>? expected, ReadResult read, long stepStart)
    {
        if (step.Timing is not { } timing || read.FirstFrameAt is not { } firstAt)
        {
            if (step.Timing is not null)
            {
                Fail(step, "no frame arrived to time");
            }

            return;
        }

        var elapsedMs = Stopwatch.GetElapsedTime(stepStart, firstAt).TotalMilliseconds;
        var semantic = SemanticEarliest(step, expected?.FirstOrDefault());
        var minimum = (double)(timing.FirstFrameMinMs ?? 0);
        if (semantic is { } earliest)
        {
            var semanticMs = Stopwatch.GetElapsedTime(stepStart, earliest).TotalMilliseconds;
            if (earliest < stepStart)
            {
                semanticMs = -Stopwatch.GetElapsedTime(earliest, stepStart).TotalMilliseconds;
            }

            if (firstAt < earliest)
            {
                Fail(step, $"first frame after {elapsedMs:F0} ms, earlier than the requested delay allows ({semanticMs:F0} ms)");
            }

            if (!ScanRefreshUnwaited(step))
            {
                minimum = Math.Min(minimum, Math.Max(semanticMs, 0));
            }
            else
            {
                minimum = Math.Max(semanticMs, 0);
            }
        }

        if (elapsedMs < minimum - 1)
        {
            Fail(step, $"first frame after {elapsedMs:F0} ms, expected at least {minimum:F0} ms");
        }

        if (timing.FirstFrameMaxMs is { } maximum && elapsedMs > maximum)
        {
            Fail(step, $"first frame after {elapsedMs:F0} ms, expected at most {maximum} ms");
        }
    }

    /// <summary>Whether nsqd's minimum for this step came from its channel-list refresh (no refresh sleep happened before it).</summary>
    private bool ScanRefreshUnwaited(ConformanceStep step) =>
        !_fixture.Steps.TakeWhile(s => s.Number < step.Number).Any(s => s.Action == "sleep" && s.Until is not null);

    /// <summary>The earliest moment the first expected frame may arrive, from what this scenario sent.</summary>
    private long? SemanticEarliest(ConformanceStep step, ConformanceFrame? frame)
    {
        if (frame is null)
        {
            return null;
        }

        var frequency = Stopwatch.Frequency;
        if (frame.Type == "response" && frame.DataText == "_heartbeat_")
        {
            var identify = _sent.LastOrDefault(s => s.Conn == step.Conn && StartsWith(s.Bytes, "IDENTIFY\n"));
            var interval = IdentifyValue(identify.Bytes, "heartbeat_interval");
            return identify.Bytes is null || interval is not > 0 ? null : identify.At + (interval.Value * frequency / 1000);
        }

        if (!frame.IsMessage)
        {
            return null;
        }

        if (frame.IdSameAs is { } same && _ids.TryGetValue(same, out var id))
        {
            var requeue = _sent.LastOrDefault(s => s.Conn == step.Conn && StartsWith(s.Bytes, "REQ ") && s.Bytes.AsSpan().IndexOf(id) > 0);
            if (requeue.Bytes is not null)
            {
                var text = Encoding.ASCII.GetString(requeue.Bytes).TrimEnd('\n', '\r');
                var delay = long.Parse(text[(text.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
                var max = (long)TcpFixtureOptions.MaxReqTimeout(_fixture.ServerFlags).TotalMilliseconds;
                return requeue.At + (Math.Min(delay, max) * frequency / 1000);
            }

            var identify = _sent.LastOrDefault(s => s.Conn == step.Conn && StartsWith(s.Bytes, "IDENTIFY\n"));
            var timeout = IdentifyValue(identify.Bytes, "msg_timeout") ?? 60_000;
            return _deliveryStepStarts[same] + (timeout * frequency / 1000);
        }

        var dpub = _sent.LastOrDefault(s => StartsWith(s.Bytes, "DPUB "));
        if (dpub.Bytes is null)
        {
            return null;
        }

        var line = Encoding.ASCII.GetString(dpub.Bytes, 0, dpub.Bytes.AsSpan().IndexOf((byte)'\n'));
        var deferMs = long.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        return dpub.At + (deferMs * frequency / 1000);
    }

    private static bool StartsWith(byte[]? bytes, string prefix) => bytes is not null && bytes.AsSpan().StartsWith(Encoding.ASCII.GetBytes(prefix));

    private static long? IdentifyValue(byte[]? identify, string property)
    {
        if (identify is null || identify.Length < 13)
        {
            return null;
        }

        try
        {
            using var json = JsonDocument.Parse(identify.AsMemory(13));
            return json.RootElement.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetInt64() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private void CheckAuthRequests(FixtureAuthService auth)
    {
        if (!_fixture.Json.TryGetProperty("auth_service_requests", out var expected))
        {
            return;
        }

        var actual = auth.Requests;
        var wanted = expected.EnumerateArray().ToArray();
        if (wanted.Length != actual.Count)
        {
            _failures.Add($"auth service got {actual.Count} request(s), the recording {wanted.Length}");
            return;
        }

        for (var i = 0; i < wanted.Length; i++)
        {
            var want = wanted[i];
            var got = actual[i];
            if (want.GetProperty("method").GetString() != got.Method || want.GetProperty("path").GetString() != got.Path)
            {
                _failures.Add($"auth request {i + 1}: {got.Method} {got.Path}, expected {want.GetProperty("method")} {want.GetProperty("path")}");
            }

            if (want.TryGetProperty("accept", out var accept) && accept.GetString() != got.Accept)
            {
                _failures.Add($"auth request {i + 1}: Accept '{got.Accept}', expected '{accept.GetString()}'");
            }

            var query = want.GetProperty("query").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "");
            if (query.Count != got.Query.Count || query.Any(q => !got.Query.TryGetValue(q.Key, out var value) || value != q.Value))
            {
                _failures.Add($"auth request {i + 1}: query {string.Join('&', got.Query.Select(q => q.Key + "=" + q.Value))}, expected {string.Join('&', query.Select(q => q.Key + "=" + q.Value))}");
            }
        }
    }

    private static string Describe(List<ReceivedFrame> frames) =>
        frames.Count == 0 ? "nothing" : string.Join(", ", frames.Select(f => f.Type == 2 ? $"message({f.Size})" : $"{(f.Type == 0 ? "response" : "error")} '{Encoding.Latin1.GetString(f.Data)}'"));
}
