import Loss
import Testing
import _TestSupport

@Suite struct PoissonNLLTests {
    /// Targets on both sides of 1 (where the Stirling term switches on), away from 0 and 1.
    let counts = Tensor<Double>([0.3, 0.8, 1.5, 2, 3, 4.5, 7, 12])

    @Test(arguments: Reduction.allCases, [false, true])
    func logInputPassesGradientCheck(reduction: Reduction, full: Bool) throws {
        let i = LossInputs<Double>(["input": .values(TestSupport.normal([8], seed: 601)), "target": .values(counts)])
        let report = try GradientCheck.check(PoissonNLLLoss(logInput: true, full: full, reduction: reduction), inputs: i)
        #expect(report.passes(tolerance: 1e-7), "\(report)")
    }

    @Test(arguments: Reduction.allCases, [false, true])
    func rateInputPassesGradientCheck(reduction: Reduction, full: Bool) throws {
        let i = LossInputs<Double>(["input": .values(TestSupport.uniform([8], in: 0.1...5, seed: 602)), "target": .values(counts)])
        for eps in [1e-8, 0.5] {
            let loss = PoissonNLLLoss<Double>(logInput: false, full: full, eps: eps, reduction: reduction)
            let report = try GradientCheck.check(loss, inputs: i)
            #expect(report.passes(tolerance: 1e-7), "eps \(eps): \(report)")
        }
    }

    @Test func fullAddsStirlingsApproximationOfLogFactorialOnlyAboveOne() throws {
        let t = Tensor<Double>([0, 1, 5, 40])
        let i = LossInputs<Double>(["input": .values(Tensor([0.1, 0.2, 0.3, 0.4])), "target": .values(t)])
        let plain = try PoissonNLLLoss<Double>(reduction: .none).forward(i).scalars
        let full = try PoissonNLLLoss<Double>(full: true, reduction: .none).forward(i).scalars
        let extra = zip(full, plain).map { $0 - $1 }
        #expect(extra[0] == 0 && extra[1] == 0)
        // Stirling's series: log t! = S(t) + 1/(12 t) - ...
        for k in 2...3 {
            let n = t.scalars[k], logFactorial = Double.logGamma(n + 1)
            #expect(abs(logFactorial - extra[k] - 1 / (12 * n)) < 1 / (300 * n * n * n))
        }
    }

    @Test func handComputedValues() throws {
        let i = LossInputs<Double>(["input": .values(Tensor([0, 2])), "target": .values(Tensor([3, 1]))])
        #expect(try PoissonNLLLoss<Double>(reduction: .none).forward(i).scalars == [1, Double.exp(2) - 2])
        let rate = try PoissonNLLLoss<Double>(logInput: false, eps: 0, reduction: .none).forward(
            LossInputs(["input": .values(Tensor([1, 2])), "target": .values(Tensor([3, 1]))]))
        #expect(rate.scalars == [1, 2 - Double.log(2)])
    }

    @Test func fullTargetGradientIsNaNAtZeroCountsAsPyTorch() throws {
        let i = LossInputs<Double>(["input": .values(Tensor([0.5, 0.5, 0.5])), "target": .values(Tensor([0, 1, 3]))])
        let g = try PoissonNLLLoss<Double>(full: true, reduction: .sum).backward(i, upstream: Tensor(scalar: 1))
        #expect(g["target"]!.scalars[0].isNaN)
        #expect(g["target"]!.scalars[1] == -0.5)
        #expect(g["input"]!.scalars.allSatisfy { $0.isFinite })
        let plain = try PoissonNLLLoss<Double>(full: false, reduction: .sum).backward(i, upstream: Tensor(scalar: 1))
        #expect(plain["target"]!.scalars == [-0.5, -0.5, -0.5])
    }

    @Test func negativeCountsAndRatesThrow() {
        let i = LossInputs<Double>(["input": .values(Tensor([0.5, 1])), "target": .values(Tensor([1, -2]))])
        #expect(throws: LossError.invalidValue(argument: "target", position: 1, value: -2, expected: "a non-negative count")) {
            try PoissonNLLLoss<Double>().forward(i)
        }
        let r = LossInputs<Double>(["input": .values(Tensor([-0.5, 1])), "target": .values(Tensor([1, 2]))])
        #expect(throws: LossError.invalidValue(
            argument: "input", position: 0, value: -0.5, expected: "a non-negative rate (log_input is False)")) {
            try PoissonNLLLoss<Double>(logInput: false).backward(r, upstream: Tensor(scalar: 1))
        }
        #expect(throws: Never.self) { try PoissonNLLLoss<Double>(logInput: true).forward(r) }
        #expect(throws: LossError.invalidOption(name: "eps", value: "-1e-08", expected: "a finite number >= 0")) {
            try PoissonNLLLoss<Double>(logInput: false, eps: -1e-8).forward(r)
        }
    }

    /// Input and target broadcast against each other, as PyTorch broadcasts them without a
    /// warning: the loss of expanded copies, each gradient summed back.
    @Test(arguments: Reduction.allCases, [true, false])
    func inputAndTargetBroadcast(reduction: Reduction, logInput: Bool) throws {
        for (k, (xs, ys, out)) in [([3, 4], [4], [3, 4]), ([4], [3, 4], [3, 4]), ([3, 1], [1, 4], [3, 4])].enumerated() {
            let seed = UInt64(800 + 10 * k)
            let x = logInput ? TestSupport.normal(xs, seed: seed) : TestSupport.uniform(xs, in: 0.1...3, seed: seed)
            let inputs = LossInputs<Double>(["input": .values(x), "target": .values(TestSupport.uniform(ys, in: 0...4, seed: seed + 1))])
            let problems = try TestSupport.broadcastProblems(
                PoissonNLLLoss<Double>(logInput: logInput, full: true, reduction: reduction), inputs,
                ["input": (nil, out), "target": (nil, out)], seed: seed + 2)
            #expect(problems.isEmpty, "\(xs) \(ys): \(problems)")
        }
    }
}
