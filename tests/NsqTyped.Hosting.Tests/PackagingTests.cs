using System.Diagnostics;
using System.IO.Compression;
using System.Reflection;
using System.Text;

namespace NsqTyped.Hosting.Tests;

/// <summary>
/// The NsqTyped package as a user gets it: packed into a local folder, referenced by a fresh console project
/// (nothing of this repository's build settings), whose build must run the generator shipped inside the package.
/// </summary>
public sealed class PackagingTests
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(150);

    [Fact]
    public async Task Packed_NsqTyped_carries_the_generator_and_a_fresh_project_gets_generated_code()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var repository = FindRepositoryRoot();
        var configuration = typeof(PackagingTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "BuildConfiguration").Value!;

        // A version no earlier run used, so a package cached by one can never stand in for this one.
        var version = $"0.0.1-packtest.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";
        var work = Directory.CreateTempSubdirectory("nsqtyped-pack-");
        var cache = Path.Combine(Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } custom
            ? custom
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"));
        try
        {
            var feed = Directory.CreateDirectory(Path.Combine(work.FullName, "feed")).FullName;
            foreach (var project in new[] { "src/NsqTyped.Protocol/NsqTyped.Protocol.csproj", "src/NsqTyped/NsqTyped.csproj" })
            {
                await RunAsync(repository, cancellationToken, "pack", Path.Combine(repository, project), "-c", configuration, "--no-build",
                    "-o", feed, $"-p:PackageVersion={version}");
            }

            var package = Path.Combine(feed, $"NsqTyped.{version}.nupkg");
            using (var zip = ZipFile.OpenRead(package))
            {
                Assert.Contains(zip.Entries, e => e.FullName == "analyzers/dotnet/cs/NsqTyped.Generators.dll");
                Assert.Contains(zip.Entries, e => e.FullName == "lib/net10.0/NsqTyped.dll");
                Assert.Contains(zip.Entries, e => e.FullName == "README.md");
                var nuspec = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
                using var reader = new StreamReader(nuspec.Open());
                var text = await reader.ReadToEndAsync(cancellationToken);
                Assert.Contains($"<dependency id=\"NsqTyped.Protocol\" version=\"{version}\"", text, StringComparison.Ordinal);
                Assert.Contains("<readme>README.md</readme>", text, StringComparison.Ordinal);
                Assert.Contains("<license type=\"expression\">MIT</license>", text, StringComparison.Ordinal);
                // SourceLink: the repository and the commit the package was built from.
                Assert.Matches("<repository type=\"git\" url=\"https://[^\"]+\"[^>]* commit=\"[0-9a-f]{40}\"", text);
            }

            var app = Directory.CreateDirectory(Path.Combine(work.FullName, "app")).FullName;
            await File.WriteAllTextAsync(Path.Combine(app, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <clear />
                    <add key="local" value="{feed}" />
                    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
                  </packageSources>
                  <packageSourceMapping>
                    <packageSource key="local">
                      <package pattern="NsqTyped" />
                      <package pattern="NsqTyped.*" />
                    </packageSource>
                    <packageSource key="nuget.org">
                      <package pattern="*" />
                    </packageSource>
                  </packageSourceMapping>
                </configuration>
                """, cancellationToken);
            await File.WriteAllTextAsync(Path.Combine(app, "PackCheck.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <Nullable>enable</Nullable>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                    <ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="NsqTyped" Version="{version}" />
                  </ItemGroup>
                </Project>
                """, cancellationToken);
            await File.WriteAllTextAsync(Path.Combine(app, "Program.cs"), """
                using System.Text.Json.Serialization;
                using NsqTyped;

                [assembly: NsqJsonContext(typeof(PackCheckJson))]

                INsqPublisher? publisher = null;
                if (publisher is not null)
                {
                    await publisher.PublishPackCheckedAsync(new PackChecked(1));
                }

                Console.WriteLine($"{NsqTopics.PackChecked} {NsqTypedHandlers.All.Count} {NsqTypedHandlers.All[0].HandlerName}");

                [NsqTopic("pack.checked")]
                public sealed record PackChecked(int Number);

                [JsonSerializable(typeof(PackChecked))]
                internal sealed partial class PackCheckJson : JsonSerializerContext;

                public static class PackHandlers
                {
                    [NsqHandler(Channel = "verify")]
                    public static ValueTask OnPackCheckedAsync(PackChecked message) => ValueTask.CompletedTask;
                }
                """, cancellationToken);

            await RunAsync(app, cancellationToken, "build", "-c", "Release", "-o", Path.Combine(app, "out"));
            var output = await RunAsync(app, cancellationToken, Path.Combine(app, "out", "PackCheck.dll"));

            Assert.Equal("pack.checked 1 PackHandlers.OnPackCheckedAsync", output.Trim());
        }
        finally
        {
            work.Delete(recursive: true);
            foreach (var id in new[] { "nsqtyped", "nsqtyped.protocol" })
            {
                var cached = Path.Combine(cache, id, version);
                if (Directory.Exists(cached))
                {
                    Directory.Delete(cached, recursive: true);
                }
            }
        }
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "NsqTyped.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("NsqTyped.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Runs <c>dotnet</c> with a clean MSBuild environment and no lingering build servers; fails with the whole output.</summary>
    private static async Task<string> RunAsync(string workingDirectory, CancellationToken cancellationToken, params string[] arguments)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        if (arguments[0] is "pack" or "build")
        {
            start.ArgumentList.Add("-nodeReuse:false");
            start.ArgumentList.Add("-p:UseSharedCompilation=false");
        }

        // The test host runs under `dotnet test`, whose MSBuild variables would point the child at the wrong SDK state.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(name);
        }

        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";

        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(CommandTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet {string.Join(' ', arguments)} did not finish within {CommandTimeout.TotalSeconds:0} s.");
        }

        output.Append(await stdout).Append(await stderr);
        Assert.True(process.ExitCode == 0, $"dotnet {string.Join(' ', arguments)} exited {process.ExitCode}:\n{output}");
        return await stdout;
    }
}
