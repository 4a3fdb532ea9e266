import Kernels
import Testing
import _TestSupport

/// Cross-entropy (class indices) on rows of 16384 classes or more with a gradient (8192 or
/// more without), whose maximum and sum of exponentials the kernel takes in one read of the
/// row, chunk by chunk against a running maximum, and whose gradient it then writes chunk
/// by chunk (see the Kernels guide). It does so only for 8 MiB of logits or more (in cache it
/// takes three sweeps, two without a gradient), so those rows are also checked repeated to
/// 8.4 MB. Checked on every instruction set against Double references, with label
/// smoothing and class weights, rows whose maximum rises across chunks or jumps so far that
/// the first chunk's factor underflows, leading chunks of -inf (with the target among
/// them), non-finite rows, and 1-3 threads.
@Suite(.serialized) struct LongCrossEntropyRowTests {
    static var supported: [InstructionSet] { InstructionSetTests.supported }

    struct Result {
        var loss: [Float]
        var grad: [Float]
    }

    /// Losses and (unless `gradient` is false, when `grad` comes back empty) the gradient,
    /// into buffers that held `fill` before the call.
    func crossEntropy(
        _ x: [Float], targets: [Int], length: Int, set: InstructionSet, weights: [Float]? = nil,
        smoothing: Float = 0, threads: Int = 1, gradient: Bool = true, fill: Float = -1
    ) throws -> Result {
        let layout = AxisLayout(outer: x.count / length, length: length)
        var loss = [Float](repeating: fill, count: layout.rows), grad = [Float](repeating: fill, count: gradient ? x.count : 0)
        try InstructionSetTests().withSet(set) {
            try x.withUnsafeBufferPointer { xb in
                try targets.withUnsafeBufferPointer { tb in
                    try loss.withUnsafeMutableBufferPointer { lb in
                        try grad.withUnsafeMutableBufferPointer { gb in
                            let g = gradient ? gb : nil
                            if let weights {
                                try weights.withUnsafeBufferPointer { wb in
                                    try softmaxCrossEntropy(
                                        logits: xb, targets: tb, layout: layout, classWeights: wb,
                                        labelSmoothing: smoothing, losses: lb, gradient: g,
                                        gradientScale: 1 / Float(layout.rows), threads: threads)
                                }
                            } else {
                                try softmaxCrossEntropy(
                                    logits: xb, targets: tb, layout: layout, labelSmoothing: smoothing, losses: lb,
                                    gradient: g, gradientScale: 1 / Float(layout.rows), threads: threads)
                            }
                        }
                    }
                }
            }
        }
        return Result(loss: loss, grad: grad)
    }

    /// Worst error in units of the tolerance (≤ 1 passes) against a Double reference that
    /// sees exactly the Float inputs. Loss: 1e-6 relative + 1e-7. Gradient entry k, which is
    /// (p_k·A − a_k)·g with a_k the target's and smoothing's coefficients and A = Σ a_k:
    /// 1e-6·(p_k·A + a_k)·g + 1e-9·A·g (Float rounds x − m itself, so a tiny p_k carries a
    /// relative error up to |x − m|·2^-24, as in PyTorch: hence the absolute term).
    func worst(
        _ r: Result, _ x: [Float], targets: [Int], length: Int, weights: [Float]?, smoothing: Double,
        ignoreIndex: Int = -100
    ) -> Double {
        let layout = AxisLayout(outer: x.count / length, length: length)
        let logp = referenceSoftmax(x.map(Double.init), layout, log: true)
        let g = 1 / Double(layout.rows)
        var worst = 0.0
        for row in 0..<layout.rows {
            let base = row * length, t = targets[row]
            if t == ignoreIndex {
                if r.loss[row] != 0 || r.grad.prefix(base + length).dropFirst(base).contains(where: { $0 != 0 }) {
                    return .infinity
                }
                continue
            }
            let w = { (k: Int) in Double(weights?[k] ?? 1) }
            var a = [Double](repeating: 0, count: length)
            for k in 0..<length { a[k] = smoothing / Double(length) * w(k) }
            a[t] += (1 - smoothing) * w(t)
            let total = a.reduce(0, +)
            var loss = 0.0
            for k in 0..<length where a[k] != 0 { loss -= a[k] * logp[base + k] }
            if loss.isInfinite {
                if Double(r.loss[row]) != loss { return .infinity }
            } else {
                worst = max(worst, abs(Double(r.loss[row]) - loss) / (1e-6 * abs(loss) + 1e-7))
            }
            for k in 0..<length where !r.grad.isEmpty {
                let p = Double.exp(logp[base + k])
                let want = (p * total - a[k]) * g
                let tolerance = 1e-6 * (p * total + a[k]) * g + 1e-9 * total * g
                worst = max(worst, abs(Double(r.grad[base + k]) - want) / tolerance)
            }
        }
        return worst
    }

    func weights(_ length: Int) -> [Float] { (0..<length).map { Float(0.5 + Double(($0 &* 37) % 151) / 100) } }

    /// `x`'s rows (with their targets) repeated to 8.4 MB of logits, the one-read path (with a
    /// gradient unless `gradient` is false), on every instruction set: within tolerance, and each row's first `zeros`
    /// gradient entries but its target's exactly 0 (leading -inf chunks, which store no
    /// exponentials: the buffers start as NaN, so nothing may be left of them).
    func expectRepeatedMatch(
        _ x: [Float], targets: [Int], length: Int, smoothing: Double, zeros: Int = 0, gradient: Bool = true,
        _ label: String
    ) throws {
        let (copies, xr) = LongRowTests.repeatedPastCache(x)
        let tr = [[Int]](repeating: targets, count: copies).flatMap { $0 }
        for set in Self.supported {
            let r = try crossEntropy(
                xr, targets: tr, length: length, set: set, smoothing: Float(smoothing), gradient: gradient, fill: .nan)
            let e = worst(r, xr, targets: tr, length: length, weights: nil, smoothing: smoothing)
            #expect(e <= 1, "\(set) \(label), \(copies) copies, worst \(e)")
            if zeros > 0 {
                let rows = xr.count / length
                let firstNonzero = (0..<rows).first { row in
                    (0..<zeros).contains { k in k != tr[row] && r.grad[row * length + k] != 0 }
                }
                #expect(firstNonzero == nil, "\(set) \(label): first row with a nonzero leading entry")
            }
        }
    }

    @Test(arguments: [16384, 16387, 32000, 262_221])  // 262221: over 256 chunks, so longer chunks
    func randomRowsMatchDoubleReference(length: Int) throws {
        let rows = length > 100_000 ? 1 : 3
        let x = TestSupport.normal([rows * length], scale: 4, seed: UInt64(length)).scalars.map { Float($0) }
        let targets = TestSupport.classIndices([rows], classes: length, seed: 11).scalars
        for set in Self.supported {
            for smoothing in [0, 0.1] {
                for w in [nil, weights(length)] {
                    let r = try crossEntropy(
                        x, targets: targets, length: length, set: set, weights: w, smoothing: Float(smoothing))
                    let e = worst(r, x, targets: targets, length: length, weights: w, smoothing: smoothing)
                    #expect(e <= 1, "\(set) n=\(length) smoothing=\(smoothing) weights=\(w != nil) worst \(e)")
                }
            }
        }
        if length == 16387 { try expectRepeatedMatch(x, targets: targets, length: length, smoothing: 0.1, "n=\(length)") }
    }

    /// Without a gradient, rows of 8192 or more take their sum in the same one read (out of
    /// cache: 8 MiB of logits or more, hence the rows repeated to 8.4 MB).
    @Test(arguments: [8192, 8195, 32000, 262_221])
    func forwardOnlyMatchesDoubleReference(length: Int) throws {
        let rows = length > 100_000 ? 1 : 3
        let x = TestSupport.normal([rows * length], scale: 4, seed: UInt64(length + 1)).scalars.map { Float($0) }
        let targets = TestSupport.classIndices([rows], classes: length, seed: 16).scalars
        for set in Self.supported {
            for smoothing in [0, 0.1] {
                for w in [nil, weights(length)] {
                    let r = try crossEntropy(
                        x, targets: targets, length: length, set: set, weights: w, smoothing: Float(smoothing),
                        gradient: false)
                    let e = worst(r, x, targets: targets, length: length, weights: w, smoothing: smoothing)
                    #expect(e <= 1, "\(set) n=\(length) smoothing=\(smoothing) weights=\(w != nil) worst \(e)")
                }
            }
            // Rows whose maximum is not finite keep the sweeps: a NaN loss.
            let base = Array(x[..<length])
            for (name, bad) in LongRowTests.nonFiniteRows(from: base, infinityAt: length / 2) {
                let r = try crossEntropy(bad + base, targets: [3, 3], length: length, set: set, gradient: false)
                #expect(r.loss[0].isNaN, "\(set) \(name)")
                let e = worst(Result(loss: [r.loss[1]], grad: []), base, targets: [3], length: length, weights: nil, smoothing: 0)
                #expect(e <= 1, "\(set) \(name): finite row worst \(e)")
            }
        }
        if length == 8195 {
            try expectRepeatedMatch(x, targets: targets, length: length, smoothing: 0.1, gradient: false, "forward n=\(length)")
        }
    }

    @Test func maximumRisingOrJumpingAcrossChunks() throws {
        let n = 17_000
        let rising = (0..<n).map { Float($0) * 0.01 }
        // The first chunk far below the rest: its factor exp(m_0 - m) underflows to 0.
        let jump: [Float] = (0..<n).map { (i: Int) -> Float in
            i < 1024 ? Float(-200 + Double(i) * 1e-3) : Float(50 + Double(i % 97) * 0.1)
        }
        let x = rising + jump + rising
        let targets = [3, 17, n - 5]  // in the first chunk twice (the second's p_t is 0), then the last
        for set in Self.supported {
            for smoothing in [0, 0.2] {
                let r = try crossEntropy(x, targets: targets, length: n, set: set, smoothing: Float(smoothing))
                let e = worst(r, x, targets: targets, length: n, weights: nil, smoothing: smoothing)
                #expect(e <= 1, "\(set) smoothing=\(smoothing) worst \(e)")
            }
        }
        try expectRepeatedMatch(x, targets: targets, length: n, smoothing: 0.2, "rising and jumping")
    }

    @Test func leadingMinusInfinityChunks() throws {
        let n = 20_000, lead = 3000
        let tail = TestSupport.normal([n - lead], scale: 3, seed: 12).scalars.map { Float($0) }
        let row = [Float](repeating: -.infinity, count: lead) + tail
        let x = row + row + row
        let targets = [5000, 1234, -100]  // finite, among the -inf (infinite loss), ignored
        for set in Self.supported {
            let r = try crossEntropy(x, targets: targets, length: n, set: set)
            #expect(r.grad[..<lead].allSatisfy { $0 == 0 }, "\(set)")
            #expect(r.loss[1] == .infinity, "\(set) loss of a -inf target \(r.loss[1])")
            let e = worst(r, x, targets: targets, length: n, weights: nil, smoothing: 0)
            #expect(e <= 1, "\(set) worst \(e)")
        }
        try expectRepeatedMatch(x, targets: targets, length: n, smoothing: 0, zeros: lead, "leading -inf")
    }

    @Test func nonFiniteRowsGiveNaN() throws {
        let n = 16384
        let base = TestSupport.normal([n], scale: 3, seed: 13).scalars.map { Float($0) }
        for set in Self.supported {
            for (name, bad) in LongRowTests.nonFiniteRows(from: base, infinityAt: 12_000) {
                let targets = [7, 7, 7]
                let r = try crossEntropy(bad + base + bad, targets: targets, length: n, set: set)
                for row in [0, 2] {
                    #expect(r.loss[row].isNaN, "\(set) \(name) loss")
                    #expect(r.grad[(row * n)..<((row + 1) * n)].allSatisfy { $0.isNaN }, "\(set) \(name) grad")
                }
                // The middle row alone: its gradient was scaled by 1/3 (three rows), a
                // one-row reference's by 1.
                let middle = Result(loss: [r.loss[1]], grad: r.grad[n..<(2 * n)].map { $0 * 3 })
                let e = worst(middle, base, targets: [7], length: n, weights: nil, smoothing: 0)
                #expect(e <= 1, "\(set) \(name): middle row worst \(e)")
            }
        }
    }

    /// The one read by chunks forms the loss from x - m, as every other path: tied logits at
    /// 1e17 (exact in Float) give log(n) with and without the gradient, with smoothing, on
    /// every set and thread count, where m + log s rounds to m.
    @Test func tiedLogitsAtALargeOffsetKeepTheirLoss() throws {
        let n = 16400, rows = 130  // 8.5 MB of logits: out of cache, the one-read path
        let x = [Float](repeating: 1e17, count: rows * n)
        let targets = (0..<rows).map { $0 * 97 % n }
        let want = Double.log(Double(n))
        for set in Self.supported {
            for (smoothing, threads, gradient) in [(Float(0), 1, true), (0.1, 2, true), (0, 1, false), (0.1, 3, false)] {
                let r = try crossEntropy(x, targets: targets, length: n, set: set, smoothing: smoothing, threads: threads, gradient: gradient)
                #expect(r.loss.allSatisfy { abs(Double($0) - want) <= 1e-6 * want }, "\(set) smoothing \(smoothing): \(r.loss[0])")
            }
        }
    }

    @Test func resultsDoNotDependOnThreadCount() throws {
        let n = 16400, rows = 6
        let x = TestSupport.normal([rows * n], scale: 3, seed: 14).scalars.map { Float($0) }
        let targets = TestSupport.classIndices([rows], classes: n, seed: 15).scalars
        for set in Self.supported {
            let one = try crossEntropy(x, targets: targets, length: n, set: set, smoothing: 0.1)
            for threads in [2, 3] {
                let r = try crossEntropy(x, targets: targets, length: n, set: set, smoothing: 0.1, threads: threads)
                #expect(r.loss.map(\.bitPattern) == one.loss.map(\.bitPattern), "\(set) threads=\(threads)")
                #expect(r.grad.map(\.bitPattern) == one.grad.map(\.bitPattern), "\(set) threads=\(threads)")
            }
        }
    }
}
