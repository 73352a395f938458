using Distributed.Coordinator.Cluster;
using static Distributed.Shared.Protocol.StandbyProtocol;

namespace Distributed.Tests.Cluster;

/// <summary>A standby's snapshot parts: only a complete set of one snapshot is ever handed on.</summary>
public class SnapshotAssemblySpecs
{
    private static SnapshotPart Part(long step, int index, int count, params byte[] bytes) => new("run", 1, step, index, count, bytes);

    [Fact]
    public void A_complete_set_should_give_the_parts_bytes_in_order()
    {
        var assembly = new SnapshotAssembly();
        Assert.Null(assembly.Add(Part(10, 0, 3, 1, 2)));
        Assert.Null(assembly.Add(Part(10, 1, 3, 3)));
        Assert.Equal([1, 2, 3, 4, 5], assembly.Add(Part(10, 2, 3, 4, 5)));
    }

    [Fact]
    public void A_sender_that_died_between_parts_should_leave_nothing_and_the_next_snapshot_start_over()
    {
        var assembly = new SnapshotAssembly();
        Assert.Null(assembly.Add(Part(10, 0, 2, 1)));
        // The coordinator of step 10's snapshot died after part 0; a new one (same run, next term) publishes step 8.
        Assert.Null(assembly.Add(new SnapshotPart("run", 2, 8, 0, 2, [7])));
        Assert.Null(assembly.Add(Part(10, 1, 2, 2)));
        Assert.Equal([7, 9], assembly.Add(new SnapshotPart("run", 2, 8, 1, 2, [9])));
    }

    [Fact]
    public void A_later_part_without_its_first_should_be_dropped()
    {
        var assembly = new SnapshotAssembly();
        Assert.Null(assembly.Add(Part(20, 1, 2, 2)));
        Assert.Null(assembly.Add(Part(20, 1, 2, 2)));
        Assert.Equal([1, 2], assembly.Add(Part(20, 0, 2, 1)) ?? assembly.Add(Part(20, 1, 2, 2)));
    }

    [Fact]
    public void A_part_claiming_an_impossible_count_should_be_refused_before_anything_is_allocated()
    {
        var error = Assert.Throws<ArgumentException>(() => new SnapshotAssembly().Add(Part(1, 0, int.MaxValue, 1)));
        Assert.Contains("2,147,483,647 parts", error.Message);
    }
}
