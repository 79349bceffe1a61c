using System.Buffers;
using System.ComponentModel;

namespace NsqTyped;

/// <summary>
/// The runtime behind generated dispatchers of instance handlers: finds the handler instance.
/// Call the generated <c>NsqTypedHandlers</c> rather than this.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class NsqTypedDispatching
{
    /// <summary>
    /// Returns the instance an instance handler runs on: from <paramref name="factory"/> when the
    /// dispatcher was created with one (called per message), else from <paramref name="services"/>
    /// (typically the message's DI scope), else one instance per dispatcher made by
    /// <paramref name="create"/> (the type's parameterless constructor) on first use and kept in
    /// <paramref name="shared"/>: outside DI no handler object is created per message.
    /// </summary>
    /// <typeparam name="THandler">The handler's declaring type.</typeparam>
    /// <param name="factory">The factory given to <c>NsqTypedHandlers.Create</c>, if any.</param>
    /// <param name="services">The provider given to <see cref="INsqHandlerDispatcher.DispatchAsync"/>, if any.</param>
    /// <param name="create">Creates an instance without DI, or <see langword="null"/> when the type has no accessible parameterless constructor.</param>
    /// <param name="shared">The dispatcher's field holding the instance <paramref name="create"/> made (class handlers).</param>
    /// <param name="handlerName">The handler, for the error message.</param>
    /// <exception cref="InvalidOperationException">No source produced an instance of <typeparamref name="THandler"/>.</exception>
    public static THandler GetHandlerInstance<THandler>(Func<Type, object>? factory, IServiceProvider? services, Func<THandler>? create, ref object? shared, string handlerName)
    {
        if (factory is not null)
        {
            return factory(typeof(THandler)) is THandler made
                ? made
                : throw new InvalidOperationException($"The handler factory returned no {typeof(THandler)} for {handlerName}.");
        }

        if (services?.GetService(typeof(THandler)) is THandler resolved)
        {
            return resolved;
        }

        if (create is not null)
        {
            if (typeof(THandler).IsValueType)
            {
                // A struct handler is a value: nothing to share, nothing allocated.
                return create();
            }

            if (Volatile.Read(ref shared) is THandler existing)
            {
                return existing;
            }

            // Two first messages racing may both create one; the first stored is kept.
            object made = create()!;
            return (THandler)(Interlocked.CompareExchange(ref shared, made, null) ?? made);
        }

        throw new InvalidOperationException(
            $"{handlerName} is an instance handler and {typeof(THandler)} has no parameterless constructor: register it with AddNsqTypedHandlers() and pass an IServiceProvider, or create the dispatchers with NsqTypedHandlers.Create(factory).");
    }

    /// <summary>
    /// Deserializes the body of <paramref name="message"/>; any failure is an
    /// <see cref="NsqDeserializationException"/>, which a Reader gives up at once (a poison message)
    /// instead of retrying it.
    /// </summary>
    /// <typeparam name="T">The message type.</typeparam>
    /// <param name="serializer">The topic's compile-time serializer.</param>
    /// <param name="message">The delivered message.</param>
    /// <param name="handlerName">The handler, for the error message.</param>
    /// <returns>The deserialized message.</returns>
    /// <exception cref="NsqDeserializationException">The body is not a valid <typeparamref name="T"/>.</exception>
    public static T Deserialize<T>(INsqSerializer<T> serializer, NsqMessage message, string handlerName)
    {
        ArgumentNullException.ThrowIfNull(serializer);
        ArgumentNullException.ThrowIfNull(message);
        try
        {
            return serializer.Deserialize(new ReadOnlySequence<byte>(message.Body));
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new NsqDeserializationException(
                $"Message {message.Id} ({message.Body.Length} bytes) is not a valid {typeof(T).Name} for {handlerName}: {ex.Message}", ex);
        }
    }
}
