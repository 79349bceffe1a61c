using System.Buffers;
using System.Text;
using System.Text.Json;
using MessagePack;
using MessagePack.Resolvers;
using NsqTyped.MessagePack;

namespace NsqTyped.Generators.Tests.Runtime;

/// <summary>The runtime serializers, used directly.</summary>
public sealed class SerializerTests
{
    [Fact]
    public void Json_round_trips_through_the_source_generated_type_info()
    {
        var serializer = new NsqJsonSerializer<OrderCreated>(TestJsonContext.Default.OrderCreated);
        var writer = new ArrayBufferWriter<byte>();

        serializer.Serialize(writer, new OrderCreated("J-1", 3.25m));

        Assert.Equal("{\"OrderId\":\"J-1\",\"Total\":3.25}", Encoding.UTF8.GetString(writer.WrittenSpan));
        Assert.Equal(new OrderCreated("J-1", 3.25m), serializer.Deserialize(new ReadOnlySequence<byte>(writer.WrittenMemory)));
    }

    [Fact]
    public void Json_reads_a_body_split_over_several_segments()
    {
        var serializer = NsqJsonSerializer<OrderCreated>.FromContext(TestJsonContext.Default);
        var bytes = Encoding.UTF8.GetBytes("{\"OrderId\":\"J-2\",\"Total\":7}");

        Assert.Equal(new OrderCreated("J-2", 7m), serializer.Deserialize(Segments(bytes, 5)));
    }

    [Fact]
    public void Json_null_body_is_an_error_for_a_reference_type()
    {
        var serializer = NsqJsonSerializer<OrderCreated>.FromContext(TestJsonContext.Default);

        Assert.Throws<JsonException>(() => serializer.Deserialize(new ReadOnlySequence<byte>("null"u8.ToArray())));
    }

    [Fact]
    public void Json_FromContext_without_metadata_for_the_type_names_the_fix()
    {
        var error = Assert.Throws<InvalidOperationException>(() => NsqJsonSerializer<LogLine>.FromContext(TestJsonContext.Default));

        Assert.Contains("[JsonSerializable(typeof(LogLine))]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_serializer_writes_into_successive_writers_independently()
    {
        var serializer = NsqJsonSerializer<OrderCreated>.FromContext(TestJsonContext.Default);
        var first = new ArrayBufferWriter<byte>();
        var second = new ArrayBufferWriter<byte>();

        serializer.Serialize(first, new OrderCreated("1", 1));
        serializer.Serialize(second, new OrderCreated("2", 2));

        Assert.Equal("{\"OrderId\":\"1\",\"Total\":1}", Encoding.UTF8.GetString(first.WrittenSpan));
        Assert.Equal("{\"OrderId\":\"2\",\"Total\":2}", Encoding.UTF8.GetString(second.WrittenSpan));
    }

    [Fact]
    public void String_serializer_is_UTF8_and_rejects_invalid_bytes()
    {
        var writer = new ArrayBufferWriter<byte>();
        NsqStringSerializer.Instance.Serialize(writer, "€uro");

        Assert.Equal(new byte[] { 0xe2, 0x82, 0xac, (byte)'u', (byte)'r', (byte)'o' }, writer.WrittenSpan.ToArray());
        Assert.Equal("€uro", NsqStringSerializer.Instance.Deserialize(Segments(writer.WrittenSpan.ToArray(), 1)));
        Assert.Throws<DecoderFallbackException>(() => NsqStringSerializer.Instance.Deserialize(new ReadOnlySequence<byte>(new byte[] { 0xff, 0xfe })));
    }

    [Fact]
    public void Raw_serializer_copies_bytes_and_returns_single_segment_bodies_without_copying()
    {
        var body = new byte[] { 1, 2, 3 };
        var writer = new ArrayBufferWriter<byte>();
        NsqRawSerializer.Instance.Serialize(writer, (ReadOnlyMemory<byte>)body);
        ((INsqSerializer<byte[]>)NsqRawSerializer.Instance).Serialize(writer, [4]);

        Assert.Equal(new byte[] { 1, 2, 3, 4 }, writer.WrittenSpan.ToArray());
        var view = NsqRawSerializer.Instance.Deserialize(new ReadOnlySequence<byte>(body));
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(view, out var segment) && ReferenceEquals(segment.Array, body));
        Assert.Equal(new byte[] { 1, 2, 3 }, NsqRawSerializer.Instance.Deserialize(Segments(body, 1)).ToArray());
        var copy = ((INsqSerializer<byte[]>)NsqRawSerializer.Instance).Deserialize(new ReadOnlySequence<byte>(body));
        Assert.NotSame(body, copy);
        Assert.Equal(body, copy);
    }

    [Fact]
    public void MessagePack_uses_the_given_options_or_the_current_defaults()
    {
        var standard = new NsqMessagePackSerializer<StockChanged>(MessagePackSerializerOptions.Standard);
        var writer = new ArrayBufferWriter<byte>();
        standard.Serialize(writer, new StockChanged { Sku = "M", Quantity = 1 });
        var back = standard.Deserialize(new ReadOnlySequence<byte>(writer.WrittenMemory));
        Assert.Equal(("M", 1), (back.Sku, back.Quantity));

        // A resolver that only knows built-in types cannot write StockChanged: proof the options are the ones given.
        var builtinOnly = new NsqMessagePackSerializer<StockChanged>(MessagePackSerializerOptions.Standard.WithResolver(BuiltinResolver.Instance));
        Assert.Throws<MessagePackSerializationException>(() => builtinOnly.Serialize(new ArrayBufferWriter<byte>(), new StockChanged()));

        Assert.Same(MessagePackSerializer.DefaultOptions, new NsqMessagePackSerializer<StockChanged>().Options);
    }

    [Fact]
    public void MessagePack_nil_body_is_an_error_for_a_reference_type()
    {
        var serializer = new NsqMessagePackSerializer<StockChanged>(MessagePackSerializerOptions.Standard);

        Assert.Throws<MessagePackSerializationException>(() => serializer.Deserialize(new ReadOnlySequence<byte>(new byte[] { 0xc0 })));
    }

    private static ReadOnlySequence<byte> Segments(byte[] bytes, int size)
    {
        Segment? first = null;
        Segment? last = null;
        for (var i = 0; i < bytes.Length; i += size)
        {
            var next = new Segment(bytes.AsMemory(i, Math.Min(size, bytes.Length - i)), last);
            first ??= next;
            last = next;
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, Segment? previous)
        {
            Memory = memory;
            if (previous is not null)
            {
                RunningIndex = previous.RunningIndex + previous.Memory.Length;
                previous.Next = this;
            }
        }
    }
}
