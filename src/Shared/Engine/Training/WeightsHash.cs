using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Distributed.Shared.Training;

/// <summary>SHA-256 of parameters as little-endian float32 in the model's parameter order (the run's fingerprint).</summary>
public static class WeightsHash
{
    public static string Sha256(ReadOnlySpan<float> flat)
    {
        if (BitConverter.IsLittleEndian) return Convert.ToHexStringLower(SHA256.HashData(MemoryMarshal.AsBytes(flat)));
        var bytes = new byte[flat.Length * 4];
        for (int i = 0; i < flat.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), flat[i]);
        return Convert.ToHexStringLower(SHA256.HashData(bytes));
    }
}
