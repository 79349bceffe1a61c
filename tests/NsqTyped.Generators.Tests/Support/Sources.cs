namespace NsqTyped.Generators.Tests.Support;

/// <summary>Shared test inputs.</summary>
internal static class Sources
{
    /// <summary>
    /// A JSON context that stands in for the System.Text.Json generator's output (which these in-memory
    /// compilations do not run): the NsqTyped generator and analyzer only read its [JsonSerializable]
    /// attributes and call its <c>Default</c>.
    /// </summary>
    public static string JsonContext(params string[] types) => $$"""
        using System;
        using System.Text.Json;
        using System.Text.Json.Serialization;
        using System.Text.Json.Serialization.Metadata;

        [assembly: NsqTyped.NsqJsonContext(typeof(Shop.AppJsonContext))]

        namespace Shop
        {
        {{string.Concat(types.Select(t => $"    [JsonSerializable(typeof({t}))]\n"))}}    public sealed class AppJsonContext : JsonSerializerContext
            {
                public AppJsonContext() : base(null) { }
                public static AppJsonContext Default { get; } = new();
                protected override JsonSerializerOptions? GeneratedSerializerOptions => null;
                public override JsonTypeInfo? GetTypeInfo(Type type) => null;
            }
        }
        """;

    public const string JsonTopicsAndHandlers = """
        using System.Threading;
        using System.Threading.Tasks;
        using NsqTyped;

        namespace Shop
        {
            [NsqTopic("orders.created")]
            public sealed record OrderCreated(string OrderId, decimal Total);

            [NsqTopic("orders.shipped")]
            public sealed record OrderShippedEvent(string OrderId);

            [NsqTopic("points#ephemeral")]
            public readonly record struct PointsAwarded(string Customer, int Points);

            public static class Audit
            {
                [NsqHandler(Channel = "audit")]
                public static ValueTask OnCreated(OrderCreated order) => ValueTask.CompletedTask;

                [NsqHandler(Channel = "audit")]
                internal static Task OnShipped(OrderShippedEvent shipped, NsqMessageContext context, CancellationToken cancellationToken) => Task.CompletedTask;
            }

            public sealed class Billing
            {
                [NsqHandler(Channel = "billing")]
                public ValueTask HandleAsync(OrderCreated order, CancellationToken cancellationToken) => ValueTask.CompletedTask;

                [NsqHandler(Channel = "billing")]
                public Task AwardAsync(PointsAwarded points) => Task.CompletedTask;
            }

            public sealed class Mailer(string sender)
            {
                public string Sender { get; } = sender;

                [NsqHandler(Channel = "mail#ephemeral")]
                public ValueTask SendAsync(OrderCreated order, NsqMessageContext context) => ValueTask.CompletedTask;
            }
        }
        """;

    public const string OtherFormats = """
        using System;
        using System.Threading.Tasks;
        using MessagePack;
        using NsqTyped;
        using NsqTyped.MessagePack;

        [assembly: NsqMessagePackOptions(typeof(Shop.ShopMessagePack))]

        namespace Shop
        {
            public sealed class ShopMessagePack : INsqMessagePackOptionsProvider
            {
                public static MessagePackSerializerOptions Options { get; } = MessagePackSerializerOptions.Standard;
            }

            [MessagePackObject]
            [NsqTopic("stock.changed", Format = NsqSerializationFormat.MessagePack)]
            public sealed class StockChanged
            {
                [Key(0)]
                public string Sku { get; set; } = "";

                [Key(1)]
                public int Quantity { get; set; }
            }

            [NsqTopic("blobs", Format = NsqSerializationFormat.Raw)]
            public readonly record struct Blob(ReadOnlyMemory<byte> Data);

            [NsqTopic("images", Format = NsqSerializationFormat.Raw)]
            public sealed class Image
            {
                public Image(byte[] bytes) { Bytes = bytes; }

                public byte[] Bytes { get; }
            }

            [NsqTopic("log.lines", Format = NsqSerializationFormat.String)]
            public sealed record LogLineMessage(string? Text);

            public struct Counter
            {
                [NsqHandler(Channel = "count")]
                public ValueTask OnBlob(Blob blob) => ValueTask.CompletedTask;
            }

            public abstract class Sink
            {
                [NsqHandler(Channel = "sink")]
                public abstract ValueTask OnStock(StockChanged change);
            }

            public sealed class Logs
            {
                [NsqHandler(Channel = "archive")]
                public ValueTask OnLine(LogLineMessage line) => ValueTask.CompletedTask;

                [NsqHandler(Channel = "thumbnails")]
                public ValueTask OnImage(Image image) => ValueTask.CompletedTask;
            }
        }
        """;

    public const string NameCollisions = """
        using System.Threading.Tasks;
        using NsqTyped;

        namespace Shop.Billing
        {
            [NsqTopic("billing.order")]
            public sealed record Order(string Id);

            // Its PublishOrderManyAsync overloads the multi-message PublishOrderManyAsync of both Order types.
            [NsqTopic("billing.order-many")]
            public sealed record OrderMany(string[] Ids);
        }

        namespace Shop.Shipping
        {
            [NsqTopic("shipping.order")]
            public sealed record Order(string Id);

            public static class Outer
            {
                [NsqTopic("outer.inner")]
                public sealed record Message(int Value);
            }
        }

        namespace Shop
        {
            public static class Handlers
            {
                [NsqHandler(Channel = "x")]
                public static ValueTask @event(Shop.Billing.Order order) => default;

                [NsqHandler(Channel = "y")]
                public static ValueTask Handle(Shop.Billing.Order order) => default;

                [NsqHandler(Channel = "y")]
                public static ValueTask Handle(Shop.Shipping.Order order) => default;

                [NsqHandler(Channel = "z")]
                public static ValueTask Handle(Shop.Shipping.Outer.Message message) => default;
            }

            public static class Publishing
            {
                public static async Task PublishAll(INsqPublisher publisher)
                {
                    await publisher.PublishOrderManyAsync(new Shop.Billing.OrderMany(["a", "b"]));
                    await publisher.PublishOrderManyAsync([new Shop.Billing.Order("a"), new Shop.Billing.Order("b")]);
                    await publisher.PublishOrderManyAsync(new[] { new Shop.Shipping.Order("c") });
                    await publisher.PublishOrderManyManyAsync([new Shop.Billing.OrderMany(["d"])]);
                }
            }
        }
        """;
}
