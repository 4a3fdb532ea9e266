import Loss
import Testing
import _TestSupport

@Suite struct MultiMarginTests {
    static let classes = 5
    let x = TestSupport.normal([6, 5], scale: 1.5, seed: 101)
    let t = TestSupport.classIndices([6], classes: 5, seed: 102)
    let w = TestSupport.uniform([5], in: 0.3...2.0, seed: 103)

    var inputs: LossInputs<Double> { LossInputs(["input": .values(x), "target": .indices(t)]) }

    /// The smallest |margin - x_y + x_i| over i ≠ y, and how many hinges are active.
    func hinges(margin: Double) -> (closest: Double, active: Int, inactive: Int) {
        var closest = Double.infinity, active = 0, inactive = 0
        for n in 0..<6 {
            let y = t[flat: n]
            for i in 0..<5 where i != y {
                let z = margin - x[flat: n * 5 + y] + x[flat: n * 5 + i]
                closest = min(closest, abs(z))
                if z > 0 { active += 1 } else { inactive += 1 }
            }
        }
        return (closest, active, inactive)
    }

    @Test func documentationExample() throws {
        // PyTorch's MultiMarginLoss example: 1/4 ((1 - 0.7) + (1 - 0.6) + (1 - 0.4)) = 0.325
        let loss = try MultiMarginLoss<Double>()(Tensor([0.1, 0.2, 0.4, 0.8]), Tensor(shape: [], scalars: [3]))
        #expect(abs(loss.scalar! - 0.325) < 1e-15)
    }

    @Test func weightMultipliesOutsideThePower() throws {
        // z = 1 - 1 + 2 = 2 for class 1, z = 1 - 1 + 0 = 0 for class 2; w_y = 3: 3 · 2² / 3 = 4 (not (3·2)²/3 = 12).
        let loss = MultiMarginLoss<Double>(p: 2, weight: Tensor([3, 1, 1]), reduction: .sum)
        let value = try loss(try Tensor(shape: [1, 3], scalars: [1, 2, 0]), Tensor([0]))
        #expect(value.scalar == 4)
    }

    @Test func meanDividesBySamples() throws {
        let none = try MultiMarginLoss<Double>(reduction: .none).forward(inputs)
        let mean = try MultiMarginLoss<Double>(reduction: .mean).forward(inputs)
        #expect(abs(mean.scalar! - none.scalars.reduce(0, +) / 6) < 1e-14)
    }

    @Test(arguments: Reduction.allCases, [1, 2])
    func gradientCheck(reduction: Reduction, p: Int) throws {
        for (margin, weight) in [(1.0, nil), (0.5, w)] as [(Double, Tensor<Double>?)] {
            let h = hinges(margin: margin)
            try #require(h.closest > 1e-3 && h.active > 0 && h.inactive > 0, "inputs must avoid the kink and cover both sides")
            let loss = MultiMarginLoss<Double>(p: p, margin: margin, weight: weight, reduction: reduction)
            let report = try GradientCheck.check(loss, inputs: inputs)
            #expect(report.passes(tolerance: 1e-7), "p=\(p) margin=\(margin) weight=\(weight != nil): \(report)")
        }
    }

    @Test(arguments: Reduction.allCases)
    func gradientCheckOneDimensional(reduction: Reduction) throws {
        let v = Tensor([0.3, -1.2, 0.9, 0.05])
        let i = LossInputs<Double>(["input": .values(v), "target": .indices(Tensor([2]))])
        let loss = MultiMarginLoss<Double>(p: 2, weight: Tensor([1, 2, 0.5, 1.5]), reduction: reduction)
        #expect(try loss.forward(i).shape == (reduction == .none ? [1] : []))
        let report = try GradientCheck.check(loss, inputs: i)
        #expect(report.passes(tolerance: 1e-7), "\(report)")
    }

    @Test func badInputsThrowTypedErrors() {
        #expect(throws: LossError.invalidOption(name: "p", value: "3", expected: "1 or 2")) {
            try MultiMarginLoss<Double>(p: 3).forward(inputs)
        }
        #expect(throws: LossError.invalidOption(name: "margin", value: "nan", expected: "a finite number")) {
            try MultiMarginLoss<Double>(margin: .nan).forward(inputs)
        }
        #expect(throws: LossError.shapeMismatch(argument: "weight", expected: "[5] (one weight per class)", actual: "[4]")) {
            try MultiMarginLoss<Double>(weight: Tensor([1, 1, 1, 1])).forward(inputs)
        }
        #expect(throws: LossError.indexOutOfRange(argument: "target", position: 1, index: 5, validRange: "[0, 5)")) {
            try MultiMarginLoss<Double>()(x, Tensor([0, 5, 1, 1, 1, 1]))
        }
        #expect(throws: LossError.indexOutOfRange(argument: "target", position: 0, index: -1, validRange: "[0, 5)")) {
            try MultiMarginLoss<Double>()(x, Tensor([-1, 0, 1, 1, 1, 1]))
        }
        #expect(throws: LossError.shapeMismatch(argument: "target", expected: "[6] (one class index per sample)", actual: "[5]")) {
            try MultiMarginLoss<Double>()(x, Tensor([0, 0, 1, 1, 1]))
        }
        #expect(throws: LossError.shapeMismatch(argument: "input", expected: "(), (C) or (N, C)", actual: "[2, 3, 1]")) {
            try MultiMarginLoss<Double>()(try Tensor(zeros: [2, 3, 1]), Tensor([0, 0]))
        }
        #expect(throws: LossError.shapeMismatch(argument: "upstream", expected: "[6]", actual: "[]")) {
            try MultiMarginLoss<Double>(reduction: .none).backward(inputs, upstream: Tensor(scalar: 1))
        }
    }

    /// A 0-d input is one sample of one class: PyTorch gives 0 and a zero gradient
    /// (input 0.75, target 0), with the target's shape for `none`.
    @Test(arguments: Reduction.allCases)
    func zeroDimensionalInputIsOneSampleOfOneClass(reduction: Reduction) throws {
        for target in [Tensor<Int>(scalar: 0), Tensor([0])] {
            let r = try MultiMarginLoss<Double>(p: 2, margin: 2, weight: Tensor([2]), reduction: reduction)
                .valueWithGradient(Tensor(scalar: 0.75), target)
            #expect(r.value.shape == (reduction == .none ? target.shape : []))
            #expect(r.value.scalars == [0] && r.gradient.shape == [] && r.gradient.scalars == [0])
        }
        #expect(throws: LossError.indexOutOfRange(argument: "target", position: 0, index: 1, validRange: "[0, 1)")) {
            try MultiMarginLoss<Double>()(Tensor(scalar: 0.75), Tensor(scalar: 1))
        }
    }
}
