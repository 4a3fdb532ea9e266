import Kernels
import Testing
import _TestSupport

/// Softmax and log-softmax of rows of 2048 or more (below 8192 only for outputs of 8 MiB or
/// more; logsumexp of 8192 or more only for inputs of 8 MiB or more), whose maximum and
/// sum of exponentials the kernels take
/// in one read of the row: chunk by chunk
/// against a running maximum, rescaled as it grows (see the Kernels guide). Checked on every instruction set against
/// Double references, including rows whose maximum rises in every chunk, rows whose first
/// chunks are all -inf, and non-finite rows.
@Suite(.serialized) struct LongRowTests {
    /// The instruction sets this CPU has: InstructionSetTests' helper.
    static var supported: [InstructionSet] { InstructionSetTests.supported }

    /// Softmax of `x` (rows of `length`) on instruction set `set` with `threads` threads.
    func softmaxFloat(_ x: [Float], length: Int, set: InstructionSet, threads: Int = 1, log: Bool = false) throws -> [Float] {
        try InstructionSetTests().withSet(set) {
            var y = [Float](repeating: -1, count: x.count)
            try x.withUnsafeBufferPointer { xb in
                try y.withUnsafeMutableBufferPointer {
                    let layout = AxisLayout(outer: x.count / length, length: length)
                    if log {
                        try logSoftmax(xb, layout: layout, into: $0, threads: threads)
                    } else {
                        try softmax(xb, layout: layout, into: $0, threads: threads)
                    }
                }
            }
            return y
        }
    }

    /// The error of `a` against the reference `b` in units of the tolerance (as
    /// InstructionSetTests): 1e-6·p + 1e-9 for probabilities, 2e-6·max(|log p|, 1) for
    /// log-probabilities. ≤ 1 passes.
    static func units(_ a: Float, _ b: Double, log: Bool) -> Double {
        abs(Double(a) - b) / (log ? 2e-6 * max(abs(b), 1) : 1e-6 * b + 1e-9)
    }

    /// Worst error in units of the tolerance (`units`) against a Double reference.
    func worst(_ y: [Float], _ x: [Float], length: Int, log: Bool = false) -> Double {
        let want = referenceSoftmax(x.map(Double.init), AxisLayout(outer: x.count / length, length: length), log: log)
        return zip(y, want).map { Self.units($0, $1, log: log) }.max()!
    }

    /// `x` repeated whole until it holds at least 2.1M floats (8.4 MB, past the 8 MiB under
    /// which the kernels treat an input as cached), and the number of copies.
    static func repeatedPastCache<T>(_ x: [T]) -> (copies: Int, values: [T]) {
        let copies = (2_100_000 + x.count - 1) / x.count
        return (copies, [[T]](repeating: x, count: copies).flatMap { $0 })
    }

    /// Softmax and log-softmax of `x` within tolerance on every instruction set. Rows of
    /// 2048-8191 take the one read only when the whole output is 8 MiB or more (smaller ones
    /// stay in cache and take max and sum in two sweeps): for those lengths the rows are also
    /// checked repeated to 8.4 MB, where log-softmax copies x into its output during the one
    /// read and finishes in place, as it does for rows of 8192 or more at every size under
    /// 24 MiB (larger outputs: streamedOrCopiedLogSoftmaxMatchesDoubleReference).
    func expectBothMatch(_ x: [Float], length: Int, _ label: String) throws {
        for set in Self.supported {
            for log in [false, true] {
                let y = try softmaxFloat(x, length: length, set: set, log: log)
                let w = worst(y, x, length: length, log: log)
                #expect(w <= 1, "\(set) \(label) log=\(log) worst \(w)")
            }
        }
        guard (2048..<8192).contains(length) else { return }
        let (copies, repeated) = Self.repeatedPastCache(x)
        for log in [false, true] {
            let want = referenceSoftmax(x.map(Double.init), AxisLayout(outer: x.count / length, length: length), log: log)
            for set in Self.supported {
                let y = try softmaxFloat(repeated, length: length, set: set, log: log)
                var w = 0.0
                for (i, a) in y.enumerated() { w = max(w, Self.units(a, want[i % x.count], log: log)) }
                #expect(w <= 1, "\(set) \(label) log=\(log), \(copies) copies, worst \(w)")
            }
        }
    }

    @Test(arguments: [2048, 3001, 8195, 262_221])  // 262221: over 256 chunks, so longer chunks
    func randomRowsMatchDoubleReference(length: Int) throws {
        let rows = length > 10_000 ? 1 : 3
        let x = TestSupport.normal([rows * length], scale: 4, seed: UInt64(length)).scalars.map { Float($0) }
        try expectBothMatch(x, length: length, "n=\(length)")
    }

    /// Log-softmax outputs of 12 MiB or more in rows of 768-2047 are written with
    /// non-temporal stores (the only path that streams), and so are those of 24 MiB or more
    /// in longer rows; under 24 MiB, rows of 2048 or more copy x into the output during
    /// their one read and finish in place (from 8 MiB; rows of 8192 or more at any size). Both
    /// on the one-read path and on split rows, on every instruction set, with rows starting
    /// at every alignment (1601 and 8195 are odd).
    @Test(arguments: zip([1601, 8195, 8195, 1_700_000, 1_700_000], [3_200_000, 3_200_000, 6_300_000, 3_400_000, 6_800_000]))
    func streamedOrCopiedLogSoftmaxMatchesDoubleReference(length: Int, elements: Int) throws {
        let rows = (elements + length - 1) / length  // 3.2M: 12 MiB of Float output; 6.3M: 24 MiB
        let x = (0..<rows * length).map { Float(($0 &* 7919) % 4001) * 0.004 - 8 }  // in [-8, 8]
        let want = referenceSoftmax(x.map(Double.init), AxisLayout(outer: rows, length: length), log: true)
        // Streamed split rows on the best instruction set only, to keep the run short: their
        // output goes through the same row function as the streamed rows of 8195.
        let sets = length >= 262_144 && elements >= 6_300_000 ? [Self.supported.last!] : Self.supported
        for set in sets {
            let y = try softmaxFloat(x, length: length, set: set, log: true)
            var worst = 0.0
            for (a, b) in zip(y, want) { worst = max(worst, Self.units(a, b, log: true)) }
            #expect(worst <= 1, "\(set) n=\(length) worst \(worst)")
        }
    }

    /// Logsumexp rows of 8192 or more take their maximum and sum in the same one read when
    /// the input is 8 MiB or more (smaller inputs stay in cache and take two sweeps; so the
    /// rows are checked as they are and repeated to 8.4 MB): random rows, a maximum that
    /// rises in every chunk or jumps after the first, leading chunks of -inf, and non-finite
    /// rows (NaN, +inf as is, -inf for a row of -inf only), on every instruction set against
    /// a Double reference (1e-7·|lse| + 5e-7: the Float result's own rounding and about 1e-7
    /// of relative error in the sum).
    @Test(arguments: [8192, 8195, 32000, 262_221])
    func logSumExpMatchesDoubleReference(length n: Int) throws {
        let random = TestSupport.normal([n], scale: 4, seed: UInt64(n + 2)).scalars.map { Float($0) }
        let rising = (0..<n).map { Float($0) * 0.01 }
        let jump: [Float] = (0..<n).map { (i: Int) -> Float in
            i < 1024 ? Float(-200 + Double(i) * 1e-3) : Float(50 + Double(i % 97) * 0.1)
        }
        let leading = [Float](repeating: -.infinity, count: 3000) + random[3000...]
        let rows = [random, rising, jump, leading]
        let x = rows.flatMap { $0 }
        let want: [Double] = rows.map { row in
            let m = Double(row.max()!)
            return m + Double.log(row.reduce(0.0) { $0 + Double.exp(Double($1) - m) })
        }
        // Not for rows of 262221: the shorter lengths cover the one read, and this keeps the test short.
        let (copies, repeated) = n < 100_000 ? Self.repeatedPastCache(x) : (0, [])
        for set in Self.supported {
            let out = try InstructionSetTests().withSet(set) { try logSumExpFloat(x, length: n) }
            for (i, (got, ref)) in zip(out, want).enumerated() {
                #expect(abs(Double(got) - ref) <= 1e-7 * abs(ref) + 5e-7, "\(set) n=\(n) row \(i): \(got) vs \(ref)")
            }
            if copies > 0 {
                let outr = try InstructionSetTests().withSet(set) { try logSumExpFloat(repeated, length: n) }
                let firstBad = outr.indices.first { i in
                    let ref = want[i % want.count]
                    return !(abs(Double(outr[i]) - ref) <= 1e-7 * abs(ref) + 5e-7)
                }
                #expect(firstBad == nil, "\(set) n=\(n), \(copies) copies: first failing row")
            }
            let bad = Self.nonFiniteRows(from: random, infinityAt: n / 2)
            let lse = try InstructionSetTests().withSet(set) { try logSumExpFloat(bad.flatMap(\.row), length: n) }
            #expect(lse[0].isNaN && lse[1] == .infinity && lse[2] == -.infinity, "\(set) n=\(n) \(lse)")
        }
    }

    func logSumExpFloat(_ x: [Float], length: Int) throws -> [Float] {
        var out = [Float](repeating: 0, count: x.count / length)
        try x.withUnsafeBufferPointer { xb in
            try out.withUnsafeMutableBufferPointer {
                try logSumExp(xb, layout: AxisLayout(outer: x.count / length, length: length), into: $0)
            }
        }
        return out
    }

    @Test func maximumRisingOrFallingAcrossChunks() throws {
        let n = 5000
        let rising = (0..<n).map { Float($0) * 0.01 }
        let falling = rising.reversed().map { $0 }
        // Chunks far apart: the first chunk's factor exp(m_0 - m) underflows to 0.
        let jump: [Float] = (0..<n).map { (i: Int) -> Float in
            i < 1024 ? Float(-200 + Double(i) * 1e-3) : Float(50 + Double(i % 97) * 0.1)
        }
        for (name, x) in [("rising", rising), ("falling", falling), ("jump", jump)] {
            try expectBothMatch(x, length: n, name)
        }
    }

    @Test func leadingMinusInfinityChunksGiveExactZeros() throws {
        let n = 3000
        let tail = TestSupport.normal([n - 1500], scale: 3, seed: 5).scalars.map { Float($0) }
        let x = [Float](repeating: -.infinity, count: 1500) + tail
        for set in Self.supported {
            let y = try softmaxFloat(x, length: n, set: set)
            #expect(y[..<1500].allSatisfy { $0 == 0 }, "\(set)")
            let w = worst(y, x, length: n)
            #expect(w <= 1, "\(set) worst \(w)")
            #expect(abs(y.reduce(0, +) - 1) < 1e-4)
            let ly = try softmaxFloat(x, length: n, set: set, log: true)
            #expect(ly[..<1500].allSatisfy { $0 == -.infinity }, "\(set) log")
            let lw = worst(Array(ly[1500...]), Array(x[1500...]), length: n - 1500, log: true)
            #expect(lw <= 1, "\(set) log worst \(lw)")
            // Repeated to 8.4 MB, the one-read path: its first chunk, all -inf, wrote no exps
            // (softmax), and log-softmax copied it into y apart from the exps' sweep.
            let copies = 700
            let yr = try softmaxFloat([[Float]](repeating: x, count: copies).flatMap { $0 }, length: n, set: set)
            #expect((0..<copies).allSatisfy { r in yr[r * n..<r * n + 1500].allSatisfy { $0 == 0 } }, "\(set) repeated")
            #expect(zip(yr, (0..<copies).flatMap { _ in y }).allSatisfy { abs($0 - $1) <= 1e-6 * $1 + 1e-9 }, "\(set) repeated")
            let lyr = try softmaxFloat([[Float]](repeating: x, count: copies).flatMap { $0 }, length: n, set: set, log: true)
            #expect(zip(lyr, (0..<copies).flatMap { _ in ly }).allSatisfy { $1.isInfinite ? $0 == $1 : abs($0 - $1) <= 2e-6 * max(abs($1), 1) },
                    "\(set) log repeated")
        }
    }

    /// Rows whose maximum is not finite, made from a finite `base`: a NaN as the last
    /// element, a +inf at `infinityAt`, and -inf everywhere.
    static func nonFiniteRows(from base: [Float], infinityAt: Int) -> [(name: String, row: [Float])] {
        var lateNaN = base
        lateNaN[base.count - 1] = .nan
        var plusInfinity = base
        plusInfinity[infinityAt] = .infinity
        return [("late NaN", lateNaN), ("+inf", plusInfinity), ("all -inf", [Float](repeating: -.infinity, count: base.count))]
    }

    /// As they are (in cache) and repeated to 8.4 MB (the one read; log-softmax copying x
    /// into its output, which a NaN or +inf stops partway).
    @Test(arguments: [false, true])
    func nonFiniteRowsGiveNaN(pastCache: Bool) throws {
        let n = 3000
        let base = TestSupport.normal([n], scale: 3, seed: 6).scalars.map { Float($0) }
        let layout = AxisLayout(outer: 1, length: n)
        let want = [false, true].map { referenceSoftmax(base.map(Double.init), layout, log: $0) }
        for set in Self.supported {
            // Three rows: the finite row between two bad ones must come out right.
            for (name, bad) in Self.nonFiniteRows(from: base, infinityAt: 2500) {
                for log in [false, true] {
                    let x = pastCache ? Self.repeatedPastCache(bad + base + bad).values : bad + base + bad
                    let y = try softmaxFloat(x, length: n, set: set, log: log)
                    for r in stride(from: 0, to: x.count, by: 3 * n) {
                        #expect(y[r..<r + n].allSatisfy { $0.isNaN }, "\(set) \(name) log=\(log) at \(r)")
                        #expect(y[r + 2 * n..<r + 3 * n].allSatisfy { $0.isNaN }, "\(set) \(name) log=\(log) at \(r)")
                        let w = zip(y[r + n..<r + 2 * n], want[log ? 1 : 0]).map { Self.units($0, $1, log: log) }.max()!
                        #expect(w <= 1, "\(set) \(name) log=\(log): middle row at \(r) worst \(w)")
                    }
                }
            }
        }
    }

    /// Softmax and log-softmax of `x` on every instruction set: the same bits with each of
    /// `threads` as with one thread.
    func expectSameBitsAcrossThreads(_ x: [Float], length: Int, threads: [Int], _ label: String) throws {
        for set in Self.supported {
            for log in [false, true] {
                let one = try softmaxFloat(x, length: length, set: set, threads: 1, log: log)
                for t in threads {
                    let y = try softmaxFloat(x, length: length, set: set, threads: t, log: log)
                    #expect(y.map(\.bitPattern) == one.map(\.bitPattern), "\(set) \(label) log=\(log) threads=\(t)")
                }
            }
        }
    }

    @Test func resultsDoNotDependOnThreadCount() throws {
        let n = 4096, rows = 64
        let x = TestSupport.normal([rows * n], scale: 3, seed: 8).scalars.map { Float($0) }
        try expectSameBitsAcrossThreads(x, length: n, threads: [2, 3], "n=\(n)")
    }

    // MARK: Rows of 262144 or more: blocks shared by the threads

    /// Cheap deterministic values in [-8, 8] (a debug build makes normal draws of
    /// millions slow).
    static func spread(_ count: Int, seed: Int) -> [Float] {
        (0..<count).map { Float(($0 &* 7919 &+ seed &* 104_729) % 4001) * 0.004 - 8 }
    }

    /// One block (262144), two uneven blocks (262145), four with an odd length, and
    /// more than 32 blocks' worth (8.4M: 32 blocks whose chunks are longer than 1024),
    /// the last on the best instruction set only to keep the run short.
    @Test(arguments: [262_144, 262_145, 1_000_003, 8_400_017])
    func splitRowsMatchDoubleReference(length: Int) throws {
        // A rising trend, so the blocks' maxima differ and their sums must be rescaled.
        let x = zip(Self.spread(length, seed: length % 1000), 0...).map { $0 + Float(6 * Double($1) / Double(length)) }
        let sets = length > 2_000_000 ? [Self.supported.last!] : Self.supported
        for log in [false, true] {
            let want = referenceSoftmax(x.map(Double.init), AxisLayout(outer: 1, length: length), log: log)
            for set in sets {
                let y = try softmaxFloat(x, length: length, set: set, threads: 2, log: log)
                var worst = 0.0
                for (a, b) in zip(y, want) { worst = max(worst, Self.units(a, b, log: log)) }
                #expect(worst <= 1, "\(set) n=\(length) log=\(log) worst \(worst)")
            }
        }
    }

    /// A block of -inf between finite ones gives exact zeros (log: -inf) there and the
    /// right values elsewhere; a NaN or +inf in any one block, or -inf everywhere, gives
    /// NaN everywhere, the rows around it unharmed.
    @Test func splitRowsWithNonFiniteBlocks() throws {
        let n = 600_000  // three blocks of 200000
        let base = Self.spread(n, seed: 3)
        var minusBlock = base
        for i in 200_000..<400_000 { minusBlock[i] = -.infinity }
        for set in Self.supported {
            for log in [false, true] {
                let y = try softmaxFloat(minusBlock, length: n, set: set, threads: 2, log: log)
                #expect(y[200_000..<400_000].allSatisfy { $0 == (log ? -.infinity : 0) }, "\(set) log=\(log)")
                let kept = Array(minusBlock[..<200_000] + minusBlock[400_000...])
                let got = Array(y[..<200_000] + y[400_000...])
                #expect(worst(got, kept, length: kept.count, log: log) <= 1, "\(set) -inf block log=\(log)")
            }
        }
        var lateNaN = base
        lateNaN[n - 1] = .nan
        var plusInfinity = base
        plusInfinity[250_000] = .infinity
        let allMinusInfinity = [Float](repeating: -.infinity, count: n)
        let set = Self.supported.last!
        for (name, bad) in [("late NaN", lateNaN), ("+inf", plusInfinity), ("all -inf", allMinusInfinity)] {
            for log in [false, true] {
                for threads in [1, 4] {  // one thread, and rows shared by the threads (fewer rows than threads)
                    let y = try softmaxFloat(bad + base + bad, length: n, set: set, threads: threads, log: log)
                    #expect(y[..<n].allSatisfy { $0.isNaN } && y[(2 * n)...].allSatisfy { $0.isNaN }, "\(name) log=\(log)")
                    let w = worst(Array(y[n..<(2 * n)]), base, length: n, log: log)
                    #expect(w <= 1, "\(name) log=\(log) threads=\(threads): middle row worst \(w)")
                }
            }
        }
    }

    /// Softmax takes its exps again from x, instead of reading back the ones it stored,
    /// when each thread's share of a split row is 4M elements or more: here at 1 thread
    /// and not at 2. The values must be the same bits either way, on every instruction set,
    /// including chunks whose running maximum is -inf (a leading run of -inf) or rises,
    /// and an output that does not start on a 64-byte boundary (its head goes through a
    /// partial vector before the non-temporal stores).
    @Test func softmaxTakenAgainMatchesStoredExps() throws {
        let n = 4_194_304 + 4_099
        var x = zip(Self.spread(n, seed: 11), 0...).map { $0 + Float(4 * Double($1) / Double(n)) }
        for i in 0..<3_000 { x[i] = -.infinity }            // chunks 0-1 of the first block
        for i in 1_000_000..<1_002_500 { x[i] = -.infinity } // across a chunk boundary mid-row
        for set in Self.supported {
            for offset in [0, 3] {
                let input = Array(x[offset...])
                let again = try softmaxFloat(input, length: input.count, set: set, threads: 1)
                let stored = try softmaxFloat(input, length: input.count, set: set, threads: 2)
                let same = zip(again, stored).allSatisfy { $0.bitPattern == $1.bitPattern }
                #expect(same, "\(set) offset \(offset)")
                #expect(again[..<(3_000 - offset)].allSatisfy { $0 == 0 }, "\(set) offset \(offset): leading -inf")
            }
        }
        let y = try softmaxFloat(x, length: n, set: Self.supported.last!, threads: 1)
        #expect(worst(y, x, length: n) <= 1)
    }

    /// The blocks are fixed by the length: 1, 2 and 4 threads give the same bits, for
    /// one row and for three (rows shared by the threads when there are fewer rows than
    /// threads, a row per thread otherwise).
    @Test func splitRowsDoNotDependOnThreadCount() throws {
        let n = 700_001
        for rows in [1, 3] {
            try expectSameBitsAcrossThreads(Self.spread(rows * n, seed: rows), length: n, threads: [2, 4], "rows=\(rows)")
        }
    }
}
