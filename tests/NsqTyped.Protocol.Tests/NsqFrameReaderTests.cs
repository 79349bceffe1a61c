using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace NsqTyped.Protocol.Tests;

public class NsqFrameReaderTests
{
    internal static byte[] Frame(int type, ReadOnlySpan<byte> data, int? size = null)
    {
        var bytes = new byte[8 + data.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, size ?? data.Length + 4);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), type);
        data.CopyTo(bytes.AsSpan(8));
        return bytes;
    }

    internal static byte[] MessageData(long timestamp, ushort attempts, string id, string body)
    {
        var data = new byte[NsqMessageFrame.HeaderLength + Encoding.ASCII.GetByteCount(body)];
        BinaryPrimitives.WriteInt64BigEndian(data, timestamp);
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(8), attempts);
        Encoding.ASCII.GetBytes(id, data.AsSpan(10));
        Encoding.ASCII.GetBytes(body, data.AsSpan(26));
        return data;
    }

    [Fact]
    public void Ok_response_is_recognised()
    {
        var buffer = new ReadOnlySequence<byte>(Frame(0, "OK"u8));

        Assert.True(NsqFrameReader.TryReadFrame(ref buffer, out var frame));

        Assert.Equal(NsqFrameType.Response, frame.Type);
        Assert.True(frame.IsOk);
        Assert.False(frame.IsHeartbeat);
        Assert.Equal(6, frame.Size);
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void Heartbeat_and_close_wait_are_recognised()
    {
        var buffer = TestSequence.Create(Frame(0, "_heartbeat_"u8), Frame(0, "CLOSE_WAIT"u8));

        Assert.True(NsqFrameReader.TryReadFrame(ref buffer, out var heartbeat));
        Assert.True(NsqFrameReader.TryReadFrame(ref buffer, out var closeWait));

        Assert.True(heartbeat.IsHeartbeat);
        Assert.True(closeWait.IsCloseWait);
        Assert.False(closeWait.IsOk);
    }

    [Fact]
    public void An_error_frame_carries_no_ok_flags_and_maps_to_a_server_exception()
    {
        var buffer = new ReadOnlySequence<byte>(Frame(1, "E_BAD_TOPIC PUB topic name \"a b\" is not valid"u8));

        Assert.True(NsqFrameReader.TryReadFrame(ref buffer, out var frame));
        var error = frame.ToServerException();

        Assert.Equal(NsqFrameType.Error, frame.Type);
        Assert.False(frame.IsOk);
        Assert.Equal(NsqErrorCode.BadTopic, error.Code);
        Assert.Equal("PUB topic name \"a b\" is not valid", error.Description);
        Assert.True(error.IsFatal);
    }

    [Fact]
    public void Message_fields_are_read_in_place()
    {
        var bytes = Frame(2, MessageData(1_700_000_000_123_456_789, 3, "0123456789abcdef", "payload"));
        var buffer = new ReadOnlySequence<byte>(bytes);

        Assert.True(NsqFrameReader.TryReadFrame(ref buffer, out var frame));
        var message = frame.AsMessage();

        Assert.Equal(1_700_000_000_123_456_789, message.TimestampNanoseconds);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123).AddTicks(4567), message.Timestamp);
        Assert.Equal(3, message.Attempts);
        Assert.Equal("0123456789abcdef", message.Id.ToString());
        Assert.Equal("payload"u8.ToArray(), message.Body.ToArray());
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(message.Body.First, out var segment));
        Assert.Same(bytes, segment.Array);
    }

    [Fact]
    public void A_message_with_an_empty_body_is_valid()
    {
        var buffer = new ReadOnlySequence<byte>(Frame(2, MessageData(1, 1, "0123456789abcdef", "")));

        Assert.True(NsqFrameReader.TryReadFrame(ref buffer, out var frame));

        Assert.True(frame.AsMessage().Body.IsEmpty);
    }

    [Fact]
    public void Every_proper_prefix_is_need_more_data_and_leaves_the_buffer_untouched()
    {
        var bytes = Frame(2, MessageData(1, 1, "0123456789abcdef", "body"));

        for (var length = 0; length < bytes.Length; length++)
        {
            var buffer = new ReadOnlySequence<byte>(bytes, 0, length);
            var before = buffer;

            Assert.False(NsqFrameReader.TryReadFrame(ref buffer, out _));
            Assert.Equal(before, buffer);
        }
    }

    [Fact]
    public void A_frame_split_across_segments_is_read_like_a_contiguous_one()
    {
        var bytes = Frame(2, MessageData(42, 7, "fedcba9876543210", "split body"));

        for (var a = 1; a < bytes.Length; a++)
        {
            for (var b = a + 1; b < bytes.Length; b += 3)
            {
                var buffer = TestSequence.Split(bytes, a, b);

                Assert.True(NsqFrameReader.TryReadFrame(ref buffer, out var frame));
                var message = frame.AsMessage();

                Assert.Equal(42, message.TimestampNanoseconds);
                Assert.Equal(7, message.Attempts);
                Assert.Equal("fedcba9876543210", message.Id.ToString());
                Assert.Equal("split body", Encoding.ASCII.GetString(message.Body.ToArray()));
                Assert.True(buffer.IsEmpty);
            }
        }
    }

    [Fact]
    public void Several_frames_in_one_buffer_are_read_in_order_and_a_partial_tail_is_kept()
    {
        var whole = Frame(0, "OK"u8).Concat(Frame(1, "E_FIN_FAILED x"u8)).Concat(Frame(0, "_heartbeat_"u8)).ToArray();
        var buffer = new ReadOnlySequence<byte>(whole, 0, whole.Length - 3);

        Assert.True(NsqFrameReader.TryReadFrame(ref buffer, out var first));
        Assert.True(first.IsOk);
        Assert.True(NsqFrameReader.TryReadFrame(ref buffer, out var second));
        Assert.False(second.ToServerException().IsFatal);
        Assert.False(NsqFrameReader.TryReadFrame(ref buffer, out _));
        Assert.Equal(Frame(0, "_heartbeat_"u8)[..^3], buffer.ToArray());
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    [InlineData(0)]
    [InlineData(3)]
    public void Sizes_below_the_frame_type_are_rejected(int size)
    {
        var buffer = new ReadOnlySequence<byte>(Frame(0, [], size));

        var error = Assert.Throws<NsqProtocolException>(() => NsqFrameReader.TryReadFrame(ref buffer, out _));
        Assert.Contains(size.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_size_above_the_maximum_is_rejected_as_soon_as_the_size_field_arrived()
    {
        var sizeOnly = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(sizeOnly, 1001);
        var buffer = new ReadOnlySequence<byte>(sizeOnly);

        Assert.Throws<NsqProtocolException>(() => NsqFrameReader.TryReadFrame(ref buffer, out _, maxFrameSize: 1000));
    }

    [Fact]
    public void A_size_equal_to_the_maximum_is_accepted()
    {
        var buffer = new ReadOnlySequence<byte>(Frame(0, new byte[96]));

        Assert.True(NsqFrameReader.TryReadFrame(ref buffer, out var frame, maxFrameSize: 100));
        Assert.Equal(100, frame.Size);
    }

    [Fact]
    public void The_default_maximum_fits_the_largest_default_nsqd_message()
    {
        Assert.Equal(1024 * 1024 + 26 + 4, NsqFrameReader.DefaultMaxFrameSize);
        var header = Frame(2, [], NsqFrameReader.DefaultMaxFrameSize);
        var tooBig = Frame(2, [], NsqFrameReader.DefaultMaxFrameSize + 1);
        var buffer = new ReadOnlySequence<byte>(header);
        var tooBigBuffer = new ReadOnlySequence<byte>(tooBig);

        Assert.False(NsqFrameReader.TryReadFrame(ref buffer, out _));
        Assert.Throws<NsqProtocolException>(() => NsqFrameReader.TryReadFrame(ref tooBigBuffer, out _));
    }

    [Theory]
    [InlineData(3)]
    [InlineData(-1)]
    [InlineData(int.MaxValue)]
    public void Unknown_frame_types_are_rejected_without_waiting_for_the_data(int type)
    {
        var header = Frame(type, [], 1000)[..8];
        var buffer = new ReadOnlySequence<byte>(header);

        var error = Assert.Throws<NsqProtocolException>(() => NsqFrameReader.TryReadFrame(ref buffer, out _));
        Assert.Contains("type", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(25)]
    public void Message_frames_shorter_than_the_header_are_rejected(int dataLength)
    {
        var buffer = new ReadOnlySequence<byte>(Frame(2, new byte[dataLength]));

        Assert.Throws<NsqProtocolException>(() => NsqFrameReader.TryReadFrame(ref buffer, out _));
    }

    [Fact]
    public void A_short_message_frame_is_rejected_from_its_header_alone()
    {
        var buffer = new ReadOnlySequence<byte>(Frame(2, new byte[10])[..8]);

        Assert.Throws<NsqProtocolException>(() => NsqFrameReader.TryReadFrame(ref buffer, out _));
    }

    [Fact]
    public void AsMessage_and_ToServerException_refuse_other_frame_types()
    {
        var buffer = new ReadOnlySequence<byte>(Frame(0, "OK"u8));
        Assert.True(NsqFrameReader.TryReadFrame(ref buffer, out var ok));

        Assert.Throws<InvalidOperationException>(() => ok.AsMessage());
        Assert.Throws<InvalidOperationException>(() => ok.ToServerException());
    }

    [Fact]
    public void Data_equality_works_across_segments()
    {
        var buffer = TestSequence.BytePerSegment(Frame(0, "_heartbeat_"u8));

        Assert.True(NsqFrameReader.TryReadFrame(ref buffer, out var frame));

        Assert.True(frame.IsHeartbeat);
        Assert.False(frame.DataEquals("_heartbeat"u8));
    }

    [Fact]
    public void Message_parse_rejects_short_data_directly() =>
        Assert.Throws<NsqProtocolException>(() => NsqMessageFrame.Parse(new ReadOnlySequence<byte>(new byte[25])));
}
