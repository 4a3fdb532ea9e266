import Kernels
import Testing
import _TestSupport

/// Every instruction set this CPU supports computes the vectorized Float kernels
/// to Float accuracy against Double references (including tails shorter than a vector).
@Suite(.serialized) struct InstructionSetTests {
    static var supported: [InstructionSet] {
        TestSupport.holdingInstructionSet {
            let original = InstructionSet.active
            defer { InstructionSet.select(original) }
            return InstructionSet.allCases.filter { InstructionSet.select($0) }
        }
    }

    func withSet<R>(_ set: InstructionSet, _ body: () throws -> R) rethrows -> R {
        try TestSupport.holdingInstructionSet {
            let original = InstructionSet.active
            defer { InstructionSet.select(original) }
            #expect(InstructionSet.select(set))
            return try body()
        }
    }

    @Test func baselineIsAlwaysAvailable() {
        #expect(Self.supported.contains(.baseline))
    }

    @Test func softmaxAndCrossEntropyOnEverySet() throws {
        for set in Self.supported {
            for length in [1, 15, 16, 17, 100, 1000, 8195] {  // 8195: both read each row once, by chunks (LongRowTests)
                let layout = AxisLayout(outer: 5, length: length)
                // References see exactly the Float inputs, so only the kernels' own error is measured.
                let x = TestSupport.normal([layout.count], scale: 4, seed: UInt64(90 + length)).scalars.map { Float($0) }
                let xd = x.map { Double($0) }
                var y = [Float](repeating: 0, count: x.count), ly = y
                try withSet(set) {
                    try x.withUnsafeBufferPointer { xb in
                        try y.withUnsafeMutableBufferPointer { try softmax(xb, layout: layout, into: $0) }
                        try ly.withUnsafeMutableBufferPointer { try logSoftmax(xb, layout: layout, into: $0) }
                    }
                }
                let want = referenceSoftmax(xd, layout, log: false), wantLog = referenceSoftmax(xd, layout, log: true)
                // Float rounds x - m itself (relative error up to |x - m|·2^-24 in exp), as PyTorch does;
                // that matters only for tiny probabilities, hence the absolute term.
                let worst = zip(y, want).map { abs(Double($0) - $1) / (1e-6 * $1 + 1e-9) }.max()!
                #expect(worst <= 1, "\(set) softmax n=\(length) worst \(worst)")
                #expect(zip(ly, wantLog).allSatisfy { abs(Double($0) - $1) <= 2e-6 * max(abs($1), 1) }, "\(set) log n=\(length)")

                let t = TestSupport.classIndices([layout.rows], classes: length, seed: 7).scalars
                let ref = referenceCrossEntropy(xd, t, layout, weight: nil, ignore: -100, smoothing: 0.1)
                var loss = [Float](repeating: 0, count: layout.rows), grad = [Float](repeating: 0, count: x.count)
                try withSet(set) {
                    try x.withUnsafeBufferPointer { xb in
                        try t.withUnsafeBufferPointer { tb in
                            try loss.withUnsafeMutableBufferPointer { lb in
                                try grad.withUnsafeMutableBufferPointer { gb in
                                    try softmaxCrossEntropy(logits: xb, targets: tb, layout: layout, labelSmoothing: 0.1, losses: lb, gradient: gb)
                                }
                            }
                        }
                    }
                }
                #expect(zip(loss, ref.loss).allSatisfy { abs(Double($0) - $1) <= 1e-6 * abs($1) + 1e-7 }, "\(set) CE loss n=\(length)")
                #expect(zip(grad, ref.grad).allSatisfy { abs(Double($0) - $1) <= 1e-6 }, "\(set) CE grad n=\(length)")
            }
        }
    }

    @Test func pointwiseLossesOnEverySet() throws {
        let n = 1037
        let x = TestSupport.normal([n], scale: 5, seed: 95).scalars.map { Float($0) }
        let y = TestSupport.uniform([n], in: 0...1, seed: 96).scalars.map { Float($0) }
        let xd = x.map { Double($0) }, yd = y.map { Double($0) }
        for kind in PointwiseLossKind.allCases {
            let wantD: (sum: Double, grad: [Double]) = try {
                var g = [Double](repeating: 0, count: n)
                let s = try xd.withUnsafeBufferPointer { xb in
                    try yd.withUnsafeBufferPointer { yb in try g.withUnsafeMutableBufferPointer { try pointwiseLoss(kind, input: xb, target: yb, gradient: $0) } }
                }
                return (s, g)
            }()
            // The Double path is plain libm; check it against the formulas once.
            let direct = zip(xd, yd).map { a, b -> Double in
                switch kind {
                case .squaredError: return (a - b) * (a - b)
                case .absoluteError: return abs(a - b)
                case .logisticWithLogits: return (1 - b) * a + Double.log(onePlus: Double.exp(-a))
                }
            }.reduce(0, +)
            #expect(abs(wantD.sum - direct) <= 1e-12 * abs(direct))
            for set in Self.supported {
                var g = [Float](repeating: 0, count: n)
                let s = try withSet(set) {
                    try x.withUnsafeBufferPointer { xb in
                        try y.withUnsafeBufferPointer { yb in try g.withUnsafeMutableBufferPointer { try pointwiseLoss(kind, input: xb, target: yb, gradient: $0) } }
                    }
                }
                #expect(abs(Double(s) - wantD.sum) <= 1e-6 * abs(wantD.sum), "\(kind) \(set)")
                #expect(zip(g, wantD.grad).allSatisfy { abs(Double($0) - $1) <= 1e-6 * max(abs($1), 1) }, "\(kind) \(set)")
            }
        }
    }

    /// BCE-with-logits element by element, on every set: values and gradients within a few
    /// Float roundings of each term (so `log1p(exp(-|x|))` keeps its relative accuracy where
    /// it is the whole value: `x` large, `y = 1`), NaN in giving NaN out, and `|x|` across
    /// the whole range up to where `exp(-|x|)` underflows.
    @Test func logisticValuesAndGradientsPerElementOnEverySet() throws {
        var x: [Float] = [0, -0, 1e-30, -1e-30, 1e-7, -1e-7, .nan, .infinity, -.infinity]
        for m in [0.01, 0.1, 0.5, 0.9, 1, 1.5, 2, 5, 10, 17, 30, 50, 80, 86.9, 87.5, 90, 95, 100, 103.5, 110, 1e30] {
            x += [Float(m), Float(-m)]
        }
        x += TestSupport.normal([300], scale: 6, seed: 97).scalars.map { Float($0) }
        x += [2.5]  // a tail of 2 after the vectors of 16
        let targets: [Float] = [0, 0.3, 1]
        let xs = targets.flatMap { _ in x }, ys = targets.flatMap { t in [Float](repeating: t, count: x.count) }
        let n = xs.count
        for set in Self.supported {
            var values = [Float](repeating: 0, count: n), g = [Float](repeating: 0, count: n)
            _ = try withSet(set) {
                try xs.withUnsafeBufferPointer { xb in
                    try ys.withUnsafeBufferPointer { yb in
                        try values.withUnsafeMutableBufferPointer { vb in
                            try g.withUnsafeMutableBufferPointer {
                                try pointwiseLoss(.logisticWithLogits, input: xb, target: yb, values: vb, gradient: $0)
                            }
                        }
                    }
                }
            }
            var bad = [String]()
            for i in 0..<n {
                let a = Double(xs[i]), b = Double(ys[i]), e = Double.exp(-abs(a))
                let terms = [(1 - b) * a, max(-a, 0), Double.log(onePlus: e)]
                let value = terms.reduce(0, +)
                let sig = a >= 0 ? e / (1 + e) : 1 / (1 + e)
                let grad = (1 - b) - sig
                // Below Float's smallest normal, exp(-|x|) may flush to 0 without AVX-512.
                let valueTol = 4e-7 * terms.map(abs).reduce(0, +) + 1.2e-38
                let gradTol = 4e-7 * (abs(1 - b) + sig) + 1.2e-38
                func ok(_ got: Float, _ want: Double, _ tol: Double) -> Bool {
                    want.isNaN ? got.isNaN : want.isInfinite ? Double(got) == want : abs(Double(got) - want) <= tol
                }
                if !ok(values[i], value, valueTol) || !ok(g[i], grad, gradTol) {
                    bad.append("x \(xs[i]) y \(ys[i]): value \(values[i]) want \(value), grad \(g[i]) want \(grad)")
                }
            }
            #expect(bad.isEmpty, "\(set): \(bad.prefix(5))")
        }
    }

    /// Gradients of 16 MiB and more take the non-temporal-store path.
    @Test func pointwiseStreamingPathMatchesDouble() throws {
        let n = (1 << 22) + 17
        // A cheap pseudo-random pattern: 4M normal samples would dominate the test's time in debug builds.
        let x = (0..<n).map { Float(($0 &* 2_654_435_761) % 1000) / 250 - 2 }
        let y = (0..<n).map { Float(($0 &* 40_503) % 997) / 500 - 1 }
        var g = [Float](repeating: 0, count: n)
        let s = try x.withUnsafeBufferPointer { xb in
            try y.withUnsafeBufferPointer { yb in
                try g.withUnsafeMutableBufferPointer { try pointwiseLoss(.squaredError, input: xb, target: yb, gradient: $0, gradientScale: 0.5) }
            }
        }
        var want = 0.0
        var worst = 0.0
        for i in 0..<n {
            let d = Double(x[i]) - Double(y[i])
            want += d * d
            worst = max(worst, abs(Double(g[i]) - d))  // 0.5 · 2d
        }
        #expect(abs(Double(s) - want) <= 1e-6 * want)
        #expect(worst <= 1e-6 * 8)
    }

    @Test func pointwiseSumDoesNotDependOnThreadCount() throws {
        // Float results compared bit for bit: hold the instruction set steady (see TestSupport).
        TestSupport.instructionSetLock.lock()
        defer { TestSupport.instructionSetLock.unlock() }
        let n = 1 << 20
        let x = TestSupport.normal([n], seed: 97).scalars.map { Float($0) }, y = TestSupport.normal([n], seed: 98).scalars.map { Float($0) }
        let sums = try [1, 2, 3, 8].map { threads in
            try x.withUnsafeBufferPointer { xb in
                try y.withUnsafeBufferPointer { try pointwiseLoss(.squaredError, input: xb, target: $0, threads: threads) }
            }
        }
        #expect(sums.allSatisfy { $0 == sums[0] })
    }
}

/// Outputs of 64 MiB or more are written with non-temporal stores even when rows are
/// short: the values must be bitwise those of the cached path (the same call split in
/// two halves, each below the threshold).
@Suite struct StreamingOutputTests {
    @Test func streamedOutputsEqualTheCachedPath() throws {
        // Float results compared bit for bit: hold the instruction set steady (see TestSupport).
        TestSupport.instructionSetLock.lock()
        defer { TestSupport.instructionSetLock.unlock() }
        // Rows shorter than 768, so that the halves (33.6 MB) stay below every streaming
        // threshold (rows of 768 or more stream log-softmax from 12 MiB).
        let rows = 32_800, classes = 512  // 67.2 MB of Float output
        let layout = AxisLayout(outer: rows, length: classes), half = AxisLayout(outer: rows / 2, length: classes)
        let x = (0..<rows * classes).map { Float(($0 &* 2_654_435_761) % 2000) / 200 - 5 }
        let t = (0..<rows).map { ($0 &* 7919) % classes }
        for log in [false, true] {
            var whole = [Float](repeating: 0, count: x.count), halves = whole
            try x.withUnsafeBufferPointer { xb in
                try whole.withUnsafeMutableBufferPointer { y in
                    if log { try logSoftmax(xb, layout: layout, into: y) } else { try softmax(xb, layout: layout, into: y) }
                }
                try halves.withUnsafeMutableBufferPointer { y in
                    for h in 0..<2 {
                        let xs = UnsafeBufferPointer(rebasing: xb[h * half.count..<(h + 1) * half.count])
                        let ys = UnsafeMutableBufferPointer(rebasing: y[h * half.count..<(h + 1) * half.count])
                        if log { try logSoftmax(xs, layout: half, into: ys) } else { try softmax(xs, layout: half, into: ys) }
                    }
                }
            }
            let same = whole == halves  // a failing #expect on 16M elements would diff them for minutes
            #expect(same, "log=\(log)")
        }
        let (whole, halves) = try crossEntropyWholeAndHalves(x, t, layout)
        let same = whole.loss == halves.loss && whole.grad == halves.grad
        #expect(same)
    }

    /// Log-softmax rows of 8192 or more stream from 8 MiB of output: the same bits as the
    /// cached path (the same call in two halves, each below 8 MiB), on rows of odd length so
    /// that they start at every alignment.
    @Test func longLogSoftmaxRowsStreamedEqualTheCachedPath() throws {
        TestSupport.instructionSetLock.lock()
        defer { TestSupport.instructionSetLock.unlock() }
        let rows = 288, length = 8195  // 9.4 MB of Float output; halves 4.7 MB
        let layout = AxisLayout(outer: rows, length: length), half = AxisLayout(outer: rows / 2, length: length)
        let x = (0..<layout.count).map { Float(($0 &* 2_654_435_761) % 2000) / 200 - 5 }
        var whole = [Float](repeating: 0, count: x.count), halves = whole
        try x.withUnsafeBufferPointer { xb in
            try whole.withUnsafeMutableBufferPointer { try logSoftmax(xb, layout: layout, into: $0) }
            try halves.withUnsafeMutableBufferPointer { y in
                for h in 0..<2 {
                    try logSoftmax(
                        UnsafeBufferPointer(rebasing: xb[h * half.count..<(h + 1) * half.count]), layout: half,
                        into: UnsafeMutableBufferPointer(rebasing: y[h * half.count..<(h + 1) * half.count]))
                }
            }
        }
        let same = whole.map(\.bitPattern) == halves.map(\.bitPattern)
        #expect(same)
    }

    /// With several threads, softmax outputs of 8 MiB or more stream: same bits as one thread.
    @Test func threadedStreamingGivesTheSameBits() throws {
        // Float results compared bit for bit: hold the instruction set steady (see TestSupport).
        TestSupport.instructionSetLock.lock()
        defer { TestSupport.instructionSetLock.unlock() }
        let layout = AxisLayout(outer: 2100, length: 1000)  // 8.4 MB
        let x = (0..<layout.count).map { Float(($0 &* 40_503) % 3001) / 300 - 5 }
        for log in [false, true] {
            var outputs: [[Float]] = []
            for threads in [1, 2, 3] {
                var y = [Float](repeating: 0, count: x.count)
                try x.withUnsafeBufferPointer { xb in
                    try y.withUnsafeMutableBufferPointer {
                        if log { try logSoftmax(xb, layout: layout, into: $0, threads: threads) }
                        else { try softmax(xb, layout: layout, into: $0, threads: threads) }
                    }
                }
                outputs.append(y)
            }
            let same = outputs[1] == outputs[0] && outputs[2] == outputs[0]
            #expect(same, "log=\(log)")
        }
    }
}
