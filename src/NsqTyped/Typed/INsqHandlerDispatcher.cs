namespace NsqTyped;

/// <summary>
/// Runs one typed handler for the messages of one topic on one channel. The generator emits one
/// implementation per <see cref="NsqHandlerAttribute">[NsqHandler]</see> method; a consumer (the
/// Reader or a test) calls <see cref="DispatchAsync"/> for every delivered message.
/// </summary>
/// <remarks>
/// <see cref="DispatchAsync"/> deserializes the body with the topic's compile-time serializer and
/// invokes the handler. It never finishes or requeues the message itself: when it returns normally
/// the caller finishes the message (unless the handler already responded), and any exception it
/// throws propagates so the caller can requeue; a body that cannot be deserialized is an
/// <see cref="NsqDeserializationException"/> (a permanent failure a Reader gives up at once).
/// </remarks>
public interface INsqHandlerDispatcher
{
    /// <summary>The topic name (from the message type's <see cref="NsqTopicAttribute"/>).</summary>
    string Topic { get; }

    /// <summary>The channel name (from <see cref="NsqHandlerAttribute.Channel"/>).</summary>
    string Channel { get; }

    /// <summary>The message type the handler takes.</summary>
    Type MessageType { get; }

    /// <summary>The handler, as <c>Namespace.Type.Method</c>, for logs and traces.</summary>
    string HandlerName { get; }

    /// <summary>
    /// Where a Reader publishes the messages it gives up (from <see cref="NsqHandlerAttribute.DeadLetterTopic"/>);
    /// <see langword="null"/> when none is set. <see cref="NsqReaderOptions.DeadLetterTopic"/> takes precedence.
    /// </summary>
    string? DeadLetterTopic => null;

    /// <summary>Deserializes <paramref name="message"/> and invokes the handler.</summary>
    /// <param name="message">The delivered message.</param>
    /// <param name="services">
    /// Where an instance handler's declaring type is resolved from (typically a per-message scope);
    /// may be <see langword="null"/> for static handlers or when the dispatcher was created with an instance factory.
    /// </param>
    /// <param name="cancellationToken">Passed to the handler when it takes a <see cref="CancellationToken"/>.</param>
    /// <exception cref="InvalidOperationException">An instance handler has no way to get its instance.</exception>
    ValueTask DispatchAsync(NsqMessage message, IServiceProvider? services, CancellationToken cancellationToken);
}
