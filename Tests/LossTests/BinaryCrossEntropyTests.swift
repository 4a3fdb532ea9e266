import Loss
import Testing
import _TestSupport

@Suite struct BinaryCrossEntropyTests {
    @Test(arguments: Reduction.allCases)
    func bceGradients(reduction: Reduction) throws {
        let p = TestSupport.uniform([3, 4], in: 0.05...0.95, seed: 40)
        let y = TestSupport.uniform([3, 4], in: 0...1, seed: 41)
        let inputs = LossInputs(["input": .values(p), "target": .values(y)])
        for weight in [nil, TestSupport.uniform([4], in: 0.5...1.5, seed: 42), TestSupport.uniform([3, 4], in: 0.5...1.5, seed: 43)] {
            let report = try GradientCheck.check(BCELoss(weight: weight, reduction: reduction), inputs: inputs)
            #expect(report.passes(tolerance: 1e-7), "\(report)")
        }
    }

    @Test(arguments: Reduction.allCases)
    func bceWithLogitsGradients(reduction: Reduction) throws {
        let x = TestSupport.normal([3, 4], scale: 3, seed: 44)
        let y = TestSupport.uniform([3, 4], in: 0...1, seed: 45)
        let inputs = LossInputs(["input": .values(x), "target": .values(y)])
        let w = TestSupport.uniform([3, 4], in: 0.5...1.5, seed: 46), pw = TestSupport.uniform([4], in: 0.5...3, seed: 47)
        for loss in [BCEWithLogitsLoss<Double>(reduction: reduction), BCEWithLogitsLoss(weight: w, positiveWeight: pw, reduction: reduction)] {
            let report = try GradientCheck.check(loss, inputs: inputs)
            #expect(report.passes(tolerance: 1e-7), "\(report)")
        }
    }

    @Test func withLogitsIsStableForHugeLogits() throws {
        let x = Tensor<Float>([1e30, -1e30, 80, -80]), y = Tensor<Float>([0, 1, 1, 0])
        let loss = try BCEWithLogitsLoss<Float>(reduction: .none)(x, y)
        // softplus of a huge argument is the argument itself; of a hugely negative one, 0.
        #expect(loss.scalars[0] == 1e30 && loss.scalars[1] == 1e30)
        #expect(loss.scalars[2] < 1e-30 && loss.scalars[3] < 1e-30)
        let g = try BCEWithLogitsLoss<Float>(reduction: .sum)
            .backward(LossInputs(["input": .values(x), "target": .values(y)]), upstream: Tensor(scalar: 1))
        #expect(g["input"]!.scalars.allSatisfy { $0.isFinite })
    }

    @Test func matchesProbabilityFormOnModerateLogits() throws {
        let x = TestSupport.normal([20], scale: 2, seed: 48)
        let y = TestSupport.uniform([20], in: 0...1, seed: 49)
        let p = x.map { 1 / (1 + Double.exp(-$0)) }
        let a = try BCEWithLogitsLoss<Double>()(x, y).scalar!
        let b = try BCELoss<Double>()(p, y).scalar!
        #expect(abs(a - b) < 1e-12)
    }

    @Test func logsAreClampedAtMinus100() throws {
        let v = try BCELoss<Double>(reduction: .none)(Tensor([0, 1]), Tensor([1, 0]))
        #expect(v.scalars == [100, 100])
    }

    @Test func probabilitiesOutsideUnitIntervalAreRejected() {
        #expect(throws: LossError.invalidValue(argument: "input", position: 1, value: 1.5, expected: "a probability in [0, 1]")) {
            try BCELoss<Double>()(Tensor([0.5, 1.5]), Tensor([1, 0]))
        }
        #expect(throws: LossError.self) { try BCELoss<Double>()(Tensor([.nan]), Tensor([1])) }
        #expect(throws: LossError.self) {
            try BCEWithLogitsLoss<Double>(positiveWeight: Tensor([1, 2, 3]))(Tensor([0.5, 1.5]), Tensor([1, 0]))
        }
        #expect(throws: LossError.self) {
            try BCELoss<Double>(weight: Tensor([1, 2, 3]))(Tensor([0.5, 0.5]), Tensor([1, 0]))
        }
    }
}
