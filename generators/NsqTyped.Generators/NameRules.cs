namespace NsqTyped.Generators;

/// <summary>
/// nsqd's topic/channel name rule, as <c>NsqTyped.Protocol.NsqNames</c> implements it at run time
/// (the netstandard2.0 generator cannot reference that assembly; a test checks both agree).
/// </summary>
internal static class NameRules
{
    public const int MaxLength = 64;
    public const string EphemeralSuffix = "#ephemeral";

    public static bool IsValid(string? name)
    {
        if (name is null || name.Length < 1 || name.Length > MaxLength)
        {
            return false;
        }

        var end = name.Length;
        if (name.EndsWith(EphemeralSuffix, System.StringComparison.Ordinal))
        {
            end -= EphemeralSuffix.Length;
            if (end == 0)
            {
                return false;
            }
        }

        for (var i = 0; i < end; i++)
        {
            var c = name[i];
            var ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }
}
