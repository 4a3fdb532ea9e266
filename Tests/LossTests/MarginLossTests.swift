import Loss
import Testing
import _TestSupport

@Suite struct MarginLossTests {
    /// Labels in {-1, 1}, seeded.
    static func labels(_ shape: [Int], seed: UInt64) -> Tensor<Double> {
        TestSupport.normal(shape, seed: seed).map { $0 >= 0 ? 1 : -1 }
    }

    let x = TestSupport.normal([4, 5], scale: 2, seed: 301)
    let y = labels([4, 5], seed: 302)
    var inputs: LossInputs<Double> { LossInputs(["input": .values(x), "target": .values(y)]) }

    @Test func testDataHasBothLabelsAndBothHingeSides() {
        #expect(y.scalars.contains(1) && y.scalars.contains(-1))
        let margins = zip(x.scalars, y.scalars).map { 1 - $0 * $1 }
        #expect(margins.contains { $0 > 0.1 } && margins.contains { $0 < -0.1 })
        #expect(margins.allSatisfy { abs($0) > 1e-3 })  // away from the kink
    }

    @Test(arguments: Reduction.allCases)
    func elementwiseMarginLossesPassGradientCheck(reduction: Reduction) throws {
        let losses: [any LossFunction<Double>] = [
            SoftMarginLoss(reduction: reduction), HingeLoss(reduction: reduction), SquaredHingeLoss(reduction: reduction),
        ]
        for loss in losses {
            let report = try GradientCheck.check(loss, inputs: inputs)
            #expect(report.passes(tolerance: 1e-7), "\(type(of: loss)): \(report)")
        }
    }

    @Test(arguments: Reduction.allCases, [1.0, 2.0, 0.5])
    func hingeEmbeddingPassesGradientCheck(reduction: Reduction, margin: Double) throws {
        let d = TestSupport.uniform([12], in: 0...3, seed: 303)
        #expect(d.scalars.allSatisfy { abs($0 - margin) > 1e-3 })
        let i = LossInputs<Double>(["input": .values(d), "target": .values(Self.labels([12], seed: 304))])
        let report = try GradientCheck.check(HingeEmbeddingLoss(margin: margin, reduction: reduction), inputs: i)
        #expect(report.passes(tolerance: 1e-7), "\(report)")
        #expect(report.checked == 12)  // the target is a label: no gradient
    }

    @Test(arguments: Reduction.allCases, [0.0, 0.3, 1.5])
    func marginRankingPassesGradientCheck(reduction: Reduction, margin: Double) throws {
        let i = LossInputs<Double>([
            "input1": .values(TestSupport.normal([10], scale: 2, seed: 305)),
            "input2": .values(TestSupport.normal([10], scale: 2, seed: 306)),
            "target": .values(Self.labels([10], seed: 307)),
        ])
        let report = try GradientCheck.check(MarginRankingLoss(margin: margin, reduction: reduction), inputs: i)
        #expect(report.passes(tolerance: 1e-7), "\(report)")
        #expect(report.checked == 30)
    }

    @Test func handComputedValuesAndKinkGradient() throws {
        let i = LossInputs<Double>(["input": .values(Tensor([1, -0.5, 2])), "target": .values(Tensor([1, 1, -1]))])
        #expect(try HingeLoss<Double>(reduction: .none).forward(i).scalars == [0, 1.5, 3])
        #expect(try SquaredHingeLoss<Double>(reduction: .none).forward(i).scalars == [0, 2.25, 9])
        // At the kink (1 - y x = 0) the gradient is 0, as the reference PyTorch's clamp backward
        // (where(z > 0, grad, 0)); Tests/Fixtures/torch-cases-kinks.json has PyTorch's values.
        let g = try HingeLoss<Double>(reduction: .sum).backward(i, upstream: Tensor(scalar: 1))
        #expect(g["input"]!.scalars == [0, -1, 1])
        #expect(g["target"]!.scalars == [0, 0.5, -2])
        let e = try HingeEmbeddingLoss<Double>(margin: 1, reduction: .none).forward(i).scalars
        #expect(e == [1, -0.5, 0])
        let r = try MarginRankingLoss<Double>(margin: 0.5, reduction: .none)(
            Tensor([1, 0]), Tensor([0, 1]), target: Tensor([1, 1]))
        #expect(r.scalars == [0, 1.5])
        let s = try SoftMarginLoss<Double>(reduction: .none).forward(
            LossInputs(["input": .values(Tensor([0, 800, -800])), "target": .values(Tensor([1, -1, -1]))]))
        #expect(s.scalars == [0.6931471805599453, 800, 0])
    }

    @Test func hingeEmbeddingRejectsLabelsOtherThanPlusMinusOne() {
        let i = LossInputs<Double>(["input": .values(Tensor([0.5, 1])), "target": .values(Tensor([1, 0]))])
        #expect(throws: LossError.invalidValue(argument: "target", position: 1, value: 0, expected: "-1 or 1")) {
            try HingeEmbeddingLoss<Double>().forward(i)
        }
    }

    @Test func nonFiniteMarginThrows() {
        let i = LossInputs<Double>(["input1": .values(Tensor([1])), "input2": .values(Tensor([2])), "target": .values(Tensor([1]))])
        #expect(throws: LossError.invalidOption(name: "margin", value: "inf", expected: "a finite number")) {
            try MarginRankingLoss<Double>(margin: .infinity).forward(i)
        }
        #expect(throws: LossError.invalidOption(name: "margin", value: "nan", expected: "a finite number")) {
            try HingeEmbeddingLoss<Double>(margin: .nan).forward(inputs)
        }
    }

    @Test func shapeMismatchesThrow() {
        let bad = LossInputs<Double>(["input": .values(x), "target": .values(Tensor([1, -1]))])
        let expected = LossError.shapeMismatch(argument: "target", expected: "[4, 5] (the shape of input)", actual: "[2]")
        #expect(throws: LossError.shapeMismatch(
            argument: "target", expected: "a shape that broadcasts to [4, 5] (the shape of input)", actual: "[2]")) {
            try SoftMarginLoss<Double>().forward(bad)
        }
        #expect(throws: expected) { try HingeLoss<Double>().forward(bad) }
        #expect(throws: expected) { try SquaredHingeLoss<Double>().backward(bad, upstream: Tensor(scalar: 1)) }
        let r = LossInputs<Double>(["input1": .values(Tensor([1, 2])), "input2": .values(Tensor([2, 1, 0])), "target": .values(Tensor([1, 1]))])
        #expect(throws: LossError.shapeMismatch(argument: "input2", expected: "a shape that broadcasts with input1 [2]", actual: "[3]")) {
            try MarginRankingLoss<Double>().forward(r)
        }
        // PyTorch requires one rank for the three tensors, whatever their sizes.
        let rank = LossInputs<Double>(["input1": .values(Tensor([1, 2])), "input2": .values(Tensor([2, 1])), "target": .values(Tensor(scalar: 1))])
        #expect(throws: LossError.shapeMismatch(argument: "target", expected: "rank 1 (the rank of input1; sizes may broadcast)", actual: "[]")) {
            try MarginRankingLoss<Double>().forward(rank)
        }
    }

    static func signs(_ shape: [Int], seed: UInt64) -> Tensor<Double> {
        TestSupport.normal(shape, seed: seed).map { $0 < 0 ? -1 : 1 }
    }

    /// hinge_embedding_loss broadcasts input and target both ways, as PyTorch.
    @Test(arguments: Reduction.allCases)
    func hingeEmbeddingBroadcasts(reduction: Reduction) throws {
        for (k, (xs, ys, out)) in [([3, 4], [4], [3, 4]), ([4], [3, 4], [3, 4]), ([3, 1], [1, 4], [3, 4])].enumerated() {
            let seed = UInt64(830 + 10 * k)
            let inputs = LossInputs<Double>(["input": .values(TestSupport.normal(xs, seed: seed)), "target": .values(Self.signs(ys, seed: seed + 1))])
            let problems = try TestSupport.broadcastProblems(
                HingeEmbeddingLoss<Double>(margin: 0.5, reduction: reduction), inputs, ["input": (nil, out), "target": (nil, out)],
                seed: seed + 2)
            #expect(problems.isEmpty, "\(xs) \(ys): \(problems)")
        }
    }

    /// soft_margin_loss broadcasts the target to the input's shape (PyTorch's in-place
    /// kernel); an input smaller than the broadcast shape is an error there and here.
    @Test(arguments: Reduction.allCases)
    func softMarginBroadcastsTheTargetToTheInput(reduction: Reduction) throws {
        for (k, (xs, ys)) in [([3, 4], [4]), ([3, 4], [3, 1]), ([2, 3, 4], [3, 4])].enumerated() {
            let seed = UInt64(860 + 10 * k)
            let inputs = LossInputs<Double>(["input": .values(TestSupport.normal(xs, seed: seed)), "target": .values(Self.signs(ys, seed: seed + 1))])
            let problems = try TestSupport.broadcastProblems(
                SoftMarginLoss<Double>(reduction: reduction), inputs, ["target": (nil, xs)], seed: seed + 2)
            #expect(problems.isEmpty, "\(xs) \(ys): \(problems)")
        }
        #expect(throws: LossError.shapeMismatch(
            argument: "target", expected: "a shape that broadcasts to [4] (the shape of input)", actual: "[3, 4]")) {
            try SoftMarginLoss<Double>(reduction: reduction)(TestSupport.normal([4], seed: 890), Self.signs([3, 4], seed: 891))
        }
    }

    /// margin_ranking_loss: three tensors of one rank whose sizes broadcast, as PyTorch.
    @Test(arguments: Reduction.allCases)
    func marginRankingBroadcasts(reduction: Reduction) throws {
        for (k, (s1, s2, st, out)) in [([3, 4], [1, 4], [3, 1], [3, 4]), ([3], [1], [1], [3]), ([2, 1], [1, 3], [2, 3], [2, 3])].enumerated() {
            let seed = UInt64(900 + 10 * k)
            let inputs = LossInputs<Double>([
                "input1": .values(TestSupport.normal(s1, seed: seed)), "input2": .values(TestSupport.normal(s2, seed: seed + 1)),
                "target": .values(Self.signs(st, seed: seed + 2)),
            ])
            let problems = try TestSupport.broadcastProblems(
                MarginRankingLoss<Double>(margin: 0.3, reduction: reduction), inputs,
                ["input1": (nil, out), "input2": (nil, out), "target": (nil, out)], seed: seed + 3)
            #expect(problems.isEmpty, "\(s1) \(s2) \(st): \(problems)")
        }
    }
}
