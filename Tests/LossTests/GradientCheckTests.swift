import Loss
import Testing
import _TestSupport

/// A user's own loss, written against the public API only: the Cauchy (Lorentzian) loss
/// `log(1 + (x - y)^2)`.
struct CauchyLoss: ElementwiseLoss {
    typealias Scalar = Double
    var reduction: Reduction = .mean
    var brokenGradient = false
    func value(input x: Double, target y: Double) -> Double { Double.log(onePlus: (x - y) * (x - y)) }
    func derivatives(input x: Double, target y: Double) -> (input: Double, target: Double) {
        let d = x - y, g = 2 * d / (1 + d * d)
        return brokenGradient ? (g * 1.001, -g) : (g, -g)
    }
}

/// A user's loss implementing the raw protocol but forgetting a gradient.
struct ForgetfulLoss: LossFunction {
    typealias Scalar = Double
    var inputSpecs: [InputSpec] { [.values("input"), .values("target")] }
    func forward(_ inputs: LossInputs<Double>) throws -> Tensor<Double> {
        try MSELoss<Double>().forward(inputs)
    }
    func backward(_ inputs: LossInputs<Double>, upstream: Tensor<Double>) throws -> [String: Tensor<Double>] {
        var g = try MSELoss<Double>().backward(inputs, upstream: upstream)
        g["target"] = nil
        return g
    }
}

@Suite struct GradientCheckTests {
    let inputs = LossInputs<Double>([
        "input": .values(TestSupport.normal([4, 3], seed: 60)), "target": .values(TestSupport.normal([4, 3], seed: 61)),
    ])

    @Test func acceptsACorrectUserLoss() throws {
        let report = try GradientCheck.check(CauchyLoss(), inputs: inputs)
        #expect(report.passes(tolerance: 1e-7), "\(report)")
        #expect(report.checked == 24)
    }

    @Test func catchesAWrongGradient() throws {
        let report = try GradientCheck.check(CauchyLoss(brokenGradient: true), inputs: inputs)
        #expect(!report.passes(tolerance: 1e-7))
        #expect(report.worstInput == "input")
        #expect(report.worstError > 5e-4)
    }

    @Test func catchesAMissingGradient() throws {
        let report = try GradientCheck.check(ForgetfulLoss(), inputs: inputs)
        #expect(report.missingGradients == ["target"])
        #expect(!report.passes())
    }

    @Test func mapeIsACustomLossThatPasses() throws {
        let positive = LossInputs<Double>([
            "input": .values(TestSupport.normal([10], scale: 3, seed: 62)),
            "target": .values(TestSupport.uniform([10], in: 0.5...4, seed: 63)),
        ])
        for reduction in Reduction.allCases {
            #expect(try GradientCheck.check(MAPELoss(reduction: reduction), inputs: positive).passes(tolerance: 1e-7))
        }
    }
}
