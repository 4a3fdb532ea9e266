import Kernels
import Testing
import _TestSupport

/// Unfused reference: log-softmax in Double, then pick (and smooth) per row.
func referenceCrossEntropy(
    _ x: [Double], _ t: [Int], _ layout: AxisLayout, weight: [Double]?, ignore: Int, smoothing: Double
) -> (loss: [Double], grad: [Double]) {
    let logp = referenceSoftmax(x, layout, log: true)
    var loss = [Double](repeating: 0, count: layout.rows), grad = [Double](repeating: 0, count: x.count)
    let c = layout.length
    for o in 0..<layout.outer {
        for i in 0..<layout.inner {
            let row = o * layout.inner + i
            guard t[row] != ignore else { continue }
            let at = { (k: Int) in (o * c + k) * layout.inner + i }
            let w = { (k: Int) in weight?[k] ?? 1 }
            var l = -(1 - smoothing) * w(t[row]) * logp[at(t[row])]
            for k in 0..<c { l -= smoothing / Double(c) * w(k) * logp[at(k)] }
            loss[row] = l
            // d/dx_j of -sum_k a_k logp_k = p_j sum_k a_k - a_j
            var a = [Double](repeating: 0, count: c)
            a[t[row]] += (1 - smoothing) * w(t[row])
            for k in 0..<c { a[k] += smoothing / Double(c) * w(k) }
            let total = a.reduce(0, +)
            for k in 0..<c { grad[at(k)] = Double.exp(logp[at(k)]) * total - a[k] }
        }
    }
    return (loss, grad)
}

/// Float cross-entropy (class indices, `mean`) of `x` in rows of `layout` (`layout.rows` even),
/// made in one call and again in two calls of half the rows each: the losses and gradients of
/// both (`withGradient: false` asks for the losses alone; the gradients come back empty).
func crossEntropyWholeAndHalves(_ x: [Float], _ t: [Int], _ layout: AxisLayout, withGradient: Bool = true) throws
    -> (whole: (loss: [Float], grad: [Float]), halves: (loss: [Float], grad: [Float]))
{
    let half = AxisLayout(outer: layout.rows / 2, length: layout.length)
    var loss = [Float](repeating: 0, count: layout.rows), grad = [Float](repeating: 0, count: withGradient ? x.count : 0)
    var lossHalves = loss, gradHalves = grad
    try x.withUnsafeBufferPointer { xb in
        try t.withUnsafeBufferPointer { tb in
            try loss.withUnsafeMutableBufferPointer { l in
                try grad.withUnsafeMutableBufferPointer { g in
                    try softmaxCrossEntropy(logits: xb, targets: tb, layout: layout, losses: l, gradient: withGradient ? g : nil)
                }
            }
            try lossHalves.withUnsafeMutableBufferPointer { l in
                try gradHalves.withUnsafeMutableBufferPointer { g in
                    for h in 0..<2 {
                        try softmaxCrossEntropy(
                            logits: UnsafeBufferPointer(rebasing: xb[h * half.count..<(h + 1) * half.count]),
                            targets: UnsafeBufferPointer(rebasing: tb[h * half.rows..<(h + 1) * half.rows]), layout: half,
                            losses: UnsafeMutableBufferPointer(rebasing: l[h * half.rows..<(h + 1) * half.rows]),
                            gradient: withGradient
                                ? UnsafeMutableBufferPointer(rebasing: g[h * half.count..<(h + 1) * half.count]) : nil)
                    }
                }
            }
        }
    }
    return ((loss, grad), (lossHalves, gradHalves))
}

@Suite struct SoftmaxCrossEntropyTests {
    @Test(arguments: [AxisLayout(outer: 9, length: 11), AxisLayout(outer: 3, length: 4, inner: 5)])
    func matchesUnfusedReference(layout: AxisLayout) throws {
        let x = TestSupport.normal([layout.count], scale: 3, seed: 70).scalars
        var t = TestSupport.classIndices([layout.rows], classes: layout.length, seed: 71).scalars
        t[1] = -100
        let weight = TestSupport.uniform([layout.length], in: 0.2...2, seed: 72).scalars
        for (w, smoothing) in [(nil, 0.0), (weight, 0.0), (weight, 0.25), (nil, 1.0)] as [([Double]?, Double)] {
            let want = referenceCrossEntropy(x, t, layout, weight: w, ignore: -100, smoothing: smoothing)
            var loss = [Double](repeating: 0, count: layout.rows), grad = [Double](repeating: 0, count: x.count)
            try x.withUnsafeBufferPointer { xb in
                try t.withUnsafeBufferPointer { tb in
                    try loss.withUnsafeMutableBufferPointer { lb in
                        try grad.withUnsafeMutableBufferPointer { gb in
                            if let w {
                                try w.withUnsafeBufferPointer { wb in
                                    try softmaxCrossEntropy(
                                        logits: xb, targets: tb, layout: layout, classWeights: wb, labelSmoothing: smoothing,
                                        losses: lb, gradient: gb)
                                }
                            } else {
                                try softmaxCrossEntropy(
                                    logits: xb, targets: tb, layout: layout, labelSmoothing: smoothing, losses: lb, gradient: gb)
                            }
                        }
                    }
                }
            }
            #expect(TestSupport.maxRelativeDifference(loss, want.loss, floor: 1e-9) < 1e-12)
            #expect(TestSupport.maxRelativeDifference(grad, want.grad, floor: 1e-9) < 1e-10)
            #expect(loss[1] == 0 && (0..<layout.length).allSatisfy { grad[$0 * layout.inner + (1 % layout.inner) + (1 / layout.inner) * layout.length * layout.inner] == 0 })
        }
    }

    @Test func extremeLogitsStayFinite() throws {
        let x: [Float] = [1e30, -1e30, 0, 88, 89, 90, -103, -104, -105]
        let t = [0, 2, 1]
        var loss = [Float](repeating: 0, count: 3), grad = [Float](repeating: 0, count: 9)
        try x.withUnsafeBufferPointer { xb in
            try t.withUnsafeBufferPointer { tb in
                try loss.withUnsafeMutableBufferPointer { lb in
                    try grad.withUnsafeMutableBufferPointer { gb in
                        try softmaxCrossEntropy(logits: xb, targets: tb, layout: AxisLayout(outer: 3, length: 3), losses: lb, gradient: gb)
                    }
                }
            }
        }
        #expect(loss[0] == 0)
        #expect(abs(loss[1] - 0.40760596) < 1e-6)  // log(1 + e^-1 + e^-2)
        #expect(abs(loss[2] - 1.40760596) < 1e-6)
        #expect(grad.allSatisfy { $0.isFinite })
    }

    /// The class-index check's vectorized sweep: a bad target anywhere in a long batch
    /// (first, in a vector's middle, last; negative, too large, Int.min and Int.max) is
    /// found and reported at its position, after an earlier ignore index and with the
    /// ignore index inside or outside the class range.
    @Test func classIndexCheckFindsTheFirstBadTarget() throws {
        let classes = 7
        for ignoreIndex in [-100, 3, 7] {
            let good = (0..<1000).map { $0 % classes == 5 ? ignoreIndex : $0 % classes }
            try good.withUnsafeBufferPointer { try checkClassIndices($0, classes: classes, ignoreIndex: ignoreIndex) }
            for (position, bad, later) in [
                (0, -1, false), (13, 7, false), (500, Int.min, false), (998, Int.max, false), (640, -100, false),
                (641, 8, false), (2, 7, true), (700, -5, true),
            ] where bad != ignoreIndex {
                var targets = good
                targets[position] = bad
                if later { targets[position + 1] = classes + 1 }  // a later bad target is not the one reported
                let expected = LossError.indexOutOfRange(
                    argument: "target", position: position, index: bad, validRange: "[0, \(classes))")
                #expect(throws: expected) {
                    try targets.withUnsafeBufferPointer { try checkClassIndices($0, classes: classes, ignoreIndex: ignoreIndex) }
                }
            }
        }
    }

    @Test func invalidTargetLeavesOutputsUntouched() {
        let x: [Float] = [1, 2, 3, 4, 5, 6]
        let t = [0, 3]
        var loss: [Float] = [9, 9], grad = [Float](repeating: 9, count: 6)
        #expect(throws: LossError.indexOutOfRange(argument: "target", position: 1, index: 3, validRange: "[0, 3)")) {
            try x.withUnsafeBufferPointer { xb in
                try t.withUnsafeBufferPointer { tb in
                    try loss.withUnsafeMutableBufferPointer { lb in
                        try grad.withUnsafeMutableBufferPointer { gb in
                            try softmaxCrossEntropy(logits: xb, targets: tb, layout: AxisLayout(outer: 2, length: 3), losses: lb, gradient: gb)
                        }
                    }
                }
            }
        }
        #expect(loss == [9, 9] && grad.allSatisfy { $0 == 9 })
    }

    /// Rows of 256-16383 whose logits total under 8 MiB take the next row's max during the
    /// exps sweep; larger calls with a gradient take a max sweep per row (and rows of
    /// 8192 or more without one, the one read). The same arithmetic: a call of 8.4 MB equals,
    /// bit for bit, the same call made in two halves, with and without the gradient, for
    /// rows in every one of these paths and with ignored rows among them.
    @Test(arguments: [300, 1000, 5000])
    func cachedAndUncachedCallsGiveTheSameBits(length: Int) throws {
        TestSupport.instructionSetLock.lock()
        defer { TestSupport.instructionSetLock.unlock() }
        let rows = 2 * ((2_100_000 / length + 1) / 2)
        let layout = AxisLayout(outer: rows, length: length)
        let x = (0..<layout.count).map { Float(($0 &* 2_654_435_761) % 2000) / 200 - 5 }
        let t = (0..<rows).map { $0 % 7 == 3 ? -100 : ($0 &* 7919) % length }
        for withGradient in [true, false] {
            let (whole, halves) = try crossEntropyWholeAndHalves(x, t, layout, withGradient: withGradient)
            let same = whole.loss.map(\.bitPattern) == halves.loss.map(\.bitPattern)
                && whole.grad.map(\.bitPattern) == halves.grad.map(\.bitPattern)
            #expect(same, "n=\(length) gradient=\(withGradient)")
            #expect(whole.loss.allSatisfy { $0.isFinite } && whole.loss.contains { $0 > 0 })
        }
    }
}
