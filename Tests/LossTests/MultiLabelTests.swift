import Loss
import Testing
import _TestSupport

@Suite struct MultiLabelSoftMarginTests {
    let x = TestSupport.normal([4, 5], scale: 2, seed: 201)
    let y = TestSupport.uniform([4, 5], in: 0...1, seed: 202)
    let w = TestSupport.uniform([5], in: 0.5...2.0, seed: 203)

    var inputs: LossInputs<Double> { LossInputs(["input": .values(x), "target": .values(y)]) }

    @Test func averagesOverClassesThenSamples() throws {
        // One sample, two classes, target (1, 0), logits (0, 0): each term is log 2, averaged over C = 2.
        let loss = try MultiLabelSoftMarginLoss<Double>(reduction: .none)(
            try Tensor(shape: [1, 2], scalars: [0, 0]), try Tensor(shape: [1, 2], scalars: [1, 0]))
        #expect(loss.shape == [1])
        #expect(abs(loss[flat: 0] - 0.6931471805599453) < 1e-15)
        let none = try MultiLabelSoftMarginLoss<Double>(weight: w, reduction: .none).forward(inputs)
        let mean = try MultiLabelSoftMarginLoss<Double>(weight: w, reduction: .mean).forward(inputs)
        #expect(none.shape == [4])
        #expect(abs(mean.scalar! - none.scalars.reduce(0, +) / 4) < 1e-14)
    }

    @Test func largeLogitsStayFinite() throws {
        let loss = try MultiLabelSoftMarginLoss<Double>(reduction: .sum)(
            Tensor([1000, -1000]), Tensor([0, 1]))
        #expect(abs(loss.scalar! - 1000) < 1e-9)
    }

    @Test(arguments: Reduction.allCases)
    func gradientCheck(reduction: Reduction) throws {
        // None, per class (5), and broadcast as PyTorch does: per sample (4, 1), per element (4, 5).
        for weight in [nil, w, TestSupport.uniform([4, 1], in: 0.2...2, seed: 206), TestSupport.uniform([4, 5], in: 0.2...2, seed: 207)] {
            let loss = MultiLabelSoftMarginLoss<Double>(weight: weight, reduction: reduction)
            let report = try GradientCheck.check(loss, inputs: inputs)
            #expect(report.passes(tolerance: 1e-7), "weight \(weight?.shape ?? []): \(report)")
        }
        // 1-d and 3-d inputs: the class axis is the last one.
        for shape in [[5], [2, 3, 5]] {
            let i = LossInputs<Double>([
                "input": .values(TestSupport.normal(shape, scale: 2, seed: 204)),
                "target": .values(TestSupport.uniform(shape, in: 0...1, seed: 205)),
            ])
            let loss = MultiLabelSoftMarginLoss<Double>(weight: w, reduction: reduction)
            #expect(try loss.forward(i).shape == (reduction == .none ? Array(shape.dropLast()) : []))
            let report = try GradientCheck.check(loss, inputs: i)
            #expect(report.passes(tolerance: 1e-7), "shape \(shape): \(report)")
        }
    }

    @Test func badInputsThrowTypedErrors() {
        #expect(throws: LossError.shapeMismatch(argument: "weight", expected: "a shape broadcastable to [4, 5]", actual: "[3, 5]")) {
            try MultiLabelSoftMarginLoss<Double>(weight: try Tensor(zeros: [3, 5])).forward(inputs)
        }
        #expect(throws: LossError.shapeMismatch(argument: "target", expected: "a shape that broadcasts with input [4, 5]", actual: "[4]")) {
            try MultiLabelSoftMarginLoss<Double>()(x, Tensor([1, 0, 1, 0]))
        }
        #expect(throws: LossError.shapeMismatch(argument: "input", expected: "(C) or (N, ..., C)", actual: "[]")) {
            try MultiLabelSoftMarginLoss<Double>()(Tensor(scalar: 1), Tensor(scalar: 1))
        }
        #expect(throws: LossError.emptyInput(argument: "input", reason: "multilabel_soft_margin_loss averages over classes; C is 0")) {
            try MultiLabelSoftMarginLoss<Double>()(try Tensor(zeros: [3, 0]), try Tensor(zeros: [3, 0]))
        }
    }

    /// Input and target broadcast against each other, as PyTorch broadcasts them without a
    /// warning: where the input has the broadcast shape's rank and classes, the loss of
    /// expanded copies (PyTorch divides by the input's own number of classes otherwise:
    /// see the next test, and the reference cases of torch-cases-semantics.json).
    @Test(arguments: Reduction.allCases)
    func inputAndTargetBroadcast(reduction: Reduction) throws {
        for (k, (xs, ys, out)) in [([3, 4], [4], [3, 4]), ([3, 4], [3, 1], [3, 4]), ([2, 3, 4], [3, 4], [2, 3, 4])].enumerated() {
            let seed = UInt64(930 + 10 * k)
            let inputs = LossInputs<Double>([
                "input": .values(TestSupport.normal(xs, seed: seed)), "target": .values(TestSupport.uniform(ys, in: 0...1, seed: seed + 1)),
            ])
            let problems = try TestSupport.broadcastProblems(
                MultiLabelSoftMarginLoss<Double>(reduction: reduction), inputs, ["input": (nil, out), "target": (nil, out)],
                seed: seed + 2)
            #expect(problems.isEmpty, "\(xs) \(ys): \(problems)")
        }
    }

    /// PyTorch sums over dimension `input.dim() - 1` of the broadcast shape and divides by
    /// the input's last size: for an input (4) and a target (3, 4) that is dimension 0,
    /// and the output has shape (4). PyTorch 2.15's values for this input and target.
    @Test func sumsOverTheInputsLastDimensionOfTheBroadcastShape() throws {
        let x = Tensor<Double>([0.5, -1, 2, 0.25])
        let y = try Tensor<Double>(shape: [3, 4], scalars: [1, 0, 1, 0, 0, 1, 1, 0, 0.5, 0.5, 0, 1])
        let r = try MultiLabelSoftMarginLoss<Double>(reduction: .none).valueWithGradient(x, y)
        #expect(r.value.shape == [4])
        let want = [0.5430577381350801, 0.6099462656386672, 0.5951960082822294, 0.5569545649091326]
        let wantGradient = [0.09184449840139089, -0.1732939339725037, 0.16059780848341182, 0.17163237566434864]
        #expect(TestSupport.maxRelativeDifference(r.value.scalars, want) < 1e-14)
        #expect(TestSupport.maxRelativeDifference(r.gradient.scalars, wantGradient) < 1e-14)
    }
}

@Suite struct MultiLabelMarginTests {
    let x = TestSupport.normal([5, 6], scale: 1.5, seed: 301)
    /// Index lists ended by -1 (row 2 has none, row 3 is full, row 4 repeats a class), junk after the -1 is ignored.
    let t = try! Tensor<Int>(shape: [5, 6], scalars: [
        3, 0, -1, 5, 5, 5,
        1, -1, -1, -1, -1, -1,
        -1, 2, 2, 2, 2, 2,
        5, 4, 3, 2, 1, 0,
        2, 4, 2, -1, 0, 0,
    ])

    var inputs: LossInputs<Double> { LossInputs(["input": .values(x), "target": .indices(t)]) }

    /// The smallest |1 - x_j + x_i| over listed j and non-target i.
    func closestToKink() -> Double {
        var closest = Double.infinity
        for n in 0..<5 {
            let row = (0..<6).map { t[flat: n * 6 + $0] }
            let list = Array(row.prefix { $0 >= 0 })
            for j in list {
                for i in 0..<6 where !list.contains(i) {
                    closest = min(closest, abs(1 - x[flat: n * 6 + j] + x[flat: n * 6 + i]))
                }
            }
        }
        return closest
    }

    @Test func documentationExample() throws {
        // PyTorch's MultiLabelMarginLoss example: 0.85
        let loss = try MultiLabelMarginLoss<Double>()(
            try Tensor(shape: [1, 4], scalars: [0.1, 0.2, 0.4, 0.8]),
            try Tensor(shape: [1, 4], scalars: [3, 0, -1, 1]))
        #expect(abs(loss.scalar! - 0.85) < 1e-15)
    }

    @Test func emptyListsAndDuplicates() throws {
        let none = try MultiLabelMarginLoss<Double>(reduction: .none).forward(inputs)
        #expect(none.shape == [5])
        #expect(none[flat: 2] == 0)
        // A repeated index counts twice: row 4 lists 2, 4, 2.
        let once = try MultiLabelMarginLoss<Double>(reduction: .sum)(
            try Tensor(shape: [1, 6], scalars: (0..<6).map { x[flat: 24 + $0] }),
            try Tensor(shape: [1, 6], scalars: [2, 4, -1, 0, 0, 0]))
        let twice = try MultiLabelMarginLoss<Double>(reduction: .sum)(
            try Tensor(shape: [1, 6], scalars: (0..<6).map { x[flat: 24 + $0] }),
            try Tensor(shape: [1, 6], scalars: [2, 4, 2, -1, 0, 0]))
        #expect(twice.scalar! > once.scalar!)
        #expect(abs(none[flat: 4] - twice.scalar!) < 1e-15)
    }

    @Test(arguments: Reduction.allCases)
    func gradientCheck(reduction: Reduction) throws {
        try #require(closestToKink() > 1e-3)
        let loss = MultiLabelMarginLoss<Double>(reduction: reduction)
        let report = try GradientCheck.check(loss, inputs: inputs)
        #expect(report.passes(tolerance: 1e-7), "\(report)")
        let one = LossInputs<Double>([
            "input": .values(Tensor([0.3, -0.4, 1.1, 0.2])), "target": .indices(Tensor([2, 3, -1, 0])),
        ])
        #expect(try loss.forward(one).shape == [])
        let report1 = try GradientCheck.check(loss, inputs: one)
        #expect(report1.passes(tolerance: 1e-7), "1-d: \(report1)")
    }

    @Test func badInputsThrowTypedErrors() {
        #expect(throws: LossError.indexOutOfRange(argument: "target", position: 1, index: 6, validRange: "[-1, 6) (-1 ends the list)")) {
            try MultiLabelMarginLoss<Double>()(x, try Tensor(shape: [5, 6], scalars: [0, 6] + Array(repeating: -1, count: 28)))
        }
        // PyTorch checks entries after the first -1 too.
        #expect(throws: LossError.indexOutOfRange(argument: "target", position: 3, index: -2, validRange: "[-1, 6) (-1 ends the list)")) {
            try MultiLabelMarginLoss<Double>()(x, try Tensor(shape: [5, 6], scalars: [0, -1, 0, -2] + Array(repeating: -1, count: 26)))
        }
        #expect(throws: LossError.shapeMismatch(argument: "target", expected: "[5, 6] (the shape of input)", actual: "[5]")) {
            try MultiLabelMarginLoss<Double>()(x, Tensor([0, 1, 2, 3, 4]))
        }
        #expect(throws: LossError.shapeMismatch(argument: "input", expected: "(), (C) or (N, C)", actual: "[1, 5, 6]")) {
            try MultiLabelMarginLoss<Double>()(try x.reshaped([1, 5, 6]), try t.reshaped([1, 5, 6]))
        }
    }

    /// A 0-d input is one sample of one class: PyTorch gives 0 and a zero gradient
    /// (input 0.75, target 0 or -1, shape () or (1)), and a 0-d output for `none`.
    @Test(arguments: Reduction.allCases)
    func zeroDimensionalInputIsOneSampleOfOneClass(reduction: Reduction) throws {
        for target in [Tensor<Int>(scalar: 0), Tensor([0]), Tensor(scalar: -1)] {
            let r = try MultiLabelMarginLoss<Double>(reduction: reduction).valueWithGradient(Tensor(scalar: 0.75), target)
            #expect(r.value.shape == [] && r.value.scalars == [0])
            #expect(r.gradient.shape == [] && r.gradient.scalars == [0])
        }
        #expect(throws: LossError.self) { try MultiLabelMarginLoss<Double>()(Tensor(scalar: 0.75), Tensor([0, -1])) }
    }
}
