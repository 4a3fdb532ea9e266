import Kernels
import Testing
import _TestSupport

/// The 16-bit kernels compute what the Float kernels compute on the inputs widened to
/// Float and round each output once: their results equal, bit for bit, the Float kernel's
/// on the widened inputs rounded to the type (NaN for NaN), on every instruction set, for
/// every thread count, on every row-length path (rows shorter than a vector, 16-row
/// groups, one-row sweeps, one-read chunks, out-of-cache sizes, inner strides).
@Suite(.serialized) struct SixteenBitKernelTests {
    static var supported: [InstructionSet] {
        TestSupport.holdingInstructionSet {
            let original = InstructionSet.active
            defer { InstructionSet.select(original) }
            return InstructionSet.allCases.filter { InstructionSet.select($0) }
        }
    }

    func onEverySet(_ body: (InstructionSet) throws -> Void) rethrows {
        try TestSupport.holdingInstructionSet {
            let original = InstructionSet.active
            defer { InstructionSet.select(original) }
            for set in Self.supported {
                #expect(InstructionSet.select(set))
                try body(set)
                // A CPU with AVX512_BF16 runs the AVX-512 build without it as well.
                if set == .avx512 && InstructionSet.useAVX512BF16(true) {
                    #expect(InstructionSet.useAVX512BF16(false))
                    try body(set)
                }
            }
        }
    }

    /// Values drawn exactly in `T`, with NaN, infinities and a row of -inf where `specials`.
    static func values<T: KernelScalar>(_: T.Type, _ count: Int, scale: Double, seed: UInt64, specials: Bool) -> [T] {
        var v = TestSupport.normal([count], scale: scale, seed: seed).scalars.map { T(Float($0)) }
        if specials && count > 64 {
            v[3] = .nan
            v[count / 2] = .infinity
            v[count - 5] = -.infinity
        }
        return v
    }

    /// `a` and `b` are the same values bit for bit, NaN matching any NaN.
    static func same<T: KernelScalar>(_ a: [T], _ b: [T]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { ($0.isNaN && $1.isNaN) || ($0 == $1 && $0.sign == $1.sign) }
    }

    /// Expects `same(a, b)` (or within one unit in the last place of `T` with `ulps`),
    /// reporting the first difference rather than the arrays.
    static func expectSame<T: KernelScalar>(_ a: [T], _ b: [T], _ what: String, ulps: Bool = false,
                                            sourceLocation: SourceLocation = #_sourceLocation) {
        guard a.count == b.count else {
            Issue.record("\(what): \(a.count) values, expected \(b.count)", sourceLocation: sourceLocation)
            return
        }
        for i in a.indices {
            let x = a[i], y = b[i]
            if (x.isNaN && y.isNaN) || (x == y && x.sign == y.sign) { continue }
            if ulps && (x == y.nextUp || x == y.nextDown) { continue }
            Issue.record("\(what): element \(i) is \(x), expected \(y)", sourceLocation: sourceLocation)
            return
        }
    }

    static func rounded<T: KernelScalar>(_ f: [Float], _: T.Type) -> [T] { f.map { T($0) } }
    static func wide<T: KernelScalar>(_ v: [T]) -> [Float] { v.map { Float($0) } }

    static let layouts: [AxisLayout] = [
        AxisLayout(outer: 37, length: 1), AxisLayout(outer: 33, length: 7), AxisLayout(outer: 40, length: 16),
        AxisLayout(outer: 35, length: 100), AxisLayout(outer: 9, length: 159), AxisLayout(outer: 7, length: 1000),
        AxisLayout(outer: 5, length: 2051), AxisLayout(outer: 3, length: 8200), AxisLayout(outer: 2, length: 20000),
        AxisLayout(outer: 4, length: 30, inner: 3), AxisLayout(outer: 2, length: 17, inner: 5),
    ]

    func checkSoftmaxAndReductions<T: KernelScalar>(_: T.Type, layouts: [AxisLayout], specials: Bool) throws {
        try onEverySet { set in
            for (i, layout) in layouts.enumerated() {
                let x = Self.values(T.self, layout.count, scale: 3, seed: UInt64(10 + i), specials: specials)
                let xf = Self.wide(x)
                for log in [false, true] {
                    var wantF = [Float](repeating: 0, count: x.count)
                    try xf.withUnsafeBufferPointer { xb in
                        try wantF.withUnsafeMutableBufferPointer {
                            log ? try logSoftmax(xb, layout: layout, into: $0) : try softmax(xb, layout: layout, into: $0)
                        }
                    }
                    let want: [T] = Self.rounded(wantF, T.self)
                    for threads in [1, 2, 3] {
                        var y = [T](repeating: 0, count: x.count)
                        try x.withUnsafeBufferPointer { xb in
                            try y.withUnsafeMutableBufferPointer {
                                log ? try logSoftmax(xb, layout: layout, into: $0, threads: threads)
                                    : try softmax(xb, layout: layout, into: $0, threads: threads)
                            }
                        }
                        // Contiguous rows of 256 or more take the fused 16-bit rows: the Float kernel's
                        // three-sweep arithmetic, within one unit in the last place where it reads a
                        // row once by chunks.
                        Self.expectSame(y, want, "\(T.self) \(set) \(log ? "log-softmax" : "softmax") \(layout) threads \(threads)",
                                        ulps: layout.inner == 1 && layout.length >= 256)
                    }
                    // Backward from the 16-bit outputs and a 16-bit upstream.
                    let dy = Self.values(T.self, layout.count, scale: 1, seed: UInt64(50 + i), specials: false)
                    var dxF = [Float](repeating: 0, count: x.count), dx = [T](repeating: 0, count: x.count)
                    let wf = Self.wide(want), dyf = Self.wide(dy)
                    try wf.withUnsafeBufferPointer { yb in
                        try dyf.withUnsafeBufferPointer { db in
                            try dxF.withUnsafeMutableBufferPointer {
                                log ? try logSoftmaxBackward(output: yb, upstream: db, layout: layout, into: $0)
                                    : try softmaxBackward(output: yb, upstream: db, layout: layout, into: $0)
                            }
                        }
                    }
                    try want.withUnsafeBufferPointer { yb in
                        try dy.withUnsafeBufferPointer { db in
                            try dx.withUnsafeMutableBufferPointer {
                                log ? try logSoftmaxBackward(output: yb, upstream: db, layout: layout, into: $0, threads: 2)
                                    : try softmaxBackward(output: yb, upstream: db, layout: layout, into: $0, threads: 2)
                            }
                        }
                    }
                    Self.expectSame(dx, Self.rounded(dxF, T.self), "\(T.self) \(set) backward log \(log) \(layout)")
                }
                typealias Reduction<S: KernelScalar> = (UnsafeBufferPointer<S>, AxisLayout, UnsafeMutableBufferPointer<S>, Int) throws -> Void
                let reductions: [(String, Reduction<Float>, Reduction<T>)] = [
                    ("logsumexp", { try logSumExp($0, layout: $1, into: $2, threads: $3) }, { try logSumExp($0, layout: $1, into: $2, threads: $3) }),
                    ("sum", { try rowSum($0, layout: $1, into: $2, threads: $3) }, { try rowSum($0, layout: $1, into: $2, threads: $3) }),
                    ("mean", { try rowMean($0, layout: $1, into: $2, threads: $3) }, { try rowMean($0, layout: $1, into: $2, threads: $3) }),
                    ("max", { try rowMax($0, layout: $1, into: $2, threads: $3) }, { try rowMax($0, layout: $1, into: $2, threads: $3) }),
                    ("l2", { try rowNorm($0, layout: $1, kind: .l2, into: $2, threads: $3) }, { try rowNorm($0, layout: $1, kind: .l2, into: $2, threads: $3) }),
                ]
                for (name, f32, f16) in reductions {
                    var wantF = [Float](repeating: 0, count: layout.rows)
                    try xf.withUnsafeBufferPointer { xb in try wantF.withUnsafeMutableBufferPointer { try f32(xb, layout, $0, 1) } }
                    for threads in [1, 3] {
                        var out = [T](repeating: 0, count: layout.rows)
                        try x.withUnsafeBufferPointer { xb in try out.withUnsafeMutableBufferPointer { try f16(xb, layout, $0, threads) } }
                        Self.expectSame(out, Self.rounded(wantF, T.self), "\(T.self) \(set) \(name) \(layout) threads \(threads)")
                    }
                }
                // argmax: the first index of the maximum, as the Float kernel reports it.
                var amF = [Int](repeating: -1, count: layout.rows), am = amF
                var mF = [Float](repeating: 0, count: layout.rows), m = [T](repeating: 0, count: layout.rows)
                try xf.withUnsafeBufferPointer { xb in
                    try mF.withUnsafeMutableBufferPointer { ob in try amF.withUnsafeMutableBufferPointer { try rowMax(xb, layout: layout, into: ob, argmax: $0) } }
                }
                try x.withUnsafeBufferPointer { xb in
                    try m.withUnsafeMutableBufferPointer { ob in try am.withUnsafeMutableBufferPointer { try rowMax(xb, layout: layout, into: ob, argmax: $0, threads: 2) } }
                }
                #expect(am == amF, "\(T.self) \(set) argmax \(layout)")
                Self.expectSame(m, Self.rounded(mF, T.self), "\(T.self) \(set) max with argmax \(layout)")
            }
        }
    }

    @Test func softmaxBackwardAndReductionsMatchFloatRoundedOnce() throws {
        try checkSoftmaxAndReductions(Float16.self, layouts: Self.layouts, specials: false)
        try checkSoftmaxAndReductions(BFloat16.self, layouts: Self.layouts, specials: false)
    }

    @Test func nanAndInfinityRowsMatchFloatRoundedOnce() throws {
        let layouts = [AxisLayout(outer: 3, length: 100), AxisLayout(outer: 2, length: 3000), AxisLayout(outer: 2, length: 20000)]
        try checkSoftmaxAndReductions(Float16.self, layouts: layouts, specials: true)
        try checkSoftmaxAndReductions(BFloat16.self, layouts: layouts, specials: true)
    }

    /// Sizes past the Float kernels' in-cache threshold (8 MiB of Float), where rows take
    /// the out-of-cache paths (one read by chunks for cross-entropy and softmax).
    @Test func outOfCacheSizesMatchFloatRoundedOnce() throws {
        let layout = AxisLayout(outer: 66, length: 32000)
        let x = Self.values(BFloat16.self, layout.count, scale: 3, seed: 900, specials: false)
        let xf = Self.wide(x)
        let targets = TestSupport.classIndices([layout.rows], classes: layout.length, seed: 901).scalars
        try onEverySet { set in
            var yF = [Float](repeating: 0, count: x.count), gF = yF, lF = [Float](repeating: 0, count: layout.rows)
            try xf.withUnsafeBufferPointer { xb in
                try yF.withUnsafeMutableBufferPointer { try softmax(xb, layout: layout, into: $0) }
                try targets.withUnsafeBufferPointer { tb in
                    try lF.withUnsafeMutableBufferPointer { lb in
                        try gF.withUnsafeMutableBufferPointer {
                            try softmaxCrossEntropy(logits: xb, targets: tb, layout: layout, losses: lb, gradient: $0, gradientScale: 0.5)
                        }
                    }
                }
            }
            for threads in [1, 2] {
                var y = [BFloat16](repeating: 0, count: x.count), g = y, l = [BFloat16](repeating: 0, count: layout.rows)
                try x.withUnsafeBufferPointer { xb in
                    try y.withUnsafeMutableBufferPointer { try softmax(xb, layout: layout, into: $0, threads: threads) }
                    try targets.withUnsafeBufferPointer { tb in
                        try l.withUnsafeMutableBufferPointer { lb in
                            try g.withUnsafeMutableBufferPointer {
                                try softmaxCrossEntropy(logits: xb, targets: tb, layout: layout, losses: lb, gradient: $0,
                                                        gradientScale: 0.5, threads: threads)
                            }
                        }
                    }
                }
                Self.expectSame(y, Self.rounded(yF, BFloat16.self), "softmax \(set) threads \(threads)", ulps: true)
                // Out of cache the Float kernel reads rows of 16384 classes or more once by chunks (one
                // more Float rounding in some exps); the 16-bit rows take the three sweeps: one unit in
                // the last place of bfloat16 at most.
                Self.expectSame(l, Self.rounded(lF, BFloat16.self), "CE loss \(set) threads \(threads)", ulps: true)
                Self.expectSame(g, Self.rounded(gF, BFloat16.self), "CE gradient \(set) threads \(threads)", ulps: true)
            }
        }
    }

    func checkCrossEntropy<T: KernelScalar>(_: T.Type, layouts: [AxisLayout]) throws {
        try onEverySet { set in
            for (i, layout) in layouts.enumerated() {
                let n = layout.length
                let x = Self.values(T.self, layout.count, scale: 4, seed: UInt64(100 + i), specials: false)
                var targets = TestSupport.classIndices([layout.rows], classes: n, seed: UInt64(200 + i)).scalars
                targets[layout.rows / 2] = -100  // ignored
                let weights: [T] = TestSupport.uniform([n], in: 0.5...2, seed: UInt64(300 + i)).scalars.map { T(Float($0)) }
                let upstream: [T] = TestSupport.uniform([layout.rows], in: 0.5...2, seed: UInt64(400 + i)).scalars.map { T(Float($0)) }
                let q: [T] = TestSupport.uniform([layout.count], in: 0...1, seed: UInt64(500 + i)).scalars.map { T(Float($0)) }
                let xf = Self.wide(x), wf = Self.wide(weights), uf = Self.wide(upstream), qf = Self.wide(q)
                // Smoothing without weights: entries e a - b, a fused multiply-add where the
                // instruction set has one, as in the Float kernel.
                for (smoothing, weighted, withUpstream) in [(0.0, false, false), (0.1, true, true), (0.0, true, false), (0.25, false, false)] {
                    let scale = T(Float(1) / Float(layout.rows))
                    var lossF = [Float](repeating: 0, count: layout.rows), gradF = [Float](repeating: 0, count: layout.count)
                    try xf.withUnsafeBufferPointer { xb in
                        try targets.withUnsafeBufferPointer { tb in
                            try wf.withUnsafeBufferPointer { wb in
                                try uf.withUnsafeBufferPointer { ub in
                                    try lossF.withUnsafeMutableBufferPointer { lb in
                                        try gradF.withUnsafeMutableBufferPointer { gb in
                                            try softmaxCrossEntropy(
                                                logits: xb, targets: tb, layout: layout, classWeights: weighted ? wb : nil,
                                                labelSmoothing: Float(T(smoothing)), losses: lb, gradient: gb,
                                                gradientScale: Float(scale), upstream: withUpstream ? ub : nil)
                                        }
                                    }
                                }
                            }
                        }
                    }
                    for threads in [1, 2, 3] {
                        var loss = [T](repeating: 0, count: layout.rows), grad = [T](repeating: 0, count: layout.count)
                        try x.withUnsafeBufferPointer { xb in
                            try targets.withUnsafeBufferPointer { tb in
                                try weights.withUnsafeBufferPointer { wb in
                                    try upstream.withUnsafeBufferPointer { ub in
                                        try loss.withUnsafeMutableBufferPointer { lb in
                                            try grad.withUnsafeMutableBufferPointer { gb in
                                                try softmaxCrossEntropy(
                                                    logits: xb, targets: tb, layout: layout, classWeights: weighted ? wb : nil,
                                                    labelSmoothing: T(smoothing), losses: lb, gradient: gb, gradientScale: scale,
                                                    upstream: withUpstream ? ub : nil, threads: threads)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        let what = "\(T.self) \(set) \(layout) eps \(smoothing) weights \(weighted) threads \(threads)"
                        Self.expectSame(loss, Self.rounded(lossF, T.self), "CE index loss \(what)")
                        Self.expectSame(grad, Self.rounded(gradF, T.self), "CE index gradient \(what)")
                        #expect(grad[(layout.rows / 2 / layout.inner) * n * layout.inner + (layout.rows / 2) % layout.inner] == 0)
                    }
                    // Forward alone.
                    var lossOnly = [T](repeating: 0, count: layout.rows)
                    try x.withUnsafeBufferPointer { xb in
                        try targets.withUnsafeBufferPointer { tb in
                            try weights.withUnsafeBufferPointer { wb in
                                try lossOnly.withUnsafeMutableBufferPointer {
                                    try softmaxCrossEntropy(logits: xb, targets: tb, layout: layout, classWeights: weighted ? wb : nil,
                                                            labelSmoothing: T(smoothing), losses: $0, threads: 2)
                                }
                            }
                        }
                    }
                    var lossOnlyF = [Float](repeating: 0, count: layout.rows)
                    try xf.withUnsafeBufferPointer { xb in
                        try targets.withUnsafeBufferPointer { tb in
                            try wf.withUnsafeBufferPointer { wb in
                                try lossOnlyF.withUnsafeMutableBufferPointer {
                                    try softmaxCrossEntropy(logits: xb, targets: tb, layout: layout, classWeights: weighted ? wb : nil,
                                                            labelSmoothing: Float(T(smoothing)), losses: $0)
                                }
                            }
                        }
                    }
                    Self.expectSame(lossOnly, Self.rounded(lossOnlyF, T.self), "CE forward \(T.self) \(set) \(layout)")

                    // Probability targets, both gradients.
                    var pl = [T](repeating: 0, count: layout.rows), pg = [T](repeating: 0, count: layout.count), pq = pg
                    var plF = [Float](repeating: 0, count: layout.rows), pgF = [Float](repeating: 0, count: layout.count), pqF = pgF
                    try xf.withUnsafeBufferPointer { xb in
                        try qf.withUnsafeBufferPointer { qb in
                            try wf.withUnsafeBufferPointer { wb in
                                try uf.withUnsafeBufferPointer { ub in
                                    try plF.withUnsafeMutableBufferPointer { lb in
                                        try pgF.withUnsafeMutableBufferPointer { gb in
                                            try pqF.withUnsafeMutableBufferPointer { gq in
                                                try softmaxCrossEntropy(
                                                    logits: xb, targets: qb, layout: layout, classWeights: weighted ? wb : nil,
                                                    labelSmoothing: Float(T(smoothing)), losses: lb, gradient: gb, targetGradient: gq,
                                                    gradientScale: Float(scale), upstream: withUpstream ? ub : nil)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    try x.withUnsafeBufferPointer { xb in
                        try q.withUnsafeBufferPointer { qb in
                            try weights.withUnsafeBufferPointer { wb in
                                try upstream.withUnsafeBufferPointer { ub in
                                    try pl.withUnsafeMutableBufferPointer { lb in
                                        try pg.withUnsafeMutableBufferPointer { gb in
                                            try pq.withUnsafeMutableBufferPointer { gq in
                                                try softmaxCrossEntropy(
                                                    logits: xb, targets: qb, layout: layout, classWeights: weighted ? wb : nil,
                                                    labelSmoothing: T(smoothing), losses: lb, gradient: gb, targetGradient: gq,
                                                    gradientScale: scale, upstream: withUpstream ? ub : nil, threads: 2)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    let what = "\(T.self) \(set) \(layout) eps \(smoothing) weights \(weighted)"
                    Self.expectSame(pl, Self.rounded(plF, T.self), "CE prob loss \(what)")
                    Self.expectSame(pg, Self.rounded(pgF, T.self), "CE prob gradient \(what)")
                    Self.expectSame(pq, Self.rounded(pqF, T.self), "CE prob target gradient \(what)")
                }
            }
        }
    }

    /// Rows of 256 classes or more take the fused 16-bit rows: a confident row (its target's
    /// entry from the others' sum), a row with NaN, a row with +inf and a row of -inf only
    /// give the Float kernel's results rounded once (the confident entry within one unit in
    /// the last place: the others' sum is added in another order).
    @Test func confidentAndNonFiniteRowsOnTheFusedPath() throws {
        func check<T: KernelScalar>(_: T.Type) throws {
            let n = 1000, layout = AxisLayout(outer: 5, length: n)
            var x = Self.values(T.self, layout.count, scale: 1, seed: 990, specials: false)
            x[0 * n + 3] = 15  // row 0: confident in class 3 (1 - p_t about 5e-4)
            x[1 * n + 10] = .nan
            x[2 * n + 20] = .infinity
            for c in 0..<n { x[3 * n + c] = -.infinity }
            let targets = [3, 4, 5, 6, 7]
            let xf = Self.wide(x)
            var lF = [Float](repeating: 0, count: 5), gF = [Float](repeating: 0, count: layout.count)
            var l = [T](repeating: 0, count: 5), g = [T](repeating: 0, count: layout.count)
            try xf.withUnsafeBufferPointer { xb in
                try targets.withUnsafeBufferPointer { tb in
                    try lF.withUnsafeMutableBufferPointer { lb in
                        try gF.withUnsafeMutableBufferPointer {
                            try softmaxCrossEntropy(logits: xb, targets: tb, layout: layout, losses: lb, gradient: $0)
                        }
                    }
                }
            }
            try onEverySet { set in
                try x.withUnsafeBufferPointer { xb in
                    try targets.withUnsafeBufferPointer { tb in
                        try l.withUnsafeMutableBufferPointer { lb in
                            try g.withUnsafeMutableBufferPointer {
                                try softmaxCrossEntropy(logits: xb, targets: tb, layout: layout, losses: lb, gradient: $0, threads: 2)
                            }
                        }
                    }
                }
                Self.expectSame(l, Self.rounded(lF, T.self), "\(T.self) \(set) losses")
                Self.expectSame(g, Self.rounded(gF, T.self), "\(T.self) \(set) gradient", ulps: true)
                #expect(g[3] != 0 && g[3] < 0, "\(T.self) \(set) the confident target's entry \(g[3])")
                #expect(l[1].isNaN && l[2].isNaN && l[3].isNaN && !l[4].isNaN)
            }
        }
        try check(Float16.self)
        try check(BFloat16.self)
    }

    @Test func crossEntropyMatchesFloatRoundedOnce() throws {
        try checkCrossEntropy(Float16.self, layouts: Self.layouts)
        try checkCrossEntropy(BFloat16.self, layouts: Self.layouts)
    }

    func checkPointwise<T: KernelScalar>(_: T.Type) throws {
        try onEverySet { set in
            for n in [0, 5, 16, 1037, 40000] {
                var x = Self.values(T.self, n, scale: 5, seed: UInt64(600 + n), specials: n > 100)
                if n > 100 { x[7] = T(Float(70000)) }  // infinite in float16
                let y: [T] = TestSupport.uniform([n], in: 0...1, seed: UInt64(700 + n)).scalars.map { T(Float($0)) }
                let up: [T] = TestSupport.uniform([n], in: 0.5...2, seed: UInt64(800 + n)).scalars.map { T(Float($0)) }
                let xf = Self.wide(x), yf = Self.wide(y), uf = Self.wide(up)
                for kind in PointwiseLossKind.allCases {
                    let scale = T(Float(0.25))
                    var vF = [Float](repeating: 0, count: n), gF = vF
                    let sF = try xf.withUnsafeBufferPointer { xb in
                        try yf.withUnsafeBufferPointer { yb in
                            try uf.withUnsafeBufferPointer { ub in
                                try vF.withUnsafeMutableBufferPointer { vb in
                                    try gF.withUnsafeMutableBufferPointer {
                                        try pointwiseLoss(kind, input: xb, target: yb, values: vb, gradient: $0,
                                                          gradientScale: Float(scale), upstream: ub)
                                    }
                                }
                            }
                        }
                    }
                    for threads in [1, 2] {
                        var v = [T](repeating: 0, count: n), g = v
                        let s = try x.withUnsafeBufferPointer { xb in
                            try y.withUnsafeBufferPointer { yb in
                                try up.withUnsafeBufferPointer { ub in
                                    try v.withUnsafeMutableBufferPointer { vb in
                                        try g.withUnsafeMutableBufferPointer {
                                            try pointwiseLoss(kind, input: xb, target: yb, values: vb, gradient: $0,
                                                              gradientScale: scale, upstream: ub, threads: threads)
                                        }
                                    }
                                }
                            }
                        }
                        let what = "\(T.self) \(set) \(kind) n \(n) threads \(threads)"
                        Self.expectSame([s], [T(sF)], "pointwise sum \(what)")
                        Self.expectSame(v, Self.rounded(vF, T.self), "pointwise values \(what)")
                        Self.expectSame(g, Self.rounded(gF, T.self), "pointwise gradient \(what)")
                    }
                }
            }
        }
    }

    @Test func pointwiseLossesMatchFloatRoundedOnce() throws {
        try checkPointwise(Float16.self)
        try checkPointwise(BFloat16.self)
    }

    /// Empty shapes write nothing and throw nothing; rows of length 0 sum to 0.
    @Test func emptyShapes() throws {
        let none: [BFloat16] = []
        var out = [BFloat16](repeating: 7, count: 3)
        try none.withUnsafeBufferPointer { xb in
            try out.withUnsafeMutableBufferPointer { try rowSum(xb, layout: AxisLayout(outer: 3, length: 0), into: $0) }
        }
        #expect(out == [0, 0, 0])
        var y: [Float16] = []
        try [Float16]().withUnsafeBufferPointer { xb in
            try y.withUnsafeMutableBufferPointer { try softmax(xb, layout: AxisLayout(outer: 0, length: 10), into: $0, threads: 2) }
        }
        #expect(y.isEmpty)
    }
}
