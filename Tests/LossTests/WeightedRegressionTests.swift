import Loss
import Testing
import _TestSupport

/// PyTorch 2.15's `weight=` on `l1_loss`, `mse_loss` and `huber_loss`: a tensor of the
/// input's shape, `mean` over `sum(w)` for the first two and over the count for Huber.
/// PyTorch's own values are in Tests/Fixtures/torch-cases-kinks.json ("weight/...").
@Suite struct WeightedRegressionTests {
    let x = TestSupport.normal([3, 4], scale: 2, seed: 811)
    let y = TestSupport.normal([3, 4], scale: 2, seed: 812)
    let w = TestSupport.uniform([3, 4], in: 0.1...2, seed: 813)

    func inputs() -> LossInputs<Double> { LossInputs(["input": .values(x), "target": .values(y)]) }

    static func losses(_ weight: Tensor<Double>?, _ reduction: Reduction) -> [(String, any LossFunction<Double>)] {
        [("l1", L1Loss(weight: weight, reduction: reduction)), ("mse", MSELoss(weight: weight, reduction: reduction)),
         ("huber", HuberLoss(delta: 0.7, weight: weight, reduction: reduction))]
    }

    @Test(arguments: Reduction.allCases)
    func passesGradientCheck(reduction: Reduction) throws {
        for (name, loss) in Self.losses(w, reduction) {
            let report = try GradientCheck.check(loss, inputs: inputs())
            #expect(report.passes(tolerance: 1e-7), "\(name): \(report)")
        }
    }

    /// Weights of 1 give the unweighted loss; weights of 2 leave the `mean` of l1 and mse
    /// unchanged (over `sum(w)`) and double Huber's (over the count) and every `sum`.
    @Test(arguments: Reduction.allCases)
    func meanDividesAsPyTorch(reduction: Reduction) throws {
        let ones = w.map { _ in 1.0 }, twos = w.map { _ in 2.0 }
        for ((name, plain), ((_, one), (_, two))) in zip(Self.losses(nil, reduction), zip(Self.losses(ones, reduction), Self.losses(twos, reduction))) {
            let p = try plain.forward(inputs()).scalars, o = try one.forward(inputs()).scalars, t = try two.forward(inputs()).scalars
            #expect(TestSupport.maxRelativeDifference(o, p) < 1e-15, "\(name)")
            let factor = reduction == .mean && name != "huber" ? 1.0 : 2.0
            #expect(TestSupport.maxRelativeDifference(t, p.map { $0 * factor }) < 1e-15, "\(name) \(reduction)")
        }
    }

    @Test func weightOfAnotherShapeThrows() {
        for (name, loss) in Self.losses(Tensor([1, 2, 3, 4]), .mean) {
            #expect(throws: LossError.shapeMismatch(argument: "weight", expected: "[3, 4] (the shape of input)", actual: "[4]"), "\(name)") {
                try loss.forward(inputs())
            }
            #expect(throws: LossError.self, "\(name)") { try loss.backward(inputs(), upstream: Tensor(scalar: 1)) }
        }
    }

    @Test func allZeroWeightsGiveNaNMeanForL1AndMSE() throws {
        let zeros = w.map { _ in 0.0 }
        for (name, loss) in Self.losses(zeros, .mean) {
            let v = try loss.forward(inputs()).scalar!
            #expect(name == "huber" ? v == 0 : v.isNaN, "\(name): \(v)")
        }
    }
}
