import Loss
import Testing
import _TestSupport

@Suite struct SmoothL1Tests {
    let x = TestSupport.normal([3, 5], scale: 2, seed: 101)
    let y = TestSupport.normal([3, 5], scale: 2, seed: 102)
    var inputs: LossInputs<Double> { LossInputs(["input": .values(x), "target": .values(y)]) }

    @Test(arguments: Reduction.allCases, [1.0, 0.5, 3.0, 0.0])
    func smoothL1PassesGradientCheck(reduction: Reduction, beta: Double) throws {
        let report = try GradientCheck.check(SmoothL1Loss(beta: beta, reduction: reduction), inputs: inputs)
        #expect(report.passes(tolerance: 1e-7), "beta \(beta): \(report)")
    }

    @Test(arguments: Reduction.allCases, [1.0, 2.5, 0.3])
    func huberPassesGradientCheck(reduction: Reduction, delta: Double) throws {
        let report = try GradientCheck.check(HuberLoss(delta: delta, reduction: reduction), inputs: inputs)
        #expect(report.passes(tolerance: 1e-7), "delta \(delta): \(report)")
    }

    @Test func bothZonesAreUsedByTheTestData() {
        let d = zip(x.scalars, y.scalars).map { abs($0 - $1) }
        #expect(d.contains { $0 < 0.5 } && d.contains { $0 > 3 })
    }

    @Test func handComputedValues() throws {
        // d = 0.5 (quadratic zone) and d = -3 (linear zone)
        let i = LossInputs<Double>(["input": .values(Tensor([1.5, -1])), "target": .values(Tensor([1, 2]))])
        let s = try SmoothL1Loss<Double>(beta: 1, reduction: .none).forward(i).scalars
        #expect(s == [0.125, 2.5])
        let h = try HuberLoss<Double>(delta: 2, reduction: .none).forward(i).scalars
        #expect(h == [0.125, 4])
        let g = try HuberLoss<Double>(delta: 2, reduction: .sum).backward(i, upstream: Tensor(scalar: 1))
        #expect(g["input"]!.scalars == [0.5, -2])
        #expect(g["target"]!.scalars == [-0.5, 2])
    }

    @Test func betaZeroIsExactlyL1() throws {
        let at = LossInputs<Double>(["input": .values(x), "target": .values(x)])  // d = 0 everywhere
        for i in [inputs, at] {
            for reduction in Reduction.allCases {
                let smooth = SmoothL1Loss<Double>(beta: 0, reduction: reduction), l1 = L1Loss<Double>(reduction: reduction)
                #expect(try smooth.forward(i) == l1.forward(i))
                let up = reduction == .none ? TestSupport.normal([3, 5], seed: 7) : Tensor(scalar: 1.3)
                #expect(try smooth.backward(i, upstream: up) == l1.backward(i, upstream: up))
            }
        }
    }

    @Test func huberIsDeltaTimesSmoothL1() throws {
        for delta in [0.4, 1.7] {
            let h = try HuberLoss<Double>(delta: delta, reduction: .none).forward(inputs).scalars
            let s = try SmoothL1Loss<Double>(beta: delta, reduction: .none).forward(inputs).scalars
            #expect(TestSupport.maxRelativeDifference(h, s.map { $0 * delta }) < 1e-14)
        }
    }

    @Test func negativeBetaThrows() {
        #expect(throws: LossError.invalidOption(name: "beta", value: "-0.5", expected: "a finite number >= 0")) {
            try SmoothL1Loss<Double>(beta: -0.5).forward(inputs)
        }
        #expect(throws: LossError.self) {
            try LossRegistry.make("smooth_l1_loss", options: ["beta": .double(-1)], as: Double.self).forward(inputs)
        }
    }

    @Test func nonPositiveDeltaThrows() {
        for delta in [0.0, -1.0] {
            #expect(throws: LossError.invalidOption(name: "delta", value: "\(delta)", expected: "a finite number > 0")) {
                try HuberLoss<Double>(delta: delta).backward(inputs, upstream: Tensor(scalar: 1))
            }
        }
    }

    @Test func shapeMismatchThrows() {
        let bad = LossInputs<Double>(["input": .values(x), "target": .values(Tensor([1, 2, 3]))])
        #expect(throws: LossError.shapeMismatch(argument: "target", expected: "[3, 5] (the shape of input)", actual: "[3]")) {
            try HuberLoss<Double>().forward(bad)
        }
    }
}
