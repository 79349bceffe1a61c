using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace NsqTyped.Generators;

/// <summary>
/// Reads [NsqTopic] types and [NsqHandler] methods into models. One implementation serves both the
/// generator (which ignores diagnostics and skips what is invalid) and the analyzer (which reports them).
/// </summary>
internal static class ModelReader
{
    private static readonly SymbolDisplayFormat DisplayFormat = SymbolDisplayFormat.CSharpErrorMessageFormat;

    /// <summary>Reads a topic type; returns null (after reporting, when <paramref name="report"/> is given) if it cannot be generated.</summary>
    public static TopicModel? ReadTopic(INamedTypeSymbol type, AttributeData attribute, Action<Diagnostic>? report)
    {
        var valid = true;
        var name = attribute.ConstructorArguments.Length == 1 ? attribute.ConstructorArguments[0].Value as string : null;
        if (!NameRules.IsValid(name))
        {
            valid = false;
            report?.Invoke(Diagnostic.Create(DiagnosticDescriptors.InvalidTopicName, ArgumentLocation(attribute, 0, null, type), name ?? "null"));
        }

        var reason = InaccessibleOrGenericReason(type);
        if (reason is not null)
        {
            valid = false;
            report?.Invoke(Diagnostic.Create(DiagnosticDescriptors.InaccessibleOrGeneric, AttributeLocation(attribute, type), type.ToDisplayString(DisplayFormat), reason));
        }

        var format = KnownTypes.FormatJson;
        foreach (var named in attribute.NamedArguments)
        {
            if (named.Key == KnownTypes.TopicFormatProperty && named.Value.Value is int f)
            {
                format = f;
            }
        }

        var kind = BodyMemberKind.None;
        string? memberName = null;
        var memberNullable = false;
        if (format is KnownTypes.FormatRaw or KnownTypes.FormatString)
        {
            if (!TryFindBodyMember(type, format == KnownTypes.FormatString, out kind, out memberName, out memberNullable))
            {
                valid = false;
                report?.Invoke(Diagnostic.Create(
                    DiagnosticDescriptors.InvalidRawOrStringType,
                    ArgumentLocation(attribute, -1, KnownTypes.TopicFormatProperty, type),
                    type.ToDisplayString(DisplayFormat),
                    format == KnownTypes.FormatRaw ? "Raw" : "String",
                    format == KnownTypes.FormatRaw ? "byte[] or ReadOnlyMemory<byte>" : "string"));
            }
        }
        else if (format is not (KnownTypes.FormatJson or KnownTypes.FormatMessagePack))
        {
            valid = false;
        }

        if (!valid)
        {
            return null;
        }

        return new TopicModel(
            type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat),
            type.ToDisplayString(DisplayFormat),
            type.Name,
            QualifiedIdentifier(type),
            name!,
            format,
            kind,
            memberName,
            memberNullable);
    }

    /// <summary>Reads a handler method; returns null (after reporting, when <paramref name="report"/> is given) if it cannot be generated.</summary>
    public static HandlerModel? ReadHandler(IMethodSymbol method, AttributeData attribute, Action<Diagnostic>? report)
    {
        var valid = true;
        var display = method.ContainingType.ToDisplayString(DisplayFormat) + "." + method.Name;
        var syntax = method.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax() as MethodDeclarationSyntax;

        string? channel = null;
        string? deadLetterTopic = null;
        foreach (var named in attribute.NamedArguments)
        {
            if (named.Key == KnownTypes.HandlerChannelProperty)
            {
                channel = named.Value.Value as string;
            }
            else if (named.Key == KnownTypes.HandlerDeadLetterTopicProperty)
            {
                deadLetterTopic = named.Value.Value as string;
            }
        }

        // An empty DeadLetterTopic means none; anything else must be a topic nsqd accepts.
        if (!string.IsNullOrEmpty(deadLetterTopic) && !NameRules.IsValid(deadLetterTopic))
        {
            valid = false;
            report?.Invoke(Diagnostic.Create(
                DiagnosticDescriptors.InvalidTopicName,
                ArgumentLocation(attribute, -1, KnownTypes.HandlerDeadLetterTopicProperty, method),
                deadLetterTopic));
        }

        if (!NameRules.IsValid(channel))
        {
            valid = false;
            report?.Invoke(Diagnostic.Create(
                DiagnosticDescriptors.InvalidChannelName,
                ArgumentLocation(attribute, -1, KnownTypes.HandlerChannelProperty, method),
                channel ?? "null"));
        }

        var reason = InaccessibleOrGenericReason(method.ContainingType);
        if (reason is null && !IsAccessibleInAssembly(method.DeclaredAccessibility))
        {
            reason = $"the method is {AccessibilityText(method.DeclaredAccessibility)}; make it internal or public";
        }

        if (reason is not null)
        {
            valid = false;
            report?.Invoke(Diagnostic.Create(DiagnosticDescriptors.InaccessibleOrGeneric, AttributeLocation(attribute, method), display, reason));
        }

        var location = method.Locations.FirstOrDefault();
        void Bad(Location? where, string why)
        {
            valid = false;
            report?.Invoke(Diagnostic.Create(DiagnosticDescriptors.InvalidHandlerSignature, where ?? location, display, why));
        }

        if (method.IsGenericMethod)
        {
            Bad(syntax?.TypeParameterList?.GetLocation(), "it must not be generic");
        }

        var returnLocation = syntax?.ReturnType.GetLocation();
        var returnsTask = false;
        if (method.ReturnsVoid)
        {
            Bad(returnLocation, method.IsAsync ? "async void cannot be awaited, so failures could not requeue the message; return ValueTask or Task" : "it must return ValueTask or Task");
        }
        else if (IsType(method.ReturnType, "System.Threading.Tasks", "ValueTask"))
        {
            returnsTask = false;
        }
        else if (IsType(method.ReturnType, "System.Threading.Tasks", "Task"))
        {
            returnsTask = true;
        }
        else
        {
            Bad(returnLocation, $"it returns '{method.ReturnType.ToDisplayString(DisplayFormat)}' but must return ValueTask or Task");
        }

        TopicModel? topic = null;
        var takesContext = false;
        var takesToken = false;
        if (method.Parameters.Length == 0)
        {
            Bad(syntax?.ParameterList.GetLocation(), "its first parameter must be the message, of an [NsqTopic] type");
        }
        else
        {
            var message = method.Parameters[0];
            var topicAttribute = message.Type is INamedTypeSymbol messageType ? FindAttribute(messageType, KnownTypes.NsqTopicAttribute) : null;
            if (message.RefKind != RefKind.None)
            {
                Bad(ParameterLocation(message), "the message parameter must not be ref, out or in");
            }
            else if (topicAttribute is null)
            {
                valid = false;
                report?.Invoke(Diagnostic.Create(
                    DiagnosticDescriptors.HandlerMessageNotTopic,
                    ParameterTypeLocation(message),
                    display,
                    message.Type.ToDisplayString(DisplayFormat)));
            }
            else
            {
                // The topic type's own problems are reported on the topic type.
                topic = ReadTopic((INamedTypeSymbol)message.Type, topicAttribute, report: null);
                valid &= topic is not null;
            }

            var stage = 1; // 1: context or token may follow; 2: only a token; 3: nothing
            for (var i = 1; i < method.Parameters.Length; i++)
            {
                var p = method.Parameters[i];
                var isContext = p.Type.ToDisplayString() == KnownTypes.NsqMessageContextMetadata;
                var isToken = IsType(p.Type, "System.Threading", "CancellationToken");
                if (p.RefKind != RefKind.None)
                {
                    Bad(ParameterLocation(p), $"parameter '{p.Name}' must not be ref, out or in");
                }
                else if (isContext && stage == 1)
                {
                    takesContext = true;
                    stage = 2;
                }
                else if (isToken && stage <= 2)
                {
                    takesToken = true;
                    stage = 3;
                }
                else
                {
                    Bad(ParameterLocation(p), $"parameter '{p.Name}' is not allowed; after the message come an optional NsqMessageContext, then an optional CancellationToken");
                }
            }
        }

        if (!valid || topic is null)
        {
            return null;
        }

        var container = method.ContainingType;
        var canConstruct = !method.IsStatic && !container.IsAbstract && !container.IsStatic &&
            (container.IsValueType || container.InstanceConstructors.Any(c => c.Parameters.Length == 0 && IsAccessibleInAssembly(c.DeclaredAccessibility)));
        var canRegister = !method.IsStatic && !container.IsAbstract && !container.IsStatic && container.TypeKind == TypeKind.Class;

        return new HandlerModel(
            topic,
            channel!,
            container.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat),
            container.Name,
            method.Name,
            display,
            method.IsStatic,
            returnsTask,
            takesContext,
            takesToken,
            canConstruct,
            canRegister,
            string.IsNullOrEmpty(deadLetterTopic) ? null : deadLetterTopic);
    }

    /// <summary>Reads the compilation-wide facts the output depends on.</summary>
    public static CompilationFacts ReadFacts(Compilation compilation)
    {
        string? jsonContext = null;
        string? messagePackProvider = null;
        var provider = compilation.GetTypeByMetadataName(KnownTypes.NsqMessagePackOptionsProviderMetadata);
        foreach (var attribute in compilation.Assembly.GetAttributes())
        {
            var name = attribute.AttributeClass?.ToDisplayString();
            if (name == KnownTypes.NsqJsonContextAttribute && attribute.ConstructorArguments.Length == 1 &&
                attribute.ConstructorArguments[0].Value is INamedTypeSymbol context && IsJsonContext(context))
            {
                jsonContext = context.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat);
            }
            else if (name == KnownTypes.NsqMessagePackOptionsAttribute && attribute.ConstructorArguments.Length == 1 &&
                attribute.ConstructorArguments[0].Value is INamedTypeSymbol options && provider is not null &&
                options.AllInterfaces.Contains(provider, SymbolEqualityComparer.Default))
            {
                messagePackProvider = options.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat);
            }
        }

        return new CompilationFacts(
            jsonContext,
            compilation.GetTypeByMetadataName(KnownTypes.NsqMessagePackSerializerMetadata) is not null,
            messagePackProvider,
            compilation.GetTypeByMetadataName(KnownTypes.IServiceCollectionMetadata) is not null &&
            compilation.GetTypeByMetadataName(KnownTypes.ServiceCollectionDescriptorExtensionsMetadata) is not null);
    }

    public static bool IsJsonContext(INamedTypeSymbol type)
    {
        for (var t = type.BaseType; t is not null; t = t.BaseType)
        {
            if (t.ToDisplayString() == KnownTypes.JsonSerializerContextMetadata)
            {
                return true;
            }
        }

        return false;
    }

    public static AttributeData? FindAttribute(ISymbol symbol, string metadataName)
    {
        foreach (var attribute in symbol.GetAttributes())
        {
            if (attribute.AttributeClass?.ToDisplayString() == metadataName)
            {
                return attribute;
            }
        }

        return null;
    }

    /// <summary>The syntax of one attribute argument (positional by index, or named), else the attribute, else the symbol.</summary>
    public static Location ArgumentLocation(AttributeData attribute, int positional, string? named, ISymbol fallback)
    {
        if (attribute.ApplicationSyntaxReference?.GetSyntax() is AttributeSyntax syntax)
        {
            if (syntax.ArgumentList is { } list)
            {
                var index = 0;
                foreach (var argument in list.Arguments)
                {
                    if (named is not null && argument.NameEquals?.Name.Identifier.ValueText == named)
                    {
                        return argument.Expression.GetLocation();
                    }

                    if (argument.NameEquals is null)
                    {
                        if (named is null && (index == positional || argument.NameColon?.Name.Identifier.ValueText == "name"))
                        {
                            return argument.Expression.GetLocation();
                        }

                        index++;
                    }
                }
            }

            return syntax.GetLocation();
        }

        return fallback.Locations.FirstOrDefault() ?? Location.None;
    }

    public static Location AttributeLocation(AttributeData attribute, ISymbol fallback) =>
        attribute.ApplicationSyntaxReference?.GetSyntax().GetLocation() ?? fallback.Locations.FirstOrDefault() ?? Location.None;

    private static Location? ParameterLocation(IParameterSymbol parameter) =>
        parameter.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax().GetLocation() ?? parameter.Locations.FirstOrDefault();

    public static Location? ParameterTypeLocation(IParameterSymbol parameter) =>
        (parameter.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax() as ParameterSyntax)?.Type?.GetLocation() ?? ParameterLocation(parameter);

    private static string? InaccessibleOrGenericReason(INamedTypeSymbol type)
    {
        for (var t = type; t is not null; t = t.ContainingType)
        {
            var what = ReferenceEquals(t, type) ? $"type '{t.Name}'" : $"containing type '{t.Name}'";
            if (t.IsGenericType)
            {
                return $"{what} is generic";
            }

            if (t.IsFileLocal)
            {
                return $"{what} is file-local";
            }

            if (!IsAccessibleInAssembly(t.DeclaredAccessibility))
            {
                return $"{what} is {AccessibilityText(t.DeclaredAccessibility)}; make it internal or public";
            }
        }

        return null;
    }

    private static bool IsAccessibleInAssembly(Accessibility accessibility) =>
        accessibility is Accessibility.Public or Accessibility.Internal or Accessibility.ProtectedOrInternal;

    private static string AccessibilityText(Accessibility accessibility) => accessibility switch
    {
        Accessibility.Private => "private",
        Accessibility.Protected => "protected",
        Accessibility.ProtectedAndInternal => "private protected",
        _ => accessibility.ToString().ToLowerInvariant(),
    };

    private static bool IsType(ITypeSymbol type, string ns, string name) =>
        type is INamedTypeSymbol { IsGenericType: false } named && named.Name == name && named.ContainingNamespace.ToDisplayString() == ns;

    private static string QualifiedIdentifier(INamedTypeSymbol type)
    {
        var parts = new List<string>();
        for (var t = type; t is not null; t = t.ContainingType)
        {
            parts.Insert(0, t.Name);
        }

        var ns = type.ContainingNamespace;
        if (ns is not null && !ns.IsGlobalNamespace)
        {
            parts.InsertRange(0, ns.ToDisplayString().Split('.'));
        }

        return string.Join("_", parts);
    }

    private static bool TryFindBodyMember(INamedTypeSymbol type, bool text, out BodyMemberKind kind, out string? name, out bool nullable)
    {
        foreach (var constructor in type.InstanceConstructors)
        {
            if (constructor.Parameters.Length != 1 || !IsAccessibleInAssembly(constructor.DeclaredAccessibility))
            {
                continue;
            }

            var parameter = constructor.Parameters[0];
            var parameterKind = BodyKind(parameter.Type);
            if (parameterKind == BodyMemberKind.None || (parameterKind == BodyMemberKind.String) != text)
            {
                continue;
            }

            foreach (var member in type.GetMembers())
            {
                if (member.IsStatic || !string.Equals(member.Name, parameter.Name, StringComparison.OrdinalIgnoreCase) || !IsAccessibleInAssembly(member.DeclaredAccessibility))
                {
                    continue;
                }

                var (memberType, readable, annotation) = member switch
                {
                    IPropertySymbol p => (p.Type, p.GetMethod is { } g && IsAccessibleInAssembly(g.DeclaredAccessibility), p.NullableAnnotation),
                    IFieldSymbol f => (f.Type, true, f.NullableAnnotation),
                    _ => (null, false, NullableAnnotation.None),
                };
                if (readable && memberType is not null && SymbolEqualityComparer.Default.Equals(memberType.WithNullableAnnotation(NullableAnnotation.None), parameter.Type.WithNullableAnnotation(NullableAnnotation.None)))
                {
                    kind = parameterKind;
                    name = member.Name;
                    nullable = annotation == NullableAnnotation.Annotated && !memberType.IsValueType;
                    return true;
                }
            }
        }

        kind = BodyMemberKind.None;
        name = null;
        nullable = false;
        return false;
    }

    private static BodyMemberKind BodyKind(ITypeSymbol type)
    {
        if (type.SpecialType == SpecialType.System_String)
        {
            return BodyMemberKind.String;
        }

        if (type is IArrayTypeSymbol { Rank: 1, ElementType.SpecialType: SpecialType.System_Byte })
        {
            return BodyMemberKind.ByteArray;
        }

        if (type is INamedTypeSymbol { Name: "ReadOnlyMemory", TypeArguments.Length: 1 } rom &&
            rom.ContainingNamespace.ToDisplayString() == "System" && rom.TypeArguments[0].SpecialType == SpecialType.System_Byte)
        {
            return BodyMemberKind.ReadOnlyMemory;
        }

        return BodyMemberKind.None;
    }
}
