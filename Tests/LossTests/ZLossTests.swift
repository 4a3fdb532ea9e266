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

    /// The cross-entropy term is -log_softmax(x)_t formed from x - m: under a common offset of
    /// 1e10 the loss keeps every digit. The closed form over the exact differences d = x - x_0
    /// (the z-term takes lse itself, O + lse(d)) is the reference.
    @Test func largeCommonOffsetKeepsTheCrossEntropyTerm() throws {
        let spread: [Double] = [0.5, -1.25, 2.0, 0.0]
        for offset in [1e10, -1e13] {
            let x = try Tensor(shape: [2, 4], scalars: spread.map { offset + $0 } + spread.map { offset - $0 })
            let targets = [1, 3], zLoss = 1e-30  // the z-term, 1e-30 lse², stays comparable to the rest
            let got = try CrossEntropyZLoss<Double>(zLoss: zLoss, reduction: .none)(x, Tensor(targets)).scalars
            for r in 0..<2 {
                let row = Array(x.scalars[(4 * r)..<(4 * r + 4)])
                let d = row.map { $0 - row[0] }, m = d.max()!
                let lseD = m + Double.log(d.reduce(0) { $0 + Double.exp($1 - m) })
                let lse = row[0] + lseD
                let want = (lseD - d[targets[r]]) + zLoss * lse * lse
                #expect(abs(got[r] - want) <= 1e-12 * abs(want), "\(offset) row \(r): \(got[r]) vs \(want)")
            }
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
