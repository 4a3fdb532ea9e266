import Loss
import Testing
import _TestSupport

@Suite struct FocalTests {
    let logits = TestSupport.normal([3, 4], scale: 3, seed: 401)
    let soft = TestSupport.uniform([3, 4], in: 0.05...0.95, seed: 402)

    static let options: [(alpha: Double, gamma: Double)] = [(0.25, 2), (-1, 0), (0.5, 1.5), (0.8, 0.5), (-1, 3)]

    @Test(arguments: Reduction.allCases, 0..<options.count)
    func passesGradientCheck(reduction: Reduction, option: Int) throws {
        let (alpha, gamma) = Self.options[option]
        let loss = SigmoidFocalLoss<Double>(alpha: alpha, gamma: gamma, reduction: reduction)
        let i = LossInputs<Double>(["input": .values(logits), "target": .values(soft)])
        let report = try GradientCheck.check(loss, inputs: i)
        #expect(report.passes(tolerance: 1e-7), "alpha \(alpha) gamma \(gamma): \(report)")
    }

    @Test func gammaZeroWithoutAlphaIsBinaryCrossEntropyWithLogits() throws {
        let hard = soft.map { $0 > 0.5 ? 1.0 : 0.0 }
        for t in [soft, hard] {
            let i = LossInputs<Double>(["input": .values(logits), "target": .values(t)])
            let focal = SigmoidFocalLoss<Double>(alpha: -1, gamma: 0, reduction: .none)
            let bce = BCEWithLogitsLoss<Double>(reduction: .none)
            #expect(TestSupport.maxRelativeDifference(try focal.forward(i).scalars, try bce.forward(i).scalars) < 1e-14)
            let up = TestSupport.normal([3, 4], seed: 9)
            let a = try focal.backward(i, upstream: up), b = try bce.backward(i, upstream: up)
            #expect(TestSupport.maxRelativeDifference(a["input"]!.scalars, b["input"]!.scalars) < 1e-12)
            #expect(TestSupport.maxRelativeDifference(a["target"]!.scalars, b["target"]!.scalars) < 1e-12)
        }
    }

    @Test func handComputedValue() throws {
        // x = 0: p = 1/2, ce = log 2, (1 - p_t)^2 = 1/4; alpha_t = 0.25 for t = 1, 0.75 for t = 0
        let v = try SigmoidFocalLoss<Double>(reduction: .none)(Tensor([0, 0]), Tensor([1, 0])).scalars
        #expect(TestSupport.maxRelativeDifference(v, [0.25 * 0.25 * 0.6931471805599453, 0.75 * 0.25 * 0.6931471805599453]) < 1e-15)
    }

    @Test func confidentCorrectPredictionsKeepRelativeAccuracy() throws {
        // x = 30, t = 1: 1 - p = σ(-30) ≈ 9.4e-14; a naive 1 - σ(30) loses every digit.
        let v = try SigmoidFocalLoss<Double>(alpha: -1, gamma: 2, reduction: .sum)(Tensor([30]), Tensor([1])).scalar!
        let q = 1 / (1 + Double.exp(30)), ce = Double.log(onePlus: Double.exp(-30))
        #expect(abs(v - ce * q * q) / (ce * q * q) < 1e-12)
    }

    @Test func invalidOptionsThrow() {
        let i = LossInputs<Double>(["input": .values(logits), "target": .values(soft)])
        #expect(throws: LossError.invalidOption(name: "gamma", value: "-1.0", expected: "a finite number >= 0")) {
            try SigmoidFocalLoss<Double>(gamma: -1).forward(i)
        }
        #expect(throws: LossError.invalidOption(
            name: "alpha", value: "1.5", expected: "a number <= 1 (negative disables weighting)")) {
            try SigmoidFocalLoss<Double>(alpha: 1.5).backward(i, upstream: Tensor(scalar: 1))
        }
    }

    @Test func targetsOutsideTheUnitIntervalThrow() {
        let i = LossInputs<Double>(["input": .values(Tensor([0, 1])), "target": .values(Tensor([1, 2]))])
        #expect(throws: LossError.invalidValue(argument: "target", position: 1, value: 2, expected: "a value in [0, 1]")) {
            try SigmoidFocalLoss<Double>().forward(i)
        }
    }
}
