// Runs the NsqTyped embedded server as a process, for local development without installing NSQ.
//
//   dotnet run --project samples/EmbeddedServer                                  nsqd on 127.0.0.1:4150/4151
//   dotnet run --project samples/EmbeddedServer -- --with-nsqlookupd             plus nsqlookupd on 4160/4161
//   dotnet run --project samples/EmbeddedServer -- nsqlookupd                    nsqlookupd only
//   dotnet run --project samples/EmbeddedServer -- --lookupd-tcp-address=127.0.0.1:4160 --max-rdy-count=10
//
// Flags are nsqd's (or, after `nsqlookupd`, nsqlookupd's); see docs/embedded-server.md. Ctrl+C or SIGTERM
// stops it cleanly with exit code 0.
using System.Runtime.InteropServices;
using EmbeddedServer;
using Microsoft.Extensions.Logging;
using NsqTyped.Testing;

ServerCommandLine commandLine;
try
{
    commandLine = ServerCommandLine.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine("error: " + ex.Message);
    Console.Error.WriteLine();
    Console.Error.WriteLine(ServerCommandLine.Usage);
    return 2;
}

if (commandLine.ShowHelp)
{
    Console.WriteLine(ServerCommandLine.Usage);
    return 0;
}

if (commandLine.ShowVersion)
{
    Console.WriteLine(commandLine.RunsNsqd ? $"nsqd v{commandLine.Nsqd.Version} (NsqTyped embedded)" : $"nsqlookupd v{commandLine.Lookupd.Version} (NsqTyped embedded)");
    return 0;
}

// Logs go to stderr so that stdout carries only the lines scripts parse (addresses, "ready").
using var loggerFactory = LoggerFactory.Create(logging => logging
    .SetMinimumLevel(commandLine.LogLevel)
    .AddConsole(console => console.LogToStandardErrorThreshold = LogLevel.Trace)
    .AddSimpleConsole(console =>
    {
        console.SingleLine = true;
        console.TimestampFormat = "HH:mm:ss.fff ";
    }));

// Registered before anything listens, so a signal during start-up still ends in a clean stop.
var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
void OnSignal(PosixSignalContext context)
{
    context.Cancel = true;
    stop.TrySetResult();
}

using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
using var sigquit = PosixSignalRegistration.Create(PosixSignal.SIGQUIT, OnSignal);

EmbeddedNsqlookupd? lookupd = null;
EmbeddedNsqd? nsqd = null;
try
{
    if (commandLine.RunsLookupd)
    {
        lookupd = await EmbeddedNsqlookupd.StartAsync(commandLine.Lookupd with { LoggerFactory = loggerFactory });
        Console.WriteLine($"nsqlookupd listening: tcp={lookupd.TcpAddress} http={lookupd.HttpAddress}");
    }

    if (commandLine.RunsNsqd)
    {
        var nsqdOptions = commandLine.Nsqd with { LoggerFactory = loggerFactory };
        if (lookupd is not null)
        {
            nsqdOptions = nsqdOptions with { LookupdTcpAddresses = [lookupd.TcpAddress, .. nsqdOptions.LookupdTcpAddresses] };
        }

        nsqd = await EmbeddedNsqd.StartAsync(nsqdOptions);
        var https = nsqd.HttpsAddress is { } httpsAddress ? " https=" + httpsAddress : string.Empty;
        Console.WriteLine($"nsqd listening: tcp={nsqd.TcpAddress} http={nsqd.HttpAddress}{https}");
        if (nsqdOptions.LookupdTcpAddresses.Count > 0)
        {
            Console.WriteLine("nsqd registering with nsqlookupd: " + string.Join(", ", nsqdOptions.LookupdTcpAddresses));
        }
    }

    Console.WriteLine("ready");
    await stop.Task;
    Console.WriteLine("stopping");
}
catch (Exception ex) when (ex is System.Net.Sockets.SocketException or ArgumentException or IOException)
{
    Console.Error.WriteLine("error: " + ex.Message);
    return 1;
}
finally
{
    if (nsqd is not null)
    {
        await nsqd.DisposeAsync();
    }

    if (lookupd is not null)
    {
        await lookupd.DisposeAsync();
    }
}

Console.WriteLine("stopped");
return 0;
