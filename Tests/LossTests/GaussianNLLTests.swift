import Loss
import Testing
import _TestSupport

@Suite struct GaussianNLLTests {
    let x = TestSupport.normal([3, 4], scale: 2, seed: 701)
    let y = TestSupport.normal([3, 4], scale: 2, seed: 702)

    /// The four variance layouts PyTorch accepts for a `[3, 4]` input.
    static let varianceShapes: [[Int]] = [[3, 4], [3, 1], [1, 4], [3]]

    @Test(arguments: Reduction.allCases, [false, true])
    func passesGradientCheck(reduction: Reduction, full: Bool) throws {
        for shape in Self.varianceShapes {
            let v = TestSupport.uniform(shape, in: 0.2...3, seed: 703)
            let i = LossInputs<Double>(["input": .values(x), "target": .values(y), "var": .values(v)])
            let report = try GradientCheck.check(GaussianNLLLoss(full: full, reduction: reduction), inputs: i)
            #expect(report.passes(tolerance: 1e-7), "var \(shape): \(report)")
        }
    }

    @Test func sharedVarianceEqualsRepeatedVariance() throws {
        let v = TestSupport.uniform([3], in: 0.2...3, seed: 704)
        let repeated = try Tensor(shape: [3, 4], scalars: v.scalars.flatMap { Array(repeating: $0, count: 4) })
        let loss = GaussianNLLLoss<Double>(reduction: .none)
        let up = TestSupport.normal([3, 4], seed: 705)
        let full = LossInputs<Double>(["input": .values(x), "target": .values(y), "var": .values(repeated)])
        let gFull = try loss.backward(full, upstream: up)
        for shape in [[3], [3, 1]] {
            let shared = LossInputs<Double>(["input": .values(x), "target": .values(y), "var": .values(try v.reshaped(shape))])
            #expect(try loss.forward(shared) == loss.forward(full))
            let g = try loss.backward(shared, upstream: up)
            #expect(g["var"]!.shape == shape)
            let summed = (0..<3).map { r in (0..<4).map { gFull["var"]![flat: 4 * r + $0] }.reduce(0, +) }
            #expect(TestSupport.maxRelativeDifference(g["var"]!.scalars, summed) < 1e-12)
            #expect(g["input"]! == gFull["input"]!)
        }
    }

    /// A var with one dimension of size 1 anywhere (PyTorch accepts any one such
    /// dimension) gives what the repeated variance gives, its gradient summed along it.
    @Test func varianceSharedAlongAnyOneDimension() throws {
        let x3 = TestSupport.normal([2, 4, 3], seed: 706), y3 = TestSupport.normal([2, 4, 3], seed: 707)
        let up = TestSupport.normal([2, 4, 3], seed: 708)
        let loss = GaussianNLLLoss<Double>(reduction: .none)
        for (axis, varShape) in [(0, [1, 4, 3]), (1, [2, 1, 3]), (2, [2, 4, 1])] {
            let v = TestSupport.uniform(varShape, in: 0.2...3, seed: 709)
            // The repeated variance: element (a, b, c) takes var's entry with the axis' coordinate 0.
            var full = [Double](), owner = [Int]()
            for a in 0..<2 { for b in 0..<4 { for c in 0..<3 {
                var coordinate = [a, b, c]
                coordinate[axis] = 0
                let k = (coordinate[0] * varShape[1] + coordinate[1]) * varShape[2] + coordinate[2]
                full.append(v[flat: k])
                owner.append(k)
            } } }
            let shared = LossInputs<Double>(["input": .values(x3), "target": .values(y3), "var": .values(v)])
            let repeated = LossInputs<Double>(["input": .values(x3), "target": .values(y3), "var": .values(try Tensor(shape: [2, 4, 3], scalars: full))])
            #expect(try loss.forward(shared) == loss.forward(repeated), "var \(varShape)")
            let g = try loss.backward(shared, upstream: up), gFull = try loss.backward(repeated, upstream: up)
            #expect(g["var"]!.shape == varShape)
            var summed = [Double](repeating: 0, count: v.count)
            for (i, k) in owner.enumerated() { summed[k] += gFull["var"]![flat: i] }
            #expect(TestSupport.maxRelativeDifference(g["var"]!.scalars, summed) < 1e-12, "var \(varShape)")
            let report = try GradientCheck.check(GaussianNLLLoss(reduction: .sum), inputs: shared)
            #expect(report.passes(tolerance: 1e-7), "var \(varShape): \(report)")
        }
        // Two dimensions of size 1 is not one of PyTorch's layouts.
        let two = LossInputs<Double>(["input": .values(x3), "target": .values(y3), "var": .values(try Tensor<Double>(shape: [1, 1, 3], scalars: [1, 1, 1]))])
        #expect(throws: LossError.self) { try loss.forward(two) }
    }

    @Test func handComputedValue() throws {
        // d = 2, v = 4: ½ (log 4 + 1); full adds ½ log 2π
        let args = (input: Tensor<Double>([3]), target: Tensor<Double>([1]), variance: Tensor<Double>([4]))
        let v = try GaussianNLLLoss<Double>()(args.input, args.target, variance: args.variance).scalar!
        #expect(abs(v - 0.5 * (Double.log(4) + 1)) < 1e-15)
        let f = try GaussianNLLLoss<Double>(full: true)(args.input, args.target, variance: args.variance).scalar!
        #expect(abs(f - v - 0.5 * Double.log(2 * Double.pi)) < 1e-15)
    }

    @Test func varianceBelowEpsIsClampedButKeepsItsGradientAsPyTorch() throws {
        // PyTorch clamps a copy of var under no_grad: the value uses eps, and the
        // var gradient is the formula's at eps (not the zero of a differentiated max).
        let eps = 1e-3, d = 0.05
        let i = LossInputs<Double>(["input": .values(Tensor([d, d])), "target": .values(Tensor([0, 0])), "var": .values(Tensor([0, 1e-4]))])
        let loss = GaussianNLLLoss<Double>(eps: eps, reduction: .none)
        let want = 0.5 * (Double.log(eps) + d * d / eps)
        #expect(try loss.forward(i).scalars.allSatisfy { abs($0 - want) < 1e-14 * abs(want) })
        let g = try loss.backward(i, upstream: Tensor([1, 1]))
        let dv = 0.5 * (1 / eps - d * d / (eps * eps))
        #expect(g["var"]!.scalars.allSatisfy { abs($0 - dv) < 1e-12 * abs(dv) })
        #expect(g["input"]!.scalars.allSatisfy { abs($0 - d / eps) < 1e-12 })
    }

    @Test func negativeVarianceThrows() {
        let i = LossInputs<Double>(["input": .values(x), "target": .values(y), "var": .values(Tensor([1, 0.5, -0.25]))])
        #expect(throws: LossError.invalidValue(argument: "var", position: 2, value: -0.25, expected: "a non-negative variance")) {
            try GaussianNLLLoss<Double>().forward(i)
        }
    }

    @Test func badShapesAndEpsThrow() {
        let i = LossInputs<Double>(["input": .values(x), "target": .values(y), "var": .values(Tensor([1, 1, 1, 1]))])
        #expect(throws: LossError.shapeMismatch(
            argument: "var", expected: "[3, 4], or with one dimension of size 1, or [3] (from the shape of input)",
            actual: "[4]")) {
            try GaussianNLLLoss<Double>().backward(i, upstream: Tensor(scalar: 1))
        }
        // A target that does not broadcast with the input ((3) against (3, 4)).
        let t = LossInputs<Double>(["input": .values(x), "target": .values(Tensor([1, 2, 3])), "var": .values(x.map { abs($0) })])
        #expect(throws: LossError.shapeMismatch(
            argument: "target", expected: "a shape that broadcasts with input [3, 4]", actual: "[3]")) {
            try GaussianNLLLoss<Double>().forward(t)
        }
        let ok = LossInputs<Double>(["input": .values(x), "target": .values(y), "var": .values(x.map { abs($0) })])
        #expect(throws: LossError.invalidOption(name: "eps", value: "-1e-06", expected: "a finite number >= 0")) {
            try GaussianNLLLoss<Double>(eps: -1e-6).forward(ok)
        }
    }

    /// Input and target broadcast against each other, as PyTorch broadcasts them without a
    /// warning (var placed by PyTorch's rules: a var of the input's shape without its last
    /// dimension is unsqueezed there): the loss of expanded copies, and each gradient summed
    /// over the dimensions its tensor was broadcast along.
    @Test(arguments: Reduction.allCases)
    func inputAndTargetBroadcast(reduction: Reduction) throws {
        let cases: [(x: [Int], y: [Int], v: [Int], view: [Int], out: [Int])] = [
            ([3, 4], [4], [3, 4], [3, 4], [3, 4]), ([4], [3, 4], [4], [4], [3, 4]), ([3, 1], [1, 4], [3, 1], [3, 1], [3, 4]),
            ([3, 4], [4], [3], [3, 1], [3, 4]), ([4], [3, 4], [], [1], [3, 4]), ([2, 3, 4], [3, 4], [2, 1, 4], [2, 1, 4], [2, 3, 4]),
        ]
        for (k, c) in cases.enumerated() {
            let seed = UInt64(710 + 10 * k)
            let inputs = LossInputs<Double>([
                "input": .values(TestSupport.normal(c.x, seed: seed)), "target": .values(TestSupport.normal(c.y, seed: seed + 1)),
                "var": .values(TestSupport.uniform(c.v, in: 0.2...2, seed: seed + 2)),
            ])
            let problems = try TestSupport.broadcastProblems(
                GaussianNLLLoss<Double>(full: true, reduction: reduction), inputs,
                ["input": (nil, c.out), "target": (nil, c.out), "var": (c.view, c.out)], seed: seed + 3)
            #expect(problems.isEmpty, "\(c): \(problems)")
            let report = try GradientCheck.check(GaussianNLLLoss<Double>(reduction: reduction), inputs: inputs)
            #expect(report.passes(tolerance: 1e-7), "\(c): \(report)")
        }
    }

    /// eps = 0 is accepted, as PyTorch accepts it: positive variances give the unclamped
    /// formula, a zero variance the formula's non-finite loss (no error).
    @Test func zeroEpsIsAccepted() throws {
        let x = Tensor<Double>([1, 2, 3]), y = Tensor<Double>([1, 1, 2.5]), v = Tensor<Double>([0.5, 0.25, 2])
        let got = try GaussianNLLLoss<Double>(eps: 0, reduction: .none)
            .forward(LossInputs(["input": .values(x), "target": .values(y), "var": .values(v)])).scalars
        let want = (0..<3).map { i in 0.5 * (Double.log(v[flat: i]) + (x[flat: i] - y[flat: i]) * (x[flat: i] - y[flat: i]) / v[flat: i]) }
        #expect(TestSupport.maxRelativeDifference(got, want) < 1e-15)
        let zero = try GaussianNLLLoss<Double>(eps: 0, reduction: .none)
            .forward(LossInputs(["input": .values(x), "target": .values(y), "var": .values(Tensor([0, 0.25, 0]))])).scalars
        #expect(!zero[0].isFinite && zero[1].isFinite && !zero[2].isFinite)
    }
}
