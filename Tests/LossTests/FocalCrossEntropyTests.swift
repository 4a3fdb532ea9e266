import Loss
import Testing
import _TestSupport

@Suite struct FocalCrossEntropyTests {
    let x = TestSupport.normal([6, 5], seed: 401)
    let t = TestSupport.classIndices([6], classes: 5, seed: 402)
    var inputs: LossInputs<Double> { LossInputs(["input": .values(x), "target": .indices(t)]) }

    static let options: [(gamma: Double, alpha: Double?)] = [(2, nil), (0.5, 0.25), (0, nil), (1, 2)]

    @Test func gammaZeroWithoutAlphaIsCrossEntropy() throws {
        for reduction in Reduction.allCases {
            let focal = FocalCrossEntropyLoss<Double>(gamma: 0, reduction: reduction)
            let ce = CrossEntropyLoss<Double>(reduction: reduction)
            let a = try focal.forward(inputs), b = try ce.forward(inputs)
            #expect(TestSupport.maxRelativeDifference(a.scalars, b.scalars) < 1e-13)
            let up = try Tensor(shape: a.shape, scalars: (0..<a.count).map { Double($0) + 0.5 })
            let ga = try focal.backward(inputs, upstream: up)["input"]!, gb = try ce.backward(inputs, upstream: up)["input"]!
            #expect(TestSupport.maxRelativeDifference(ga.scalars, gb.scalars, floor: 1e-9) < 1e-12)
        }
    }

    @Test func hardCaseValue() throws {
        // Two classes, logits (0, 0): p_t = 1/2, loss = -α (1/2)^γ log(1/2).
        let loss = FocalCrossEntropyLoss<Double>(gamma: 2, alpha: 0.25, reduction: .sum)
        let v = try loss(try Tensor(shape: [1, 2], scalars: [0, 0]), Tensor([1]))
        #expect(abs(v.scalar! - 0.25 * 0.25 * 0.6931471805599453) < 1e-15)
    }

    @Test func certainPredictionHasZeroGradientNotNaN() throws {
        // p_t rounds to exactly 1: autograd on the formula gives NaN for γ < 1; the limit is 0.
        let i = LossInputs<Double>([
            "input": .values(try Tensor(shape: [1, 3], scalars: [800, 0, 0])), "target": .indices(Tensor([0])),
        ])
        let loss = FocalCrossEntropyLoss<Double>(gamma: 0.5, reduction: .sum)
        #expect(try loss.forward(i).scalar == 0)
        let g = try loss.backward(i, upstream: Tensor(scalar: 1))["input"]!
        #expect(g.scalars.allSatisfy { $0 == 0 })
    }

    @Test(arguments: Reduction.allCases)
    func gradientCheck(reduction: Reduction) throws {
        let spatial = LossInputs<Double>([
            "input": .values(TestSupport.normal([2, 4, 3], seed: 403)),
            "target": .indices(TestSupport.classIndices([2, 3], classes: 4, seed: 404)),
        ])
        for (gamma, alpha) in Self.options {
            let loss = FocalCrossEntropyLoss<Double>(gamma: gamma, alpha: alpha, reduction: reduction)
            for i in [inputs, spatial] {
                let report = try GradientCheck.check(loss, inputs: i)
                #expect(report.passes(tolerance: 1e-7), "gamma=\(gamma) alpha=\(String(describing: alpha)): \(report)")
            }
        }
    }

    @Test func badInputsThrowTypedErrors() {
        #expect(throws: LossError.invalidOption(name: "gamma", value: "-1.0", expected: "a finite number >= 0")) {
            try FocalCrossEntropyLoss<Double>(gamma: -1).forward(inputs)
        }
        #expect(throws: LossError.invalidOption(name: "alpha", value: "-0.5", expected: "None or a finite number >= 0")) {
            try FocalCrossEntropyLoss<Double>(alpha: -0.5).forward(inputs)
        }
        #expect(throws: LossError.indexOutOfRange(argument: "target", position: 2, index: 5, validRange: "[0, 5)")) {
            try FocalCrossEntropyLoss<Double>()(x, Tensor([0, 1, 5, 0, 0, 0]))
        }
        #expect(throws: LossError.indexOutOfRange(argument: "target", position: 0, index: -100, validRange: "[0, 5)")) {
            try FocalCrossEntropyLoss<Double>()(x, Tensor([-100, 1, 2, 0, 0, 0]))
        }
        #expect(throws: LossError.shapeMismatch(
            argument: "target", expected: "[6] (the input's shape without the class axis)", actual: "[6, 1]")) {
            try FocalCrossEntropyLoss<Double>()(x, try t.reshaped([6, 1]))
        }
    }

    @Test func registryReadsAlphaNone() throws {
        let loss = try LossRegistry.make(
            "focal_cross_entropy", options: ["gamma": .double(2), "alpha": .null, "reduction": .string("sum")], as: Double.self)
        let direct = FocalCrossEntropyLoss<Double>(gamma: 2, reduction: .sum)
        #expect(try loss.forward(inputs) == direct.forward(inputs))
    }
}
