using Distributed.Shared.Numerics;

namespace Distributed.Tests.Numerics;

public class CoreTeamSpecs
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(1000)]
    public void Every_item_should_run_exactly_once(int count)
    {
        for (int repeat = 0; repeat < 200; repeat++)
        {
            var runs = new int[count];
            CoreTeam.For(count, i => Interlocked.Increment(ref runs[i]));
            Assert.All(runs, r => Assert.Equal(1, r));
        }
    }

    [Fact]
    public void An_item_that_throws_should_surface_its_exception_after_the_other_items_ran()
    {
        var runs = new int[64];
        var e = Assert.Throws<InvalidOperationException>(() => CoreTeam.For(64, i =>
        {
            Interlocked.Increment(ref runs[i]);
            if (i == 5) throw new InvalidOperationException("item 5 failed");
        }));
        Assert.Equal("item 5 failed", e.Message);
        Assert.All(runs, r => Assert.Equal(1, r));
        // The team is free again.
        int sum = 0;
        CoreTeam.For(10, i => Interlocked.Add(ref sum, i));
        Assert.Equal(45, sum);
    }

    [Fact]
    public void Concurrent_and_nested_callers_should_each_get_all_their_items_done()
    {
        const int callers = 4, count = 50;
        var totals = new long[callers];
        var threads = Enumerable.Range(0, callers).Select(c => new Thread(() =>
        {
            for (int repeat = 0; repeat < 300; repeat++)
                CoreTeam.For(count, i =>
                {
                    // A nested call finds the team busy and runs on its caller.
                    CoreTeam.For(2, j => Interlocked.Add(ref totals[c], j + 1));
                    Interlocked.Add(ref totals[c], i);
                });
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        long expected = 300L * (count * (count - 1) / 2 + count * 3);
        Assert.All(totals, t => Assert.Equal(expected, t));
    }

    [Theory]
    [InlineData(10, 1)]
    [InlineData(8192 * 2, 2)]
    [InlineData(200_704, 2)]
    public void Chunks_should_cover_the_range_in_vector_aligned_pieces(int length, int expectedPieces)
    {
        var chunks = CoreTeam.Chunks(length, parts: 2);
        Assert.Equal(expectedPieces, chunks.Length);
        Assert.Equal(0, chunks[0].Start);
        for (int c = 1; c < chunks.Length; c++)
        {
            Assert.Equal(chunks[c - 1].Start + chunks[c - 1].Length, chunks[c].Start);
            Assert.Equal(0, chunks[c].Start % 16);
        }
        Assert.Equal(length, chunks[^1].Start + chunks[^1].Length);
    }
}
