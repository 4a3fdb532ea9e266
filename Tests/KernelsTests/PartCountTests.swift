import CLossKernels
import Testing

// How a call's rows are cut into parts for the thread pool (`lk_parts_for` in
// CLossKernels/pool.c). Results never depend on it (DeterminismTests); the balance
// between the threads does, and that is what these tests hold.

@Suite struct PartCountTests {
    /// When the amount of work sets the count, it is a multiple of the threads, so that no
    /// thread is left with one part more than the others (3 parts on 2 threads left one
    /// thread idle for the last third of the call).
    @Test func partsSetByTheWorkAreAMultipleOfTheThreads() {
        #expect(lk_parts_for(100, 1000, 2) == 4)  // 100000 elements: 3 by the work alone
        #expect(lk_parts_for(256, 1000, 2) == 8)  // 7 by the work alone
        #expect(lk_parts_for(200, 1000, 2) == 6)
        #expect(lk_parts_for(160, 1000, 3) == 6)  // 4 by the work alone
        for threads in 2...8 {
            for outer in [5, 7, 50, 100, 256, 1000, 4096] {
                for block in [100, 1000, 4000, 32000] {
                    let parts = lk_parts_for(outer, block, Int32(threads))
                    let cap = min(threads * 4, outer)
                    #expect(parts >= 1 && parts <= cap, "\(outer)x\(block), \(threads) threads: \(parts) parts")
                    if parts > threads && parts < cap {
                        #expect(parts % threads == 0, "\(outer)x\(block), \(threads) threads: \(parts) parts")
                    }
                }
            }
        }
    }

    /// Between one and two rows per part (more rows than 4 parts per thread, fewer than 8),
    /// each row of enough work is a part of its own: 10 rows in 8 parts at 2 threads were
    /// parts of one and two rows, and a thread could end a row behind the other.
    @Test func betweenOneAndTwoRowsPerPartEachRowIsAPart() {
        #expect(lk_parts_for(10, 100_000, 2) == 10)
        #expect(lk_parts_for(14, 70_000, 2) == 14)
        #expect(lk_parts_for(20, 100_000, 4) == 20)
        #expect(lk_parts_for(16, 100_000, 2) == 8)  // two rows in every part
        #expect(lk_parts_for(10, 1000, 2) == 1)  // 10000 elements: one thread
        #expect(lk_parts_for(12, 10_000, 2) == 4)  // rows under 32768 elements: parts set by the work
    }

    /// Small inputs stay on one thread, one thread takes one part, and no call has more
    /// parts than rows.
    @Test func smallInputsOneThreadAndFewRows() {
        #expect(lk_parts_for(10, 100, 2) == 1)  // 1000 elements
        #expect(lk_parts_for(1000, 1000, 1) == 1)
        #expect(lk_parts_for(3, 1_000_000, 2) == 3)
        #expect(lk_parts_for(64, 1000, 2) == 2)  // 64000 elements: one part per thread from 8192 each
    }
}
