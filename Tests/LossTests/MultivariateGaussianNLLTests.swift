import Foundation
import Loss
import Testing
import _TestSupport

@Suite struct MultivariateGaussianNLLTests {
    static let count = 4, size = 3

    /// Random SPD matrices A Aᵀ + 0.5 I, `matrices` of them, flat.
    static func spd(_ matrices: Int, seed: UInt64) -> [Double] {
        let a = TestSupport.normal([matrices, size, size], seed: seed).scalars
        var out = [Double](repeating: 0, count: matrices * size * size)
        for m in 0..<matrices {
            for i in 0..<size {
                for j in 0..<size {
                    var s = i == j ? 0.5 : 0
                    for k in 0..<size { s += a[m * 9 + i * 3 + k] * a[m * 9 + j * 3 + k] }
                    out[m * 9 + i * 3 + j] = s
                }
            }
        }
        return out
    }

    func inputs(shared: Bool) -> LossInputs<Double> {
        let cov = shared
            ? try! Tensor(shape: [Self.size, Self.size], scalars: Self.spd(1, seed: 41))
            : try! Tensor(shape: [Self.count, Self.size, Self.size], scalars: Self.spd(Self.count, seed: 42))
        return LossInputs([
            "input": .values(TestSupport.normal([Self.count, Self.size], seed: 43)),
            "target": .values(TestSupport.normal([Self.count, Self.size], seed: 44)),
            "covariance": .values(cov),
        ])
    }

    @Test(arguments: Reduction.allCases, [false, true])
    func passesGradientCheck(reduction: Reduction, shared: Bool) throws {
        for full in [false, true] {
            let loss = MultivariateGaussianNLLLoss<Double>(full: full, reduction: reduction)
            let report = try GradientCheck.check(loss, inputs: inputs(shared: shared))
            #expect(report.passes(tolerance: 1e-7), "shared \(shared) full \(full): \(report)")
            #expect(report.checked == 2 * Self.count * Self.size + (shared ? 1 : Self.count) * Self.size * Self.size)
        }
    }

    /// One dimension: ½ (log σ² + d² / σ²) [+ ½ log 2π].
    @Test func matchesTheUnivariateFormula() throws {
        let x = try Tensor<Double>(shape: [2, 1], scalars: [1.5, -2]), y = try Tensor<Double>(shape: [2, 1], scalars: [0.5, 1])
        let cov = try Tensor<Double>(shape: [2, 1, 1], scalars: [4, 0.25])
        let i = LossInputs(["input": .values(x), "target": .values(y), "covariance": .values(cov)])
        let got = try MultivariateGaussianNLLLoss<Double>(full: true, reduction: .none).forward(i).scalars
        let want = [(1.0, 4.0), (-3.0, 0.25)].map { d, v in 0.5 * (log(v) + d * d / v) + 0.5 * log(2 * Double.pi) }
        #expect(TestSupport.maxRelativeDifference(got, want) < 1e-14)
    }

    /// A diagonal 2 × 2 covariance is two independent univariate Gaussians; the
    /// covariance gradient is ½ (Σ⁻¹ − z zᵀ).
    @Test func diagonalCovarianceValueAndGradient() throws {
        let i = LossInputs<Double>([
            "input": .values(try Tensor(shape: [1, 2], scalars: [1, 2])),
            "target": .values(try Tensor(shape: [1, 2], scalars: [0, 0])),
            "covariance": .values(try Tensor(shape: [2, 2], scalars: [2, 0, 0, 4])),
        ])
        let loss = MultivariateGaussianNLLLoss<Double>(reduction: .sum)
        let value = try loss.forward(i).scalar!
        #expect(abs(value - 0.5 * (log(8.0) + 1.0 / 2 + 4.0 / 4)) < 1e-14)
        let g = try loss.backward(i, upstream: Tensor(scalar: 1))
        // z = (1/2, 1/2)
        #expect(TestSupport.maxRelativeDifference(g["input"]!.scalars, [0.5, 0.5]) < 1e-14)
        #expect(TestSupport.maxRelativeDifference(g["target"]!.scalars, [-0.5, -0.5]) < 1e-14)
        let want = [0.5 * (0.5 - 0.25), 0.5 * (0 - 0.25), 0.5 * (0 - 0.25), 0.5 * (0.25 - 0.25)]
        #expect(g["covariance"]!.scalars.enumerated().allSatisfy { abs($0.element - want[$0.offset]) < 1e-15 })
    }

    @Test func nonPositiveDefiniteCovarianceNamesTheSample() {
        var good = Self.spd(Self.count, seed: 42)
        // sample 2: positive diagonal, eigenvalues 3 and −1 in the leading 2 × 2 block
        for (k, v) in [1.0, 2, 0, 2, 1, 0, 0, 0, 1].enumerated() { good[2 * 9 + k] = v }
        var i = inputs(shared: false)
        i["covariance"] = .values(try! Tensor(shape: [Self.count, 3, 3], scalars: good))
        #expect(throws: LossError.notPositiveDefinite(argument: "covariance", sample: 2)) {
            try MultivariateGaussianNLLLoss<Double>().forward(i)
        }
        // a negative variance on sample 1
        var negative = Self.spd(Self.count, seed: 42)
        negative[1 * 9 + 4] = -1
        i["covariance"] = .values(try! Tensor(shape: [Self.count, 3, 3], scalars: negative))
        #expect(throws: LossError.notPositiveDefinite(argument: "covariance", sample: 1)) {
            try MultivariateGaussianNLLLoss<Double>().backward(i, upstream: Tensor(scalar: 1))
        }
        // a shared singular covariance is sample 0
        i["covariance"] = .values(try! Tensor(shape: [3, 3], scalars: [1, 1, 0, 1, 1, 0, 0, 0, 1]))
        #expect(throws: LossError.notPositiveDefinite(argument: "covariance", sample: 0)) {
            try MultivariateGaussianNLLLoss<Float>().forward(convert(i))
        }
    }

    func convert(_ i: LossInputs<Double>) -> LossInputs<Float> {
        var out = LossInputs<Float>()
        for name in i.names { if case .values(let t)? = i[name] { out[name] = .values(t.converted()) } }
        return out
    }

    @Test func asymmetricCovarianceIsRejected() {
        var i = inputs(shared: true)
        var s = Self.spd(1, seed: 41)
        let lower = s[2 * 3 + 0]
        s[0 * 3 + 2] = lower + 1
        i["covariance"] = .values(try! Tensor(shape: [3, 3], scalars: s))
        #expect(throws: LossError.invalidValue(
            argument: "covariance", position: 6, value: lower, expected: "a symmetric matrix (the transposed entry is \(lower + 1))")) {
            try MultivariateGaussianNLLLoss<Double>().forward(i)
        }
    }

    @Test func shapeErrors() {
        var i = inputs(shared: false)
        i["covariance"] = .values(try! Tensor<Double>(zeros: [Self.count, 3, 2]))
        #expect(throws: LossError.shapeMismatch(argument: "covariance", expected: "[4, 3, 3] or [3, 3]", actual: "[4, 3, 2]")) {
            try MultivariateGaussianNLLLoss<Double>().forward(i)
        }
        i = inputs(shared: false)
        i["target"] = .values(TestSupport.normal([Self.count, 2], seed: 1))
        #expect(throws: LossError.shapeMismatch(argument: "target", expected: "[4, 3] (the shape of input)", actual: "[4, 2]")) {
            try MultivariateGaussianNLLLoss<Double>().forward(i)
        }
        i = inputs(shared: false)
        i["input"] = .values(TestSupport.normal([Self.size], seed: 1))
        #expect(throws: LossError.shapeMismatch(argument: "input", expected: "(N, D)", actual: "[3]")) {
            try MultivariateGaussianNLLLoss<Double>().forward(i)
        }
    }

    /// Float and Double agree on the same data (the Float path goes through the single-precision LAPACK calls).
    @Test func floatAgreesWithDouble() throws {
        let i = inputs(shared: false)
        let d = try MultivariateGaussianNLLLoss<Double>(reduction: .none).forward(i).scalars
        let f = try MultivariateGaussianNLLLoss<Float>(reduction: .none).forward(convert(i)).scalars.map(Double.init)
        #expect(TestSupport.maxRelativeDifference(f, d) < 1e-4)
    }
}
