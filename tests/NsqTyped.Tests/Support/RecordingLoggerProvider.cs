using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace NsqTyped.Tests.Support;

/// <summary>Records every log entry (level, event id, formatted message) of the loggers it creates, at every level.</summary>
internal sealed class RecordingLoggerProvider : ILoggerProvider
{
    public ConcurrentQueue<(LogLevel Level, int Id, string Message)> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Recorder(Entries);

    public int Count(int eventId) => Entries.Count(e => e.Id == eventId);

    public void Dispose()
    {
    }

    private sealed class Recorder(ConcurrentQueue<(LogLevel, int, string)> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            entries.Enqueue((logLevel, eventId.Id, formatter(state, exception)));
    }
}
