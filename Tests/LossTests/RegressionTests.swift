import Loss
import Testing
import _TestSupport

@Suite struct RegressionTests {
    let x = TestSupport.normal([3, 4], scale: 2, seed: 10)
    let y = TestSupport.normal([3, 4], scale: 2, seed: 11)
    var inputs: LossInputs<Double> { LossInputs(["input": .values(x), "target": .values(y)]) }

    @Test func tutorialNumbers() throws {
        let p = Tensor<Double>([0, 3]), t = Tensor<Double>([1, 0])
        let i = LossInputs(["input": .values(p), "target": .values(t)])
        #expect(try L1Loss<Double>().forward(i).scalar == 2.0)
        #expect(try MSELoss<Double>().forward(i).scalar == 5.0)
        #expect(abs(try RMSELoss<Double>().forward(i).scalar! - 5.0.squareRoot()) < 1e-15)
    }

    @Test(arguments: Reduction.allCases)
    func gradientsPassGradientCheck(reduction: Reduction) throws {
        let losses: [any LossFunction<Double>] = [
            L1Loss(reduction: reduction), MSELoss(reduction: reduction), MAPELoss(reduction: reduction), RMSELoss(),
        ]
        for loss in losses {
            let report = try GradientCheck.check(loss, inputs: inputs)
            #expect(report.passes(tolerance: 1e-7), "\(type(of: loss)): \(report)")
        }
    }

    /// MSE's gradient 2 (x - y) is formed as (2 / n) (x - y), as PyTorch's: in Float,
    /// x - y = 3e38 with n = 2 gives 3e38, not 2 · 3e38 = inf halved. (x - y = 6e38 is inf
    /// either way.)
    @Test func squaredErrorGradientDoesNotOverflowBeforeTheMean() throws {
        let x = Tensor<Float>([3e38, 3e38]), y = Tensor<Float>([-3e38, 0])
        let g = try MSELoss<Float>().backward(LossInputs(["input": .values(x), "target": .values(y)]), upstream: Tensor(scalar: 1))
        #expect(g["input"]!.scalars == [.infinity, 3e38] && g["target"]!.scalars == [-.infinity, -3e38])
        let four = try MSELoss<Float>().valueWithGradient(Tensor<Float>([3e38, 0, 0, 0]), Tensor<Float>([0, 0, 0, 0]))
        #expect(four.gradient.scalars == [1.5e38, 0, 0, 0])
    }

    @Test func rmseGradientIsZeroWhereInputEqualsTarget() throws {
        let g = try RMSELoss<Double>().backward(LossInputs(["input": .values(x), "target": .values(x)]), upstream: Tensor(scalar: 1))
        #expect(g["input"]!.scalars.allSatisfy { $0 == 0 })
    }

    @Test func shapeMismatchIsATypedError() {
        let bad = LossInputs<Double>(["input": .values(x), "target": .values(Tensor([1, 2, 3]))])
        #expect(throws: LossError.shapeMismatch(argument: "target", expected: "[3, 4] (the shape of input)", actual: "[3]")) {
            try MSELoss<Double>().forward(bad)
        }
    }
}
