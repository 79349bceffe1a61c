namespace NsqTyped;

/// <summary>
/// Marks a method as the handler of one topic's messages on one channel. The topic is the one of
/// the method's first parameter's <see cref="NsqTopicAttribute">[NsqTopic]</see> type. The NsqTyped
/// generator emits an <see cref="INsqHandlerDispatcher"/> that deserializes the body and calls the method.
/// </summary>
/// <remarks>
/// Accepted signatures (static or instance, public or internal, in a non-generic type):
/// <c>ValueTask|Task M(TMessage message [, NsqMessageContext context] [, CancellationToken cancellationToken])</c>.
/// A normal return lets the consumer finish the message; an exception lets it requeue the message.
/// </remarks>
/// <example>
/// <code>
/// public sealed class Billing
/// {
///     [NsqHandler(Channel = "billing")]
///     public ValueTask OnOrderCreatedAsync(OrderCreated order, CancellationToken cancellationToken) => ...;
/// }
/// </code>
/// </example>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false, Inherited = false)]
public sealed class NsqHandlerAttribute : Attribute
{
    /// <summary>The channel to consume on: 1 to 64 characters of <c>[.a-zA-Z0-9_-]</c>, optionally ending in <c>#ephemeral</c> (checked at compile time, NSQT002).</summary>
    public string Channel { get; set; } = string.Empty;

    /// <summary>
    /// The topic a Reader publishes this handler's given-up messages to (beyond max_tries, or poison) before
    /// finishing them; checked at compile time like any topic name (NSQT001). Empty: no dead-letter topic.
    /// <see cref="NsqReaderOptions.DeadLetterTopic"/> takes precedence.
    /// </summary>
    public string DeadLetterTopic { get; set; } = string.Empty;
}
