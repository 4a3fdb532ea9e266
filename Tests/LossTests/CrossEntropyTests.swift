import Loss
import Testing
import _TestSupport

@Suite struct CrossEntropyTests {
    static let shapes: [([Int], [Int])] = [([5], []), ([6, 4], [6]), ([3, 5, 2, 2], [3, 2, 2])]

    func indexInputs(_ shape: [Int], _ targetShape: [Int], ignoreEvery: Int = 0) -> LossInputs<Double> {
        let x = TestSupport.normal(shape, scale: 2, seed: 21)
        var t = TestSupport.classIndices(targetShape, classes: shape.count == 1 ? shape[0] : shape[1], seed: 22).scalars
        if ignoreEvery > 0 { for i in stride(from: 0, to: t.count, by: ignoreEvery) { t[i] = -100 } }
        return LossInputs(["input": .values(x), "target": .indices(try! Tensor(shape: targetShape, scalars: t))])
    }

    @Test(arguments: Reduction.allCases)
    func classIndexGradients(reduction: Reduction) throws {
        for (shape, targetShape) in Self.shapes {
            let classes = shape.count == 1 ? shape[0] : shape[1]
            let weight = TestSupport.uniform([classes], in: 0.2...2, seed: 23)
            let variants: [CrossEntropyLoss<Double>] = [
                CrossEntropyLoss(reduction: reduction),
                CrossEntropyLoss(weight: weight, reduction: reduction),
                CrossEntropyLoss(weight: weight, labelSmoothing: 0.2, reduction: reduction),
                CrossEntropyLoss(labelSmoothing: 1, reduction: reduction),
            ]
            for loss in variants {
                for ignore in [0, 2] where !(ignore > 0 && targetShape.isEmpty) {
                    let report = try GradientCheck.check(loss, inputs: indexInputs(shape, targetShape, ignoreEvery: ignore))
                    #expect(report.passes(tolerance: 1e-7), "\(shape) \(loss): \(report)")
                }
            }
        }
    }

    @Test(arguments: Reduction.allCases)
    func probabilityTargetGradients(reduction: Reduction) throws {
        for (shape, _) in Self.shapes {
            let x = TestSupport.normal(shape, scale: 2, seed: 24)
            let q = try AxisFunction<Double>(.softmax, dim: shape.count == 1 ? 0 : 1)
                .forward(LossInputs(["input": .values(TestSupport.normal(shape, seed: 25))]))
            let classes = shape.count == 1 ? shape[0] : shape[1]
            let weight = TestSupport.uniform([classes], in: 0.2...2, seed: 26)
            let loss = CrossEntropyLoss<Double>(weight: weight, labelSmoothing: 0.1, reduction: reduction)
            let report = try GradientCheck.check(loss, inputs: LossInputs(["input": .values(x), "target": .values(q)]))
            #expect(report.passes(tolerance: 1e-7), "\(shape): \(report)")
            #expect(report.checked == 2 * x.count, "input and target gradients are both checked")
        }
    }

    @Test func fusedValueAndGradientMatchesForwardBackward() throws {
        let inputs = indexInputs([8, 7], [8], ignoreEvery: 3)
        let loss = CrossEntropyLoss<Double>(labelSmoothing: 0.1)
        let r = try loss.valueWithGradient(inputs.values("input"), inputs.indices("target"))
        let (value, gradient) = (r.value, r.gradient)
        #expect(value == (try loss.forward(inputs)))
        #expect(gradient == (try loss.backward(inputs, upstream: Tensor(scalar: 1))["input"]))
    }

    @Test func nllOfLogSoftmaxEqualsCrossEntropy() throws {
        let inputs = indexInputs([3, 5, 2, 2], [3, 2, 2], ignoreEvery: 4)
        let weight = TestSupport.uniform([5], in: 0.2...2, seed: 27)
        let logp = try AxisFunction<Double>(.logSoftmax, dim: 1).forward(LossInputs(["input": .values(inputs.values("input"))]))
        let nll = try NLLLoss(weight: weight)(logp, inputs.indices("target"))
        let ce = try CrossEntropyLoss(weight: weight)(inputs.values("input"), inputs.indices("target"))
        #expect(abs(nll.scalar! - ce.scalar!) < 1e-13)
    }

    @Test(arguments: Reduction.allCases)
    func nllGradients(reduction: Reduction) throws {
        let inputs = indexInputs([6, 4], [6], ignoreEvery: 2)
        let loss = NLLLoss(weight: TestSupport.uniform([4], in: 0.5...1.5, seed: 28), reduction: reduction)
        #expect(try GradientCheck.check(loss, inputs: inputs).passes(tolerance: 1e-7))
    }

    @Test func floatAgreesWithDouble() throws {
        let xd = TestSupport.normal([64, 1000], scale: 4, seed: 29)
        let t = TestSupport.classIndices([64], classes: 1000, seed: 30)
        let d = try CrossEntropyLoss<Double>(labelSmoothing: 0.1).valueWithGradient(xd, t)
        let f = try CrossEntropyLoss<Float>(labelSmoothing: 0.1).valueWithGradient(xd.converted(), t)
        #expect(abs(Double(f.value.scalar!) - d.value.scalar!) <= 1e-6 * abs(d.value.scalar!))
        let scale = d.gradient.scalars.map(abs).max()!
        let worst = zip(f.gradient.scalars, d.gradient.scalars).map { abs(Double($0) - $1) }.max()!
        #expect(worst <= 1e-6 * scale)
    }

    @Test func resultsDoNotDependOnThreadCount() throws {
        // Float results compared bit for bit: hold the instruction set steady (see TestSupport).
        TestSupport.instructionSetLock.lock()
        defer { TestSupport.instructionSetLock.unlock() }
        let x = TestSupport.normal([512, 300], seed: 31).converted(to: Float.self)
        let t = TestSupport.classIndices([512], classes: 300, seed: 32)
        let results = try [1, 2, 3, 8].map { try CrossEntropyLoss<Float>(threads: $0).valueWithGradient(x, t) }
        #expect(results.allSatisfy { $0.value == results[0].value && $0.gradient == results[0].gradient })
    }

    /// -log_softmax(x)_t computed from x - m, as PyTorch computes it: a large common offset
    /// of the logits must not cancel the loss. The logits are O + s in Double (rounded); their
    /// differences from the row's first are exact (Sterbenz), and the loss is a function of
    /// those differences alone, so the closed form over d = x - x_0 is the exact reference.
    @Test(arguments: [1e10, 1e13, -1e13])
    func largeCommonOffsetKeepsTheDoubleLossExact(offset: Double) throws {
        let spread: [Double] = [0.3, -1.7, 2.25, 0.0, 1.1, -0.4]
        let rows = 3, classes = spread.count
        let x = (0..<rows).flatMap { r in spread.map { offset + $0 * Double(r + 1) } }
        let logits = try Tensor(shape: [rows, classes], scalars: x)
        let targets = [0, 2, 4]
        let q = (0..<rows * classes).map { Double(($0 * 7) % 5) / 10 }  // soft targets, not normalized
        for smoothing in [0.0, 0.1] {
            var wantIndex: [Double] = [], wantProbabilities: [Double] = []
            for r in 0..<rows {
                let d = (0..<classes).map { x[r * classes + $0] - x[r * classes] }
                let m = d.max()!
                let lse = m + Double.log(d.reduce(0) { $0 + Double.exp($1 - m) })
                let nll = d.map { lse - $0 }
                wantIndex.append((1 - smoothing) * nll[targets[r]] + smoothing / Double(classes) * nll.reduce(0, +))
                wantProbabilities.append((0..<classes).reduce(0) { total, c in
                    total + ((1 - smoothing) * q[r * classes + c] + smoothing / Double(classes)) * nll[c]
                })
            }
            let loss = CrossEntropyLoss<Double>(labelSmoothing: smoothing, reduction: .none)
            let gotIndex = try loss(logits, Tensor(targets)).scalars
            let gotProbabilities = try loss(logits, try Tensor(shape: [rows, classes], scalars: q)).scalars
            #expect(TestSupport.maxRelativeDifference(gotIndex, wantIndex) <= 1e-12, "\(offset) \(smoothing): \(gotIndex) vs \(wantIndex)")
            #expect(TestSupport.maxRelativeDifference(gotProbabilities, wantProbabilities) <= 1e-12, "\(offset) \(smoothing)")
            // Classes not last: the strided path.
            let strided = try Tensor(shape: [1, classes, rows], scalars: (0..<classes * rows).map { x[($0 % rows) * classes + $0 / rows] })
            let gotStrided = try loss(strided, try Tensor(shape: [1, rows], scalars: targets)).scalars
            #expect(TestSupport.maxRelativeDifference(gotStrided, wantIndex) <= 1e-12, "\(offset) \(smoothing) strided")
        }
    }

    /// Tied logits give a loss of log(count) at any offset, in Float and Double, on every row
    /// length the kernels treat apart (short rows, 16-row groups, long rows), with label
    /// smoothing and with a probability target. 1e17 is exact in Float; its m + log C is not.
    @Test(arguments: [4, 40, 300, 3000])
    func tiedLogitsAtAnyOffsetGiveLogOfTheirCount(classes: Int) throws {
        func check<T: KernelScalar>(_: T.Type) throws {
            for offset in [1e17, -1e17, 1e10] {
                let x = try Tensor<T>(shape: [2, classes], scalars: Array(repeating: T(offset), count: 2 * classes))
                let want = Double.log(Double(classes))
                var q = [T](repeating: 0, count: 2 * classes)
                q[1] = 1
                q[classes + classes - 1] = 1
                for smoothing in [0.0, 0.1] {
                    let loss = CrossEntropyLoss<T>(labelSmoothing: T(smoothing), reduction: .none)
                    for got in try loss(x, Tensor([0, classes - 1])).scalars + (try loss(x, try Tensor(shape: [2, classes], scalars: q)).scalars) {
                        #expect(abs(Double(got) - want) <= 1e-6 * want, "\(T.self) \(classes) classes at \(offset), smoothing \(smoothing): \(got)")
                    }
                    // The gradient is softmax minus the target: 1/C - [c = t], finite.
                    let g = try loss.valueWithGradient(x, Tensor([0, 1])).gradient.scalars
                    #expect(abs(Double(g[0]) - (1 / Double(classes) - (1 - smoothing) - smoothing / Double(classes))) <= 1e-6)
                }
            }
        }
        try check(Float.self)
        try check(Double.self)
    }

    /// A +inf logit makes its row NaN (x - m is inf - inf), loss and gradient, in Double as in
    /// Float and in PyTorch: not a loss of 0 with a NaN gradient.
    @Test func plusInfinityLogitGivesANaNRowInBothPrecisions() throws {
        func check<T: KernelScalar>(_: T.Type) throws {
            let x = try Tensor<T>(shape: [2, 3], scalars: [.infinity, 0, 1, 0, 1, 2])
            for smoothing: T in [0, 0.1] {
                let r = try CrossEntropyLoss<T>(labelSmoothing: smoothing, reduction: .none).valueWithGradient(x, Tensor([0, 1]))
                #expect(r.value.scalars[0].isNaN && r.value.scalars[1].isFinite, "\(T.self) \(smoothing): \(r.value)")
                #expect(r.gradient.scalars[0..<3].allSatisfy(\.isNaN) && r.gradient.scalars[3...].allSatisfy(\.isFinite))
                #expect(try CrossEntropyLoss<T>(labelSmoothing: smoothing)(x, Tensor([0, 1])).scalar!.isNaN)
            }
        }
        try check(Float.self)
        try check(Double.self)
    }

    @Test func allIgnoredMeanIsNaN() throws {
        let x = TestSupport.normal([3, 4], seed: 33)
        let value = try CrossEntropyLoss<Double>()(x, Tensor([-100, -100, -100]))
        #expect(value.scalar!.isNaN)
        #expect(try CrossEntropyLoss<Double>(reduction: .sum)(x, Tensor([-100, -100, -100])).scalar == 0)
    }

    @Test func badInputsAreTypedErrors() {
        let x = TestSupport.normal([3, 4], seed: 34)
        let ce = CrossEntropyLoss<Double>()
        #expect(throws: LossError.indexOutOfRange(argument: "target", position: 1, index: 4, validRange: "[0, 4)")) {
            try ce(x, Tensor([0, 4, 1]))
        }
        #expect(throws: LossError.indexOutOfRange(argument: "target", position: 0, index: -1, validRange: "[0, 4)")) {
            try ce(x, Tensor([-1, 0, 1]))
        }
        #expect(throws: LossError.shapeMismatch(argument: "weight", expected: "[4] (one weight per class)", actual: "[3]")) {
            try CrossEntropyLoss(weight: Tensor([1, 1, 1]))(x, Tensor([0, 1, 2]))
        }
        #expect(throws: LossError.invalidOption(name: "labelSmoothing", value: "1.5", expected: "a value in [0, 1]")) {
            try CrossEntropyLoss<Double>(labelSmoothing: 1.5)(x, Tensor([0, 1, 2]))
        }
        #expect(throws: LossError.self) { try ce(x, Tensor([0, 1])) }
        #expect(throws: LossError.self) { try ce(x, TestSupport.normal([3, 5], seed: 1)) }
        #expect(throws: LossError.self) { try ce(Tensor(scalar: 1.0), Tensor(scalar: 0)) }
        #expect(throws: LossError.self) {
            try NLLLoss<Double>()(x, Tensor([0, 9, 1]))
        }
    }
}
