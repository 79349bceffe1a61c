// A Generic Host worker with NsqTyped.Hosting: settings from appsettings.json ("Nsq"), the generated
// [NsqHandler] as a hosted consumer, the producer injected as INsqPublisher, an "nsq" health check.
//
//   dotnet run --project samples/HostedWorker                        # until Ctrl+C (drains, then exits)
//   dotnet run --project samples/HostedWorker -- --Worker:StopAfter=5  # stops by itself after 5 payments
//
// Without an nsqd address in the configuration (Nsq:NsqdTcpAddresses, or NSQD_TCP_ADDRESS) it starts an
// embedded nsqd on 127.0.0.1 first.
using HostedWorker;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using NsqTyped.Testing;

var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
{
    Args = args,
    // appsettings.json is next to the executable, wherever `dotnet run` is started from.
    ContentRootPath = AppContext.BaseDirectory,
});

// The variables the other samples and the tests use, as configuration keys.
if (Environment.GetEnvironmentVariable("NSQD_TCP_ADDRESS") is { Length: > 0 } nsqd)
{
    builder.Configuration["Nsq:NsqdTcpAddresses:0"] = nsqd;
}

if (Environment.GetEnvironmentVariable("NSQLOOKUPD_HTTP_ADDRESS") is { Length: > 0 } lookupd)
{
    builder.Configuration["Nsq:LookupdHttpAddresses:0"] = lookupd;
}

await using var embedded = builder.Configuration.GetSection("Nsq:NsqdTcpAddresses").GetChildren().Any()
    ? null
    : await EmbeddedNsqd.StartAsync();
if (embedded is not null)
{
    builder.Configuration["Nsq:NsqdTcpAddresses:0"] = embedded.TcpAddress;
    Console.WriteLine($"Started an embedded nsqd on {embedded.TcpAddress} (set NSQD_TCP_ADDRESS or Nsq:NsqdTcpAddresses for a real one).");
}

builder.Services.Configure<WorkerOptions>(builder.Configuration.GetSection("Worker"));
builder.Services.AddSingleton<LedgerTotals>();
builder.Services.AddHostedService<PaymentPublisher>();
builder.Services.AddNsqTypedHandlers();   // generated: LedgerHandler (scoped) + its dispatcher
builder.Services.AddNsqTyped();           // producer, hosted consumers, validation, health check
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(15));

using var host = builder.Build();
await host.StartAsync();

// Connections open in the background; once a payment went round trip, the "nsq" health check is green.
var totals = host.Services.GetRequiredService<LedgerTotals>();
var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
await Task.WhenAny(totals.FirstRecorded, Task.Delay(Timeout.Infinite, lifetime.ApplicationStopping));
var health = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
Console.WriteLine($"Health check \"nsq\": {health.Entries["nsq"].Status} ({health.Entries["nsq"].Description})");
await host.WaitForShutdownAsync();

Console.WriteLine($"Stopped after draining: {totals.Handled} payments recorded.");
return 0;
