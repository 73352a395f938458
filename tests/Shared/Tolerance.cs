namespace Distributed.Tests;

/// <summary>Element-wise comparer for Assert.Equal on sequences of doubles: |a − b| ≤ limit.</summary>
public sealed class Tolerance(double limit) : IEqualityComparer<double>
{
    public bool Equals(double a, double b) => Math.Abs(a - b) <= limit;

    public int GetHashCode(double value) => 0;
}
