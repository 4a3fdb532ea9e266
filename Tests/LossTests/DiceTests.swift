import Loss
import Testing
import _TestSupport

@Suite struct DiceTests {
    @Test(arguments: Reduction.allCases, [1.0, 0.1, 0.0])
    func passesGradientCheck(reduction: Reduction, smooth: Double) throws {
        for shape in [[4, 3, 5], [3, 7]] {
            let i = LossInputs<Double>([
                "input": .values(TestSupport.uniform(shape, in: 0.05...0.95, seed: 801)),
                "target": .values(TestSupport.uniform(shape, in: 0.05...0.95, seed: 802)),
            ])
            let loss = DiceLoss<Double>(smooth: smooth, reduction: reduction)
            let report = try GradientCheck.check(loss, inputs: i)
            #expect(report.passes(tolerance: 1e-7), "shape \(shape): \(report)")
        }
    }

    @Test func handComputedValues() throws {
        // sample 0: perfect prediction → 0; sample 1: disjoint masks, smooth 1 → 1 - 1/3
        let p = try Tensor<Double>(shape: [2, 3], scalars: [1, 0, 1, 1, 0, 0])
        let t = try Tensor<Double>(shape: [2, 3], scalars: [1, 0, 1, 0, 1, 0])
        let v = try DiceLoss<Double>(reduction: .none)(p, t)
        #expect(v.shape == [2])
        #expect(v.scalars[0] == 0 && abs(v.scalars[1] - 2.0 / 3.0) < 1e-15)
        #expect(try DiceLoss<Double>(smooth: 0, reduction: .sum)(p, t).scalar == 1)
    }

    @Test func rankBelowTwoThrows() {
        #expect(throws: LossError.shapeMismatch(argument: "input", expected: "at least 2 dimensions (N, d1, ...)", actual: "[3]")) {
            try DiceLoss<Double>()(Tensor([0.1, 0.2, 0.3]), Tensor([0, 1, 0]))
        }
    }

    @Test func valuesOutsideTheUnitIntervalThrow() throws {
        let p = try Tensor<Double>(shape: [1, 2], scalars: [0.5, 1.5])
        #expect(throws: LossError.invalidValue(argument: "input", position: 1, value: 1.5, expected: "a probability in [0, 1]")) {
            try DiceLoss<Double>()(p, p.map { _ in 0 })
        }
    }

    @Test func emptySampleWithoutSmoothingThrowsInsteadOfNaN() throws {
        let z = try Tensor<Double>(shape: [2, 2], scalars: [0.5, 0, 0, 0])
        #expect(throws: LossError.invalidValue(
            argument: "input", position: 1, value: 0, expected: "a sample with a non-zero sum of input and target when smooth = 0")) {
            try DiceLoss<Double>(smooth: 0)(z, z)
        }
        #expect(throws: LossError.invalidOption(name: "smooth", value: "-1.0", expected: "a finite number >= 0")) {
            try DiceLoss<Double>(smooth: -1)(z, z)
        }
    }
}
