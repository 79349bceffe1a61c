namespace NsqTyped;

/// <summary>
/// A message read in pull mode with the generated <c>ReadAllAsync&lt;T&gt;()</c>: the deserialized body and its context
/// (id, attempts, finish/requeue/touch). Deconstructs: <c>await foreach (var (order, context) in reader.ReadAllAsync&lt;OrderCreated&gt;())</c>.
/// </summary>
/// <typeparam name="T">The topic's message type.</typeparam>
/// <param name="Message">The deserialized body.</param>
/// <param name="Context">The raw message, its topic and channel, and FIN/REQ/TOUCH: answer every message.</param>
public readonly record struct NsqReceived<T>(T Message, NsqMessageContext Context);
