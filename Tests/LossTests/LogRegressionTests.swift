import Foundation
import Loss
import Testing
import _TestSupport

@Suite struct LogRegressionTests {
    @Test(arguments: Reduction.allCases)
    func mslePassesGradientCheck(reduction: Reduction) throws {
        let i = LossInputs<Double>([
            "input": .values(TestSupport.uniform([4, 3], in: 0...5, seed: 201)),
            "target": .values(TestSupport.uniform([4, 3], in: -0.5...5, seed: 202)),
        ])
        let report = try GradientCheck.check(MSLELoss(reduction: reduction), inputs: i)
        #expect(report.passes(tolerance: 1e-7), "\(report)")
    }

    @Test(arguments: Reduction.allCases)
    func logCoshPassesGradientCheck(reduction: Reduction) throws {
        let i = LossInputs<Double>([
            "input": .values(TestSupport.normal([2, 3, 4], scale: 3, seed: 203)),
            "target": .values(TestSupport.normal([2, 3, 4], scale: 3, seed: 204)),
        ])
        let report = try GradientCheck.check(LogCoshLoss(reduction: reduction), inputs: i)
        #expect(report.passes(tolerance: 1e-7), "\(report)")
    }

    @Test func msleHandValue() throws {
        // (log 4 - log 1)² = (2 log 2)²
        let v = try MSLELoss<Double>()(Tensor([3]), Tensor([0])).scalar!
        #expect(abs(v - 4 * 0.6931471805599453 * 0.6931471805599453) < 1e-15)
    }

    @Test func logCoshMatchesCoshAndStaysFiniteForLargeDifferences() throws {
        let d: [Double] = [-2, -0.1, 0, 1e-3, 0.7, 5]
        let v = try LogCoshLoss<Double>(reduction: .none)(Tensor(d), Tensor(d.map { _ in 0 })).scalars
        // log(cosh d) directly where it is accurate, its Taylor series d²/2 - d⁴/12 + d⁶/45 near 0
        let want = d.map { abs($0) < 0.01 ? $0 * $0 / 2 - pow($0, 4) / 12 + pow($0, 6) / 45 : Double.log((Double.exp($0) + Double.exp(-$0)) / 2) }
        #expect(TestSupport.maxRelativeDifference(v, want, floor: 1e-300) < 1e-12)
        // cosh overflows beyond 710 (Double) and 89 (Float); log cosh(d) = |d| - log 2 up to exp(-2|d|).
        let big = try LogCoshLoss<Double>(reduction: .none)(Tensor([1000, -800]), Tensor([0, 0])).scalars
        #expect(big == [1000 - 0.6931471805599453, 800 - 0.6931471805599453])
        let f = try LogCoshLoss<Float>(reduction: .sum)(Tensor([200]), Tensor([0])).scalar!
        #expect(f.isFinite && abs(f - (200 - 0.6931472)) < 1e-4)
        let g = try LogCoshLoss<Float>(reduction: .sum).backward(
            LossInputs(["input": .values(Tensor([200, -200])), "target": .values(Tensor([0, 0]))]), upstream: Tensor(scalar: 1))
        #expect(g["input"]!.scalars == [1, -1])
    }

    @Test func msleRejectsValuesAtOrBelowMinusOne() {
        let i = LossInputs<Double>(["input": .values(Tensor([0.5, -1.5])), "target": .values(Tensor([1, 2]))])
        #expect(throws: LossError.invalidValue(argument: "input", position: 1, value: -1.5, expected: "a value > -1")) {
            try MSLELoss<Double>().forward(i)
        }
        let t = LossInputs<Double>(["input": .values(Tensor([0.5, 1])), "target": .values(Tensor([-1, 2]))])
        #expect(throws: LossError.invalidValue(argument: "target", position: 0, value: -1, expected: "a value > -1")) {
            try MSLELoss<Double>().backward(t, upstream: Tensor(scalar: 1))
        }
    }

    @Test func logCoshShapeMismatchThrows() {
        let i = LossInputs<Double>(["input": .values(Tensor([0.5, 1])), "target": .values(Tensor([1, 2, 3]))])
        #expect(throws: LossError.shapeMismatch(argument: "target", expected: "[2] (the shape of input)", actual: "[3]")) {
            try LogCoshLoss<Double>().forward(i)
        }
    }
}
