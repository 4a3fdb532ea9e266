import Kernels
import Testing
import _TestSupport

/// A class axis that is not last (inner > 1) reads each class of 16 consecutive positions
/// as one vector and computes on it with the block functions of contiguous rows of up to
/// 64 classes. These tests compare every kernel and cross-entropy option on an inner
/// layout with the contiguous rows of the transposed input: bit for bit where both take
/// the same lane-wise arithmetic (logsumexp up to 64 classes, softmax and log-softmax up
/// to 31, cross-entropy up to 55 without the gradient and up to 39 but 32 with it), to a
/// few roundings elsewhere (contiguous rows of other counts take the 16-row groups or
/// the per-row paths; on an inner layout, one class and cross-entropy of more than 64
/// take the scalar loops, softmax and logsumexp of more than 64 a column pass). Rows with
/// NaN, +inf and only -inf, and an ignored target, are among them; 1 and 2 threads give
/// the same bits; every instruction set.
@Suite(.serialized) struct InnerLayoutTests {
    struct Outputs {
        var softmax: [Float], logSoftmax: [Float], logSumExp: [Float]
        var loss: [[Float]], gradient: [[Float]]
    }

    /// The option sets: (class weights, label smoothing, gradient, upstream).
    static let options: [(Bool, Float, Bool, Bool)] = [
        (false, 0, true, false), (false, 0, false, false), (true, 0.15, true, true), (true, 0.15, false, false),
        (true, 0, true, false), (false, 0.2, true, true),
    ]

    func run(_ x: [Float], _ t: [Int], _ weight: [Float], _ upstream: [Float], _ layout: AxisLayout,
             threads: Int) throws -> Outputs {
        var y = [Float](repeating: -7, count: x.count), ly = y, lse = [Float](repeating: -7, count: layout.rows)
        var losses: [[Float]] = [], gradients: [[Float]] = []
        try x.withUnsafeBufferPointer { xb in
            try y.withUnsafeMutableBufferPointer { try softmax(xb, layout: layout, into: $0, threads: threads) }
            try ly.withUnsafeMutableBufferPointer { try logSoftmax(xb, layout: layout, into: $0, threads: threads) }
            try lse.withUnsafeMutableBufferPointer { try logSumExp(xb, layout: layout, into: $0, threads: threads) }
            for (useWeight, smoothing, withGradient, withUpstream) in Self.options {
                var loss = [Float](repeating: -7, count: layout.rows), grad = [Float](repeating: -7, count: x.count)
                try t.withUnsafeBufferPointer { tb in
                    try weight.withUnsafeBufferPointer { wb in
                        try upstream.withUnsafeBufferPointer { ub in
                            try loss.withUnsafeMutableBufferPointer { lb in
                                try grad.withUnsafeMutableBufferPointer { gb in
                                    try softmaxCrossEntropy(
                                        logits: xb, targets: tb, layout: layout, classWeights: useWeight ? wb : nil,
                                        labelSmoothing: smoothing, losses: lb, gradient: withGradient ? gb : nil,
                                        gradientScale: 0.5, upstream: withUpstream ? ub : nil, threads: threads)
                                }
                            }
                        }
                    }
                }
                losses.append(loss)
                gradients.append(grad)
            }
        }
        return Outputs(softmax: y, logSoftmax: ly, logSumExp: lse, loss: losses, gradient: gradients)
    }

    /// (outer, C, inner) elements to rows of C classes, row o * inner + i; and back.
    static func toRows(_ x: [Float], _ l: AxisLayout) -> [Float] {
        var out = x
        for o in 0..<l.outer { for c in 0..<l.length { for i in 0..<l.inner {
            out[(o * l.inner + i) * l.length + c] = x[(o * l.length + c) * l.inner + i]
        } } }
        return out
    }

    static func input(_ l: AxisLayout, seed: UInt64) -> ([Float], [Int]) {
        let n = l.length
        var x = TestSupport.normal([l.count], scale: 3, seed: seed).scalars.map { Float($0) }
        var t = TestSupport.classIndices([l.rows], classes: n, seed: seed + 1).scalars
        // Rows (in o * inner + i order) with a NaN, a +inf, only -inf, an ignored target.
        func at(_ row: Int, _ c: Int) -> Int { ((row / l.inner) * n + c) * l.inner + row % l.inner }
        if l.rows > 1 { x[at(1, n / 2)] = .nan }
        if l.rows > 2 { x[at(2, 0)] = .infinity }
        if l.rows > 3 { for c in 0..<n { x[at(3, c)] = -.infinity } }
        if l.rows > 4 { t[4] = -100 }
        if l.rows > 20 { x[at(20, n - 1)] = 40 }  // a confident row
        return (x, t)
    }

    /// Bit for bit, or within `tolerance` relative (1 below magnitude 1), NaN where NaN.
    static func close(_ a: [Float], _ b: [Float], _ tolerance: Float) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { u, v in
            if tolerance == 0 || u.isNaN || v.isNaN || u.isInfinite || v.isInfinite {
                return u.bitPattern == v.bitPattern || (u.isNaN && v.isNaN)
            }
            return abs(u - v) <= tolerance * max(1, abs(v))
        }
    }

    @Test func innerLayoutsGiveTheContiguousResultsOfTheTransposedInput() throws {
        let counts = Array(1...66) + [100, 150]
        for set in InstructionSetTests.supported {
            for n in counts {
                for inner in [1, 3, 16, 17, 100] {
                    for outer in [1, 5] {
                        let layout = AxisLayout(outer: outer, length: n, inner: inner)
                        let rows = AxisLayout(outer: layout.rows, length: n)
                        let (x, t) = Self.input(layout, seed: UInt64(1000 * n + 10 * inner + outer))
                        let weight = TestSupport.uniform([n], in: 0.2...2, seed: 9).scalars.map { Float($0) }
                        let upstream = TestSupport.uniform([layout.rows], in: -2...2, seed: 11).scalars.map { Float($0) }
                        let (got, want) = try InstructionSetTests().withSet(set) {
                            (try run(x, t, weight, upstream, layout, threads: 1),
                             try run(Self.toRows(x, layout), t, weight, upstream, rows, threads: 1))
                        }
                        let vector = n >= 2 && n <= 64
                        let tag = "\(set) n=\(n) inner=\(inner) outer=\(outer)"
                        let softmaxTolerance: Float = vector && n <= 31 ? 0 : 2e-5
                        #expect(Self.close(Self.toRows(got.softmax, layout), want.softmax, softmaxTolerance), "\(tag) softmax")
                        #expect(Self.close(Self.toRows(got.logSoftmax, layout), want.logSoftmax, softmaxTolerance),
                                "\(tag) log-softmax")
                        #expect(Self.close(got.logSumExp, want.logSumExp, vector ? 0 : 2e-6), "\(tag) logsumexp")
                        for (k, option) in Self.options.enumerated() {
                            let withGradient = option.2
                            let exact = vector && (withGradient ? n <= 39 && n != 32 : n <= 55)
                            let tolerance: Float = exact ? 0 : 2e-5
                            #expect(Self.close(got.loss[k], want.loss[k], tolerance), "\(tag) CE loss \(option)")
                            if withGradient {
                                #expect(Self.close(Self.toRows(got.gradient[k], layout), want.gradient[k], tolerance),
                                        "\(tag) CE gradient \(option)")
                            }
                        }
                        if layout.rows > 4 {
                            #expect(got.loss[0][4] == 0 && got.logSumExp[3] == -.infinity && got.logSumExp[1].isNaN,
                                    "\(tag) special rows")
                        }
                    }
                }
            }
        }
    }

    @Test func innerLayoutResultsDoNotDependOnThreads() throws {
        for set in InstructionSetTests.supported {
            for n in [2, 3, 10, 16, 21, 40, 64, 100] {
                let layout = AxisLayout(outer: 6, length: n, inner: 2051)
                let (x, t) = Self.input(layout, seed: UInt64(77 + n))
                let weight = TestSupport.uniform([n], in: 0.2...2, seed: 9).scalars.map { Float($0) }
                let upstream = TestSupport.uniform([layout.rows], in: -2...2, seed: 11).scalars.map { Float($0) }
                let (one, two) = try InstructionSetTests().withSet(set) {
                    (try run(x, t, weight, upstream, layout, threads: 1), try run(x, t, weight, upstream, layout, threads: 2))
                }
                let tag = "\(set) n=\(n)"
                #expect(Self.close(one.softmax, two.softmax, 0) && Self.close(one.logSoftmax, two.logSoftmax, 0), "\(tag)")
                #expect(Self.close(one.logSumExp, two.logSumExp, 0), "\(tag)")
                for k in one.loss.indices {
                    #expect(Self.close(one.loss[k], two.loss[k], 0) && Self.close(one.gradient[k], two.gradient[k], 0),
                            "\(tag) CE \(Self.options[k])")
                }
            }
        }
    }
}
