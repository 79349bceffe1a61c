using System.Buffers;
using System.Text;
using NsqTyped.Protocol;
using NsqTyped.Testing.Nsqd.Broker;

namespace NsqTyped.Testing.Nsqd.Tcp;

internal enum ParseStatus
{
    NeedMore,
    Ready,
    RefreshAuth,
}

/// <summary>A parsed command; views into the session's line scratch and the receive buffer.</summary>
internal struct NsqdCommand
{
    public NsqCommandVerb Verb;
    public int ParamCount;
    public Range P0;
    public Range P1;
    public Range P2;
    public ReadOnlySequence<byte> Body;
    public int MessageCount;
    public NsqdTopic? Topic;
    public string? TopicName;
    public string? ChannelName;
    public long Number;
    public NsqMessageId Id;
    public NsqIdentifyRequest? Identify;
}

/// <summary>
/// Command parsing and execution, in nsqd's order of checks (<c>protocol_v2.go</c> Exec and the
/// command methods) so the same input gets the same error. Parsing is pure until a command is
/// complete, so a command that has not fully arrived is simply parsed again with more bytes.
/// </summary>
internal sealed partial class NsqdTcpSession
{
    private static readonly byte[] s_ok = "OK"u8.ToArray();
    private static readonly byte[] s_closeWait = "CLOSE_WAIT"u8.ToArray();
    // Go's encoding/json matches keys case-insensitively; the protocol core's metadata, with that switched on.
    private static readonly System.Text.Json.Serialization.Metadata.JsonTypeInfo<NsqIdentifyRequest> s_identifyJson =
        (System.Text.Json.Serialization.Metadata.JsonTypeInfo<NsqIdentifyRequest>)new System.Text.Json.JsonSerializerOptions(NsqProtocolJsonContext.Default.Options)
        {
            PropertyNameCaseInsensitive = true,
        }.GetTypeInfo(typeof(NsqIdentifyRequest));

    private byte[] _cachedTopicName = [];
    private NsqdTopic? _cachedTopic;

    private ParseStatus TryParse(ref ReadOnlySequence<byte> buffer, ref NsqdCommand command)
    {
        var rest = buffer;
        if (!NsqCommandReader.TryReadLine(ref rest, out var lineSequence, MaxLineLength))
        {
            return ParseStatus.NeedMore;
        }

        var length = (int)lineSequence.Length;
        lineSequence.CopyTo(_line);
        var line = _line.AsSpan(0, length);
        Span<Range> ranges = stackalloc Range[4];
        var count = NsqCommandReader.SplitParameters(line, ranges);
        command.ParamCount = count;
        command.P0 = ranges[0];
        command.P1 = count > 1 ? ranges[1] : default;
        command.P2 = count > 2 ? ranges[2] : default;
        var verb = NsqCommandReader.ParseVerb(line[ranges[0]]);
        command.Verb = verb;

        if (verb != NsqCommandVerb.Identify && _options.TlsRequired != NsqdTlsRequirement.NotRequired && !Tls)
        {
            throw NsqdClientException.Fatal($"E_INVALID cannot {Param(command.P0)} in current state (TLS required)");
        }

        ParseStatus status;
        switch (verb)
        {
            case NsqCommandVerb.Identify:
                status = ParseIdentify(ref rest, ref command);
                break;
            case NsqCommandVerb.Auth:
                status = ParseAuth(ref rest, ref command);
                break;
            case NsqCommandVerb.Pub:
                status = ParsePub(ref rest, ref command, "PUB", deferred: false);
                break;
            case NsqCommandVerb.Dpub:
                status = ParsePub(ref rest, ref command, "DPUB", deferred: true);
                break;
            case NsqCommandVerb.Mpub:
                status = ParseMpub(ref rest, ref command);
                break;
            case NsqCommandVerb.Sub:
                status = ParseSub(ref command);
                break;
            case NsqCommandVerb.Rdy:
                status = ParseRdy(ref command);
                break;
            case NsqCommandVerb.Fin:
                status = ParseInFlightCommand(ref command, "FIN", needsTimeout: false);
                break;
            case NsqCommandVerb.Req:
                status = ParseInFlightCommand(ref command, "REQ", needsTimeout: true);
                break;
            case NsqCommandVerb.Touch:
                status = ParseInFlightCommand(ref command, "TOUCH", needsTimeout: false);
                break;
            case NsqCommandVerb.Cls:
                if (State != NsqdClientState.Subscribed)
                {
                    throw NsqdClientException.Fatal("E_INVALID cannot CLS in current state");
                }

                status = ParseStatus.Ready;
                break;
            case NsqCommandVerb.Nop:
                status = ParseStatus.Ready;
                break;
            default:
                throw NsqdClientException.Fatal($"E_INVALID invalid command {Param(command.P0)}");
        }

        if (status == ParseStatus.Ready)
        {
            buffer = rest;
        }

        return status;
    }

    private string Param(Range range) => NsqdClientException.Raw(_line.AsSpan()[range]);

    private string QuoteParam(Range range) => NsqdClientException.Quote(_line.AsSpan()[range]);

    private ParseStatus ParseIdentify(ref ReadOnlySequence<byte> rest, ref NsqdCommand command)
    {
        if (State != NsqdClientState.Init)
        {
            throw NsqdClientException.Fatal("E_INVALID cannot IDENTIFY in current state");
        }

        if (!NsqCommandReader.TryReadInt32(ref rest, out var size))
        {
            return ParseStatus.NeedMore;
        }

        if (size > _options.MaxBodySize)
        {
            throw NsqdClientException.Fatal($"E_BAD_BODY IDENTIFY body too big {size} > {_options.MaxBodySize}");
        }

        if (size <= 0)
        {
            throw NsqdClientException.Fatal($"E_BAD_BODY IDENTIFY invalid body size {size}");
        }

        if (!NsqCommandReader.TryReadBytes(ref rest, size, out var body))
        {
            return ParseStatus.NeedMore;
        }

        try
        {
            var json = body.IsSingleSegment ? body.FirstSpan : body.ToArray();
            command.Identify = System.Text.Json.JsonSerializer.Deserialize(json, s_identifyJson)
                ?? new NsqIdentifyRequest();
        }
        catch (System.Text.Json.JsonException)
        {
            throw NsqdClientException.Fatal("E_BAD_BODY IDENTIFY failed to decode JSON body");
        }

        return ParseStatus.Ready;
    }

    private ParseStatus ParseAuth(ref ReadOnlySequence<byte> rest, ref NsqdCommand command)
    {
        if (State != NsqdClientState.Init)
        {
            throw NsqdClientException.Fatal("E_INVALID cannot AUTH in current state");
        }

        if (command.ParamCount != 1)
        {
            throw NsqdClientException.Fatal("E_INVALID AUTH invalid number of parameters");
        }

        if (!NsqCommandReader.TryReadInt32(ref rest, out var size))
        {
            return ParseStatus.NeedMore;
        }

        if (size > _options.MaxBodySize)
        {
            throw NsqdClientException.Fatal($"E_BAD_BODY AUTH body too big {size} > {_options.MaxBodySize}");
        }

        if (size <= 0)
        {
            throw NsqdClientException.Fatal($"E_BAD_BODY AUTH invalid body size {size}");
        }

        if (!NsqCommandReader.TryReadBytes(ref rest, size, out var body))
        {
            return ParseStatus.NeedMore;
        }

        command.Body = body;
        return ParseStatus.Ready;
    }

    private ParseStatus ParsePub(ref ReadOnlySequence<byte> rest, ref NsqdCommand command, string name, bool deferred)
    {
        if (command.ParamCount < (deferred ? 3 : 2))
        {
            throw NsqdClientException.Fatal($"E_INVALID {name} insufficient number of parameters");
        }

        var topicName = ValidTopicName(command.P1, $"E_BAD_TOPIC {name}");
        if (deferred)
        {
            if (!TryParseBase10(_line.AsSpan()[command.P2], out var milliseconds))
            {
                throw NsqdClientException.Fatal($"E_INVALID DPUB could not parse timeout {Param(command.P2)}");
            }

            // Go: time.Duration(ms) * time.Millisecond, overflow wrapping to negative included.
            var nanoseconds = unchecked((long)milliseconds * 1_000_000);
            var max = (long)_options.MaxReqTimeout.TotalMilliseconds;
            if (nanoseconds < 0 || nanoseconds > max * 1_000_000)
            {
                throw NsqdClientException.Fatal($"E_INVALID DPUB timeout {milliseconds} out of range 0-{max}");
            }

            command.Number = nanoseconds / 1_000_000;
        }

        if (!NsqCommandReader.TryReadInt32(ref rest, out var size))
        {
            return ParseStatus.NeedMore;
        }

        if (size <= 0)
        {
            throw NsqdClientException.Fatal($"E_BAD_MESSAGE {name} invalid message body size {size}");
        }

        if (size > _options.MaxMsgSize)
        {
            throw NsqdClientException.Fatal($"E_BAD_MESSAGE {name} message too big {size} > {_options.MaxMsgSize}");
        }

        if (!NsqCommandReader.TryReadBytes(ref rest, size, out var body))
        {
            return ParseStatus.NeedMore;
        }

        if (!CheckAuth(name, topicName, ""))
        {
            return ParseStatus.RefreshAuth;
        }

        command.Body = body;
        command.TopicName = topicName;
        return ParseStatus.Ready;
    }

    private ParseStatus ParseMpub(ref ReadOnlySequence<byte> rest, ref NsqdCommand command)
    {
        if (command.ParamCount < 2)
        {
            throw NsqdClientException.Fatal("E_INVALID MPUB insufficient number of parameters");
        }

        // nsqd 1.3.0 really doubles the code in this one message.
        var topicName = ValidTopicName(command.P1, "E_BAD_TOPIC E_BAD_TOPIC MPUB");
        if (!CheckAuth("MPUB", topicName, ""))
        {
            return ParseStatus.RefreshAuth;
        }

        var topic = GetTopic(command.P1, topicName);
        if (!NsqCommandReader.TryReadInt32(ref rest, out var bodySize))
        {
            return ParseStatus.NeedMore;
        }

        if (bodySize <= 0)
        {
            throw NsqdClientException.Fatal($"E_BAD_BODY MPUB invalid body size {bodySize}");
        }

        if (bodySize > _options.MaxBodySize)
        {
            throw NsqdClientException.Fatal($"E_BAD_BODY MPUB body too big {bodySize} > {_options.MaxBodySize}");
        }

        if (!NsqCommandReader.TryReadInt32(ref rest, out var messageCount))
        {
            return ParseStatus.NeedMore;
        }

        var maxMessages = (_options.MaxBodySize - 4) / 5;
        if (messageCount <= 0 || messageCount > maxMessages)
        {
            throw NsqdClientException.Fatal($"E_BAD_BODY MPUB invalid message count {messageCount}");
        }

        // The declared body size is not used to find the end: nsqd reads exactly the messages.
        var messages = rest;
        for (var i = 0; i < messageCount; i++)
        {
            if (!NsqCommandReader.TryReadInt32(ref rest, out var size))
            {
                return ParseStatus.NeedMore;
            }

            if (size <= 0)
            {
                throw NsqdClientException.Fatal($"E_BAD_MESSAGE MPUB invalid message({i}) body size {size}");
            }

            if (size > _options.MaxMsgSize)
            {
                throw NsqdClientException.Fatal($"E_BAD_MESSAGE MPUB message too big {size} > {_options.MaxMsgSize}");
            }

            if (rest.Length < size)
            {
                return ParseStatus.NeedMore;
            }

            rest = rest.Slice(size);
        }

        command.Body = messages.Slice(0, rest.Start);
        command.MessageCount = messageCount;
        command.Topic = topic;
        return ParseStatus.Ready;
    }

    private ParseStatus ParseSub(ref NsqdCommand command)
    {
        if (State != NsqdClientState.Init)
        {
            throw NsqdClientException.Fatal("E_INVALID cannot SUB in current state");
        }

        if (HeartbeatInterval <= TimeSpan.Zero)
        {
            throw NsqdClientException.Fatal("E_INVALID cannot SUB with heartbeats disabled");
        }

        if (command.ParamCount < 3)
        {
            throw NsqdClientException.Fatal("E_INVALID SUB insufficient number of parameters");
        }

        var topicName = ValidTopicName(command.P1, "E_BAD_TOPIC SUB");
        var channelBytes = _line.AsSpan()[command.P2];
        var channelName = Encoding.Latin1.GetString(channelBytes);
        if (!NsqNames.IsValidChannelName(channelName))
        {
            throw NsqdClientException.Fatal($"E_BAD_CHANNEL SUB channel name {QuoteParam(command.P2)} is not valid");
        }

        if (!CheckAuth("SUB", topicName, channelName))
        {
            return ParseStatus.RefreshAuth;
        }

        command.TopicName = topicName;
        command.ChannelName = channelName;
        return ParseStatus.Ready;
    }

    private ParseStatus ParseRdy(ref NsqdCommand command)
    {
        var state = State;
        if (state == NsqdClientState.Closing)
        {
            // nsqd ignores RDY after CLS.
            command.Number = -1;
            return ParseStatus.Ready;
        }

        if (state != NsqdClientState.Subscribed)
        {
            throw NsqdClientException.Fatal("E_INVALID cannot RDY in current state");
        }

        long count = 1;
        if (command.ParamCount > 1)
        {
            if (!TryParseBase10(_line.AsSpan()[command.P1], out var parsed))
            {
                throw NsqdClientException.Fatal($"E_INVALID RDY could not parse count {Param(command.P1)}");
            }

            count = unchecked((long)parsed);
        }

        if (count < 0 || count > _options.MaxRdyCount)
        {
            throw NsqdClientException.Fatal($"E_INVALID RDY count {count} out of range 0-{_options.MaxRdyCount}");
        }

        command.Number = count;
        return ParseStatus.Ready;
    }

    private ParseStatus ParseInFlightCommand(ref NsqdCommand command, string name, bool needsTimeout)
    {
        var state = State;
        if (state != NsqdClientState.Subscribed && state != NsqdClientState.Closing)
        {
            throw NsqdClientException.Fatal($"E_INVALID cannot {name} in current state");
        }

        if (command.ParamCount < (needsTimeout ? 3 : 2))
        {
            throw NsqdClientException.Fatal($"E_INVALID {name} insufficient number of params");
        }

        var id = _line.AsSpan()[command.P1];
        if (id.Length != NsqMessageId.Length)
        {
            throw NsqdClientException.Fatal("E_INVALID invalid message ID");
        }

        command.Id = NsqMessageId.Read(id);
        if (needsTimeout)
        {
            if (!TryParseBase10(_line.AsSpan()[command.P2], out var milliseconds))
            {
                throw NsqdClientException.Fatal($"E_INVALID REQ could not parse timeout {Param(command.P2)}");
            }

            // Go: negative (overflowed) durations become 0, longer than max-req-timeout is clamped.
            var nanoseconds = unchecked((long)milliseconds * 1_000_000);
            var maxNanoseconds = _options.MaxReqTimeout.Ticks * 100;
            command.Number = nanoseconds < 0 ? 0 : Math.Min(nanoseconds, maxNanoseconds) / 100;
        }

        return ParseStatus.Ready;
    }

    /// <summary>nsqd's ByteToBase10: digits only (no sign), wrapping on overflow; empty is 0.</summary>
    private static bool TryParseBase10(ReadOnlySpan<byte> digits, out ulong value)
    {
        value = 0;
        foreach (var d in digits)
        {
            if (d is < (byte)'0' or > (byte)'9')
            {
                value = 0;
                return false;
            }

            value = unchecked((value * 10) + (ulong)(d - '0'));
        }

        return true;
    }

    private string ValidTopicName(Range range, string errorPrefix)
    {
        var bytes = _line.AsSpan()[range];
        if (_cachedTopic is { IsDeleted: false } cached && bytes.SequenceEqual(_cachedTopicName))
        {
            return cached.Name;
        }

        var name = Encoding.Latin1.GetString(bytes);
        if (!NsqNames.IsValidTopicName(name))
        {
            throw NsqdClientException.Fatal($"{errorPrefix} topic name {QuoteParam(range)} is not valid");
        }

        return name;
    }

    /// <summary>The topic for a publish, remembered by name bytes so a publisher's hot loop allocates no strings.</summary>
    private NsqdTopic GetTopic(Range range, string name)
    {
        if (_cachedTopic is { IsDeleted: false } cached && ReferenceEquals(cached.Name, name))
        {
            return cached;
        }

        var topic = _broker.GetOrCreateTopic(name);
        _cachedTopic = topic;
        _cachedTopicName = _line.AsSpan()[range].ToArray();
        return topic;
    }

    private ValueTask ExecuteAsync(NsqdCommand command)
    {
        switch (command.Verb)
        {
            case NsqCommandVerb.Nop:
                break;
            case NsqCommandVerb.Pub:
            case NsqCommandVerb.Dpub:
                ExecutePub(command);
                break;
            case NsqCommandVerb.Mpub:
                ExecuteMpub(command);
                break;
            case NsqCommandVerb.Sub:
                ExecuteSub(command);
                break;
            case NsqCommandVerb.Rdy:
                if (command.Number >= 0)
                {
                    Channel!.SetReady(this, command.Number);
                }

                break;
            case NsqCommandVerb.Fin:
                CheckInFlightResult(Channel!.Finish(this, command.Id), "E_FIN_FAILED FIN", command.Id);
                break;
            case NsqCommandVerb.Req:
                CheckInFlightResult(Channel!.Requeue(this, command.Id, TimeSpan.FromTicks(command.Number)), "E_REQ_FAILED REQ", command.Id);
                break;
            case NsqCommandVerb.Touch:
                CheckInFlightResult(Channel!.Touch(this, command.Id), "E_TOUCH_FAILED TOUCH", command.Id);
                break;
            case NsqCommandVerb.Cls:
                Channel!.StartClose(this);
                _output.WriteFrame(NsqdFrameWriter.FrameTypeResponse, s_closeWait);
                break;
            case NsqCommandVerb.Identify:
                ExecuteIdentify(command.Identify!);
                break;
            case NsqCommandVerb.Auth:
                return ExecuteAuthAsync(command.Body.ToArray());
        }

        return default;
    }

    private static void CheckInFlightResult(NsqdInFlightResult result, string prefix, NsqMessageId id)
    {
        if (result == NsqdInFlightResult.Ok)
        {
            return;
        }

        var reason = result == NsqdInFlightResult.NotOwner ? "client does not own message" : "ID not in flight";
        Span<byte> bytes = stackalloc byte[NsqMessageId.Length];
        id.CopyTo(bytes);
        throw NsqdClientException.NonFatal($"{prefix} {NsqdClientException.Raw(bytes)} failed {reason}");
    }

    private void ExecutePub(in NsqdCommand command)
    {
        var topic = GetTopic(command.P1, command.TopicName!);
        var body = command.Body.ToArray();
        try
        {
            if (command.Verb == NsqCommandVerb.Dpub)
            {
                topic.PublishDeferred(body, TimeSpan.FromMilliseconds(command.Number));
            }
            else
            {
                topic.Publish(body);
            }
        }
        catch (InvalidOperationException ex)
        {
            var name = command.Verb == NsqCommandVerb.Dpub ? "DPUB" : "PUB";
            throw NsqdClientException.Fatal($"E_{name}_FAILED {name} failed {ex.Message}");
        }

        CountPublished(topic.Name, 1);
        _output.WriteFrame(NsqdFrameWriter.FrameTypeResponse, s_ok);
    }

    private void ExecuteMpub(in NsqdCommand command)
    {
        var topic = command.Topic!;
        var count = command.MessageCount;

        // One array for all bodies of the batch: two allocations per MPUB instead of one per message.
        var all = new byte[command.Body.Length - (4L * count)];
        var bodies = new ReadOnlyMemory<byte>[count];
        var reader = new SequenceReader<byte>(command.Body);
        var offset = 0;
        for (var i = 0; i < count; i++)
        {
            reader.TryReadBigEndian(out int size);
            reader.TryCopyTo(all.AsSpan(offset, size));
            reader.Advance(size);
            bodies[i] = all.AsMemory(offset, size);
            offset += size;
        }

        try
        {
            topic.PublishMany(bodies);
        }
        catch (InvalidOperationException ex)
        {
            throw NsqdClientException.Fatal($"E_MPUB_FAILED MPUB failed {ex.Message}");
        }

        CountPublished(topic.Name, (ulong)count);
        _output.WriteFrame(NsqdFrameWriter.FrameTypeResponse, s_ok);
    }

    private void ExecuteSub(in NsqdCommand command)
    {
        // nsqd retries once when an ephemeral topic/channel was being deleted at the same moment.
        for (var attempt = 0; ; attempt++)
        {
            var topic = _broker.GetOrCreateTopic(command.TopicName!);
            var channel = topic.GetOrCreateChannel(command.ChannelName!);
            if (!topic.IsDeleted && channel.AddClient(this, _options.MaxChannelConsumers))
            {
                Channel = channel;
                State = NsqdClientState.Subscribed;
                break;
            }

            if (!topic.IsDeleted && !channel.IsDeleted)
            {
                throw NsqdClientException.Fatal(
                    $"E_SUB_FAILED SUB failed consumers for {topic.Name}:{channel.Name} exceeds limit of {_options.MaxChannelConsumers}");
            }

            if (attempt >= 1)
            {
                throw NsqdClientException.Fatal("E_SUB_FAILED SUB failed to deleted topic/channel");
            }
        }

        _output.WriteFrame(NsqdFrameWriter.FrameTypeResponse, s_ok);
    }
}
