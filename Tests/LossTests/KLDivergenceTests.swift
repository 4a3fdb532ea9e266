import Loss
import Testing
import _TestSupport

@Suite struct KLDivergenceTests {
    let input = TestSupport.normal([3, 4], scale: 2, seed: 501)
    let probabilities = TestSupport.uniform([3, 4], in: 0.05...1, seed: 502)
    let logProbabilities = TestSupport.normal([3, 4], seed: 503)

    @Test(arguments: KLDivReduction.allCases, [false, true])
    func passesGradientCheck(reduction: KLDivReduction, logTarget: Bool) throws {
        let t = logTarget ? logProbabilities : probabilities
        let i = LossInputs<Double>(["input": .values(input), "target": .values(t)])
        let report = try GradientCheck.check(KLDivLoss(reduction: reduction, logTarget: logTarget), inputs: i)
        #expect(report.passes(tolerance: 1e-7), "\(report)")
    }

    @Test func reductionsDivideAsPyTorchDoes() throws {
        let i = LossInputs<Double>(["input": .values(input), "target": .values(probabilities)])
        let sum = try KLDivLoss<Double>(reduction: .sum).forward(i).scalar!
        let each = try KLDivLoss<Double>(reduction: .none).forward(i).scalars
        #expect(abs(each.reduce(0, +) - sum) < 1e-12)
        let batchmean = try KLDivLoss<Double>(reduction: .batchmean).forward(i).scalar!
        let mean = try KLDivLoss<Double>(reduction: .mean).forward(i).scalar!
        #expect(abs(batchmean - sum / 3) < 1e-12)
        #expect(abs(mean - sum / 12) < 1e-12)
    }

    @Test func isTheDivergenceOfTwoDistributions() throws {
        // KL(q || p) for q = (1/2, 1/2), p = (1/4, 3/4): ½ log 2 + ½ log(2/3)
        let q = Tensor<Double>([0.5, 0.5]), p = Tensor<Double>([0.25, 0.75])
        let v = try KLDivLoss<Double>(reduction: .sum)(p.map { Double.log($0) }, q).scalar!
        #expect(abs(v - 0.5 * Double.log(4.0 / 3.0)) < 1e-15)
        let l = try KLDivLoss<Double>(reduction: .sum, logTarget: true)(p.map { Double.log($0) }, q.map { Double.log($0) }).scalar!
        #expect(abs(l - v) < 1e-15)
    }

    @Test func zeroTargetContributesZeroWithPyTorchsNaNTargetGradient() throws {
        let i = LossInputs<Double>(["input": .values(Tensor([-1, -2])), "target": .values(Tensor([0, 1]))])
        #expect(try KLDivLoss<Double>(reduction: .none).forward(i).scalars == [0, 2])
        let g = try KLDivLoss<Double>(reduction: .sum).backward(i, upstream: Tensor(scalar: 1))
        #expect(g["input"]!.scalars == [0, -1])
        #expect(g["target"]!.scalars[0].isNaN && g["target"]!.scalars[1] == 3)
    }

    @Test func negativeProbabilityTargetThrows() {
        let i = LossInputs<Double>(["input": .values(Tensor([-1, -2])), "target": .values(Tensor([0.5, -0.1]))])
        #expect(throws: LossError.invalidValue(argument: "target", position: 1, value: -0.1, expected: "a probability >= 0")) {
            try KLDivLoss<Double>().forward(i)
        }
        // Log-probability targets may be negative.
        #expect(throws: Never.self) { try KLDivLoss<Double>(logTarget: true).forward(i) }
    }

    @Test func badShapeAndReductionThrow() {
        let i = LossInputs<Double>(["input": .values(input), "target": .values(Tensor([0.5, 0.5]))])
        #expect(throws: LossError.shapeMismatch(argument: "target", expected: "a shape that broadcasts with input [3, 4]", actual: "[2]")) {
            try KLDivLoss<Double>(reduction: .batchmean).backward(i, upstream: Tensor(scalar: 1))
        }
        #expect(throws: LossError.invalidOption(
            name: "reduction", value: "\"batch_mean\"", expected: "\"none\", \"mean\", \"sum\" or \"batchmean\"")) {
            try LossRegistry.make("kl_div", options: ["reduction": .string("batch_mean")], as: Double.self)
        }
    }

    /// Input and target broadcast against each other, as in PyTorch: the loss of expanded
    /// copies, each gradient summed over the dimensions its tensor was broadcast along.
    @Test(arguments: [KLDivReduction.none, .sum, .mean], [false, true])
    func inputAndTargetBroadcast(reduction: KLDivReduction, logTarget: Bool) throws {
        for (k, (xs, ys, out)) in [([3, 4], [4], [3, 4]), ([4], [3, 4], [3, 4]), ([3, 1], [1, 4], [3, 4])].enumerated() {
            let seed = UInt64(760 + 10 * k)
            let target = logTarget ? TestSupport.normal(ys, seed: seed) : TestSupport.uniform(ys, in: 0...1, seed: seed)
            let inputs = LossInputs<Double>(["input": .values(TestSupport.normal(xs, seed: seed + 1)), "target": .values(target)])
            let problems = try TestSupport.broadcastProblems(
                KLDivLoss<Double>(reduction: reduction, logTarget: logTarget), inputs,
                ["input": (nil, out), "target": (nil, out)], seed: seed + 2)
            #expect(problems.isEmpty, "\(xs) \(ys): \(problems)")
        }
    }

    /// `batchmean` divides by the given input's first dimension, as PyTorch's
    /// `reduced / input.size()[0]`, also when the target broadcasts it to more rows.
    @Test func batchmeanDividesByTheInputsFirstDimension() throws {
        let inputs = LossInputs<Double>([
            "input": .values(TestSupport.normal([4], seed: 790)), "target": .values(TestSupport.uniform([3, 4], in: 0...1, seed: 791)),
        ])
        let sum = try KLDivLoss<Double>(reduction: .sum).forward(inputs).scalar!
        let batchmean = try KLDivLoss<Double>(reduction: .batchmean).forward(inputs).scalar!
        #expect(abs(batchmean - sum / 4) <= 1e-15 * abs(sum))
    }
}
