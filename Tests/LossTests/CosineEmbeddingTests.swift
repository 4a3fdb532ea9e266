import Loss
import Testing
import _TestSupport

@Suite struct CosineEmbeddingTests {
    static let rows = 6, width = 5
    let a = TestSupport.normal([rows, width], seed: 601)
    /// Similar pairs (y = 1) are perturbed copies, so their loss stays small next to
    /// its gradient and the finite differences stay accurate; dissimilar pairs are random.
    let b: Tensor<Double>
    let y = Tensor<Double>([1, -1, 1, -1, 1, -1])

    init() {
        let noise = TestSupport.normal([Self.rows, Self.width], seed: 602)
        let x = a, t = y
        b = try! Tensor(shape: [Self.rows, Self.width], scalars: (0..<(Self.rows * Self.width)).map { k in
            t[flat: k / Self.width] == 1 ? x[flat: k] + 0.4 * noise[flat: k] : noise[flat: k]
        })
    }
    var inputs: LossInputs<Double> { LossInputs(["input1": .values(a), "input2": .values(b), "target": .values(y)]) }

    func cosines() -> [Double] {
        (0..<Self.rows).map { n in
            let w = Self.width
            let u = (0..<w).map { a[flat: n * w + $0] }, v = (0..<w).map { b[flat: n * w + $0] }
            let dot = zip(u, v).map(*).reduce(0, +)
            return dot / (u.map { $0 * $0 }.reduce(0, +) * v.map { $0 * $0 }.reduce(0, +)).squareRoot()
        }
    }

    @Test func values() throws {
        // cos((1, 0), (1, 1)) = 1/√2
        let u = Tensor<Double>([1, 0]), v = Tensor<Double>([1, 1])
        let similar = try CosineEmbeddingLoss<Double>()(u, v, target: Tensor(scalar: 1))
        #expect(similar.shape == [])
        #expect(abs(similar.scalar! - (1 - 0.5.squareRoot())) < 1e-12)
        let dissimilar = try CosineEmbeddingLoss<Double>(margin: 0.5)(u, v, target: Tensor(scalar: -1))
        #expect(abs(dissimilar.scalar! - (0.5.squareRoot() - 0.5)) < 1e-12)
        let below = try CosineEmbeddingLoss<Double>(margin: 0.8)(u, v, target: Tensor(scalar: -1))
        #expect(below.scalar == 0)
    }

    @Test func zeroVectorGivesFiniteGradient() throws {
        // ε on the squared norms: cos = 0 and ∂/∂a = -b / sqrt(ε (|b|² + ε)), finite. PyTorch's
        // ε is 1e-12 as a Float (9.999999960041972e-13), in Double too.
        let i = LossInputs<Double>([
            "input1": .values(try Tensor(zeros: [1, 3])), "input2": .values(try Tensor(shape: [1, 3], scalars: [3, 0, 4])),
            "target": .values(Tensor([1])),
        ])
        let loss = CosineEmbeddingLoss<Double>(reduction: .sum)
        #expect(try loss.forward(i).scalar == 1)
        let g = try loss.backward(i, upstream: Tensor(scalar: 1))
        let eps = Double(Float(1e-12))
        let expected = -3 / (eps * (25 + eps)).squareRoot()
        #expect(abs(g["input1"]![flat: 0] - expected) < 1e-9 * abs(expected))
        #expect(g["input2"]!.scalars.allSatisfy { $0 == 0 })
    }

    @Test(arguments: Reduction.allCases, [0.2, -0.3])
    func gradientCheck(reduction: Reduction, margin: Double) throws {
        let negatives = cosines().enumerated().filter { y[flat: $0.offset] == -1 }.map { $0.element - margin }
        try #require(negatives.allSatisfy { abs($0) > 1e-3 } && negatives.contains { $0 > 0 })
        let loss = CosineEmbeddingLoss<Double>(margin: margin, reduction: reduction)
        let report = try GradientCheck.check(loss, inputs: inputs)
        #expect(report.passes(tolerance: 1e-7), "\(report)")
        let one = LossInputs<Double>([
            "input1": .values(Tensor([0.5, -1, 2])), "input2": .values(Tensor([1, 0.3, 1.2])), "target": .values(Tensor(scalar: -1)),
        ])
        let report1 = try GradientCheck.check(loss, inputs: one)
        #expect(report1.passes(tolerance: 1e-7), "1-d: \(report1)")
    }

    @Test func badInputsThrowTypedErrors() {
        #expect(throws: LossError.invalidValue(argument: "target", position: 2, value: 0, expected: "1 or -1")) {
            try CosineEmbeddingLoss<Double>()(a, b, target: Tensor([1, -1, 0, 1, 1, 1]))
        }
        #expect(throws: LossError.shapeMismatch(argument: "input2", expected: "rank 2 with 5 entries in the last dimension (as input1)", actual: "[6, 4]")) {
            try CosineEmbeddingLoss<Double>()(a, try Tensor(zeros: [6, 4]), target: y)
        }
        #expect(throws: LossError.shapeMismatch(argument: "target", expected: "a 1-d target (one label per row of input1)", actual: "[]")) {
            try CosineEmbeddingLoss<Double>()(a, b, target: Tensor(scalar: 1))
        }
        #expect(throws: LossError.shapeMismatch(argument: "input1", expected: "(N, D) or (D)", actual: "[2, 3, 5]")) {
            try CosineEmbeddingLoss<Double>()(try a.reshaped([2, 3, 5]), try b.reshaped([2, 3, 5]), target: y)
        }
        #expect(throws: LossError.invalidOption(name: "margin", value: "inf", expected: "a finite number")) {
            try CosineEmbeddingLoss<Double>(margin: .infinity).forward(inputs)
        }
    }

    /// Rows broadcast, as in PyTorch: an input1 (1, D) against an input2 (N, D), and a
    /// target of one label for every row; each gradient summed over the rows it was
    /// broadcast along.
    @Test(arguments: Reduction.allCases)
    func rowsBroadcast(reduction: Reduction) throws {
        let labels = Tensor<Double>([1, -1, 1])
        let cases: [([Int], [Int], Tensor<Double>, [Int])] = [
            ([3, 4], [1, 4], labels, [1]), ([1, 4], [3, 4], labels, [1]), ([3, 4], [3, 4], Tensor([-1]), [1]),
        ]
        for (k, (s1, s2, y, _)) in cases.enumerated() {
            let seed = UInt64(960 + 10 * k)
            let inputs = LossInputs<Double>([
                "input1": .values(TestSupport.normal(s1, seed: seed)), "input2": .values(TestSupport.normal(s2, seed: seed + 1)),
                "target": .values(y),
            ])
            let problems = try TestSupport.broadcastProblems(
                CosineEmbeddingLoss<Double>(margin: -0.2, reduction: reduction), inputs,
                ["input1": (nil, [3, 4]), "input2": (nil, [3, 4]), "target": (nil, [3])], seed: seed + 2)
            #expect(problems.isEmpty, "\(s1) \(s2) \(y.shape): \(problems)")
        }
    }
}
