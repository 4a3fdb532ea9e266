import Loss
import Testing
import _TestSupport

@Suite struct CrossEntropyZLossTests {
    let x = TestSupport.normal([6, 5], seed: 501)
    /// Rows 0 and 3 ignored.
    let t = Tensor<Int>([-100, 3, 2, -100, 1, 0])
    var inputs: LossInputs<Double> { LossInputs(["input": .values(x), "target": .indices(t)]) }

    @Test func zeroCoefficientIsCrossEntropyWithUnweightedMean() throws {
        for reduction in Reduction.allCases {
            let z = CrossEntropyZLoss<Double>(zLoss: 0, reduction: reduction)
            let ce = CrossEntropyLoss<Double>(reduction: reduction)
            let a = try z.forward(inputs), b = try ce.forward(inputs)
            #expect(TestSupport.maxRelativeDifference(a.scalars, b.scalars) < 1e-13)
            let up = try Tensor(shape: a.shape, scalars: (0..<a.count).map { Double($0) - 1.5 })
            let ga = try z.backward(inputs, upstream: up)["input"]!, gb = try ce.backward(inputs, upstream: up)["input"]!
            #expect(TestSupport.maxRelativeDifference(ga.scalars, gb.scalars, floor: 1e-9) < 1e-12)
        }
    }

    @Test func meanDividesByRowsNotIgnored() throws {
        let none = try CrossEntropyZLoss<Double>(zLoss: 0.1, reduction: .none).forward(inputs)
        #expect(none[flat: 0] == 0 && none[flat: 3] == 0)
        let mean = try CrossEntropyZLoss<Double>(zLoss: 0.1).forward(inputs)
        #expect(abs(mean.scalar! - none.scalars.reduce(0, +) / 4) < 1e-14)
        // The z term itself: logits (0, 0) give lse = log 2.
        let one = try CrossEntropyZLoss<Double>(zLoss: 0.5, reduction: .sum)(
            try Tensor(shape: [1, 2], scalars: [0, 0]), Tensor([0]))
        let l2 = 0.6931471805599453
        #expect(abs(one.scalar! - (l2 + 0.5 * l2 * l2)) < 1e-15)
    }

    @Test func everyRowIgnoredGivesNaNMeanAndZeroGradient() throws {
        let ignored = LossInputs<Double>(["input": .values(x), "target": .indices(Tensor(Array(repeating: -100, count: 6)))])
        let loss = CrossEntropyZLoss<Double>()
        #expect(try loss.forward(ignored).scalar!.isNaN)
        #expect(try loss.backward(ignored, upstream: Tensor(scalar: 1))["input"]!.scalars.allSatisfy { $0 == 0 })
    }

    @Test(arguments: Reduction.allCases, [1e-2, 0.5])
    func gradientCheck(reduction: Reduction, zLoss: Double) throws {
        let spatial = LossInputs<Double>([
            "input": .values(TestSupport.normal([2, 4, 3], seed: 502)),
            "target": .indices(try Tensor(shape: [2, 3], scalars: [0, 3, 7, 2, 1, 7])),
        ])
        let loss = CrossEntropyZLoss<Double>(zLoss: zLoss, reduction: reduction)
        let report = try GradientCheck.check(loss, inputs: inputs)
        #expect(report.passes(tolerance: 1e-7), "\(report)")
        let withSevenIgnored = CrossEntropyZLoss<Double>(zLoss: zLoss, ignoreIndex: 7, reduction: reduction)
        let report2 = try GradientCheck.check(withSevenIgnored, inputs: spatial)
        #expect(report2.passes(tolerance: 1e-7), "spatial: \(report2)")
    }

    @Test func badInputsThrowTypedErrors() {
        #expect(throws: LossError.invalidOption(name: "z_loss", value: "-0.1", expected: "a finite number >= 0")) {
            try CrossEntropyZLoss<Double>(zLoss: -0.1).forward(inputs)
        }
        #expect(throws: LossError.indexOutOfRange(argument: "target", position: 1, index: 5, validRange: "[0, 5)")) {
            try CrossEntropyZLoss<Double>()(x, Tensor([-100, 5, 2, -100, 1, 0]))
        }
        #expect(throws: LossError.indexOutOfRange(argument: "target", position: 0, index: -1, validRange: "[0, 5)")) {
            try CrossEntropyZLoss<Double>()(x, Tensor([-1, 3, 2, -100, 1, 0]))
        }
        #expect(throws: LossError.shapeMismatch(
            argument: "target", expected: "[6] (the input's shape without the class axis)", actual: "[5]")) {
            try CrossEntropyZLoss<Double>()(x, Tensor([0, 3, 2, 1, 1]))
        }
    }
}
