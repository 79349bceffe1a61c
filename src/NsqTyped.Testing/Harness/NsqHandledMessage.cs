namespace NsqTyped.Testing;

/// <summary>A message a handler returned from without throwing, as an <see cref="NsqTestHarness"/> saw it.</summary>
/// <param name="Handler">The dispatcher (handler) that handled it.</param>
/// <param name="Id">The message id.</param>
/// <param name="Attempts">The delivery attempt that succeeded (1 on first delivery).</param>
/// <param name="Body">A copy of the body.</param>
public sealed record NsqHandledMessage(INsqHandlerDispatcher Handler, string Id, ushort Attempts, ReadOnlyMemory<byte> Body);
