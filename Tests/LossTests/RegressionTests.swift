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
