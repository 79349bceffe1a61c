using System.Buffers.Binary;
using System.Text;

namespace NsqTyped.Protocol;

/// <summary>
/// The 16-byte id nsqd gives every message (16 ASCII hex characters on the wire).
/// A value type holding the raw bytes, so FIN/REQ/TOUCH need no allocation.
/// </summary>
public readonly struct NsqMessageId : IEquatable<NsqMessageId>
{
    /// <summary>Length of a message id on the wire.</summary>
    public const int Length = 16;

    private readonly ulong _high;
    private readonly ulong _low;

    private NsqMessageId(ulong high, ulong low)
    {
        _high = high;
        _low = low;
    }

    /// <summary>Reads an id from exactly <see cref="Length"/> bytes.</summary>
    /// <exception cref="ArgumentException">The span is not 16 bytes long.</exception>
    public static NsqMessageId Read(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Length)
        {
            throw new ArgumentException($"A message id is {Length} bytes, got {bytes.Length}.", nameof(bytes));
        }

        return new NsqMessageId(BinaryPrimitives.ReadUInt64BigEndian(bytes), BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]));
    }

    /// <summary>Parses an id from its 16-character text form (as printed by <see cref="ToString"/>).</summary>
    /// <exception cref="FormatException">The text is not 16 ASCII characters.</exception>
    public static NsqMessageId Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length != Length || !Ascii.IsValid(text))
        {
            throw new FormatException($"A message id is {Length} ASCII characters, got '{text}'.");
        }

        Span<byte> bytes = stackalloc byte[Length];
        Encoding.ASCII.GetBytes(text, bytes);
        return Read(bytes);
    }

    /// <summary>Writes the 16 id bytes into <paramref name="destination"/>.</summary>
    public void CopyTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, _high);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _low);
    }

    /// <summary>Whether all 16 bytes are lower- or upper-case hex digits, as nsqd generates them.</summary>
    public bool IsHex
    {
        get
        {
            Span<byte> bytes = stackalloc byte[Length];
            CopyTo(bytes);
            foreach (var b in bytes)
            {
                if (!char.IsAsciiHexDigit((char)b))
                {
                    return false;
                }
            }

            return true;
        }
    }

    /// <summary>The id as 16 characters (the wire bytes as ASCII).</summary>
    public override string ToString()
    {
        Span<byte> bytes = stackalloc byte[Length];
        CopyTo(bytes);
        return Encoding.Latin1.GetString(bytes);
    }

    /// <inheritdoc />
    public bool Equals(NsqMessageId other) => _high == other._high && _low == other._low;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is NsqMessageId other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(_high, _low);

    /// <summary>Equality of the raw bytes.</summary>
    public static bool operator ==(NsqMessageId left, NsqMessageId right) => left.Equals(right);

    /// <summary>Inequality of the raw bytes.</summary>
    public static bool operator !=(NsqMessageId left, NsqMessageId right) => !left.Equals(right);
}
