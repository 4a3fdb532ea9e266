import Foundation
@testable import Loss
import Kernels
import Testing
import _TestSupport

/// One configuration of the options, for the equality tests.
struct LinearCEVariant: CustomStringConvertible, Sendable {
    var name: String
    var classWeight = false
    var ignore = false
    var smoothing = 0.0
    var zLoss = 0.0
    var softcap: Double? = nil
    var bias = false

    var description: String { name }

    static let all: [LinearCEVariant] = [
        LinearCEVariant(name: "plain"),
        LinearCEVariant(name: "bias", bias: true),
        LinearCEVariant(name: "ignore_index", ignore: true),
        LinearCEVariant(name: "class weight", classWeight: true),
        LinearCEVariant(name: "weight + ignore", classWeight: true, ignore: true),
        LinearCEVariant(name: "smoothing", smoothing: 0.15),
        LinearCEVariant(name: "weight + smoothing + ignore", classWeight: true, ignore: true, smoothing: 0.3),
        LinearCEVariant(name: "z-loss", zLoss: 1e-2),
        LinearCEVariant(name: "z-loss + weight + ignore", classWeight: true, ignore: true, zLoss: 3e-2),
        LinearCEVariant(name: "softcap", softcap: 2.5),
        LinearCEVariant(name: "softcap + bias + z-loss", zLoss: 1e-2, softcap: 1.5, bias: true),
        LinearCEVariant(
            name: "everything", classWeight: true, ignore: true, smoothing: 0.2, zLoss: 2e-2, softcap: 3, bias: true),
    ]
}

/// The unfused reference, in Double: logits = X Wᵀ + b materialized, soft cap,
/// `CrossEntropyLoss`, z-loss added by hand, gradients chained through the soft
/// cap and multiplied back through the linear map.
struct UnfusedLinearCE {
    var value: [Double]
    var gx: [Double], gw: [Double], gb: [Double]

    init(
        x: Tensor<Double>, w: Tensor<Double>, b: Tensor<Double>?, t: Tensor<Int>, variant: LinearCEVariant,
        classWeight: Tensor<Double>?, reduction: Reduction, upstream: Tensor<Double>
    ) throws {
        let n = x.shape[0], d = x.shape[1], v = w.shape[0]
        let xs = x.scalars, ws = w.scalars, ts = t.scalars
        // logits and soft cap
        var y = [Double](repeating: 0, count: n * v)
        for i in 0..<n {
            for c in 0..<v {
                var s = 0.0
                for k in 0..<d { s += xs[i * d + k] * ws[c * d + k] }
                if let b { s += b[flat: c] }
                if let cap = variant.softcap { s = cap * Foundation.tanh(s / cap) }
                y[i * v + c] = s
            }
        }
        let ce = CrossEntropyLoss<Double>(
            weight: classWeight, ignoreIndex: -100, labelSmoothing: variant.smoothing, reduction: reduction)
        let inputs = LossInputs<Double>(["input": .values(try Tensor(shape: [n, v], scalars: y)), "target": .indices(t)])
        value = try ce.forward(inputs).scalars
        var gy = try ce.backward(inputs, upstream: upstream)["input"]!.scalars
        // z-loss: z lse² per kept row, same mean denominator as the CE part.
        if variant.zLoss != 0 {
            var denominator = 0.0
            for i in 0..<n where ts[i] != -100 { denominator += classWeight?[flat: ts[i]] ?? 1 }
            var total = 0.0
            for i in 0..<n where ts[i] != -100 {
                let row = y[(i * v)..<((i + 1) * v)]
                let m = row.max()!
                let s = row.reduce(0) { $0 + Foundation.exp($1 - m) }
                let lse = m + Foundation.log(s)
                let zl = variant.zLoss * lse * lse
                let g: Double
                switch reduction {
                case .none:
                    value[i] += zl
                    g = upstream[flat: i]
                case .sum:
                    total += zl
                    g = upstream[flat: 0]
                case .mean:
                    total += zl
                    g = upstream[flat: 0] / denominator
                }
                for c in 0..<v { gy[i * v + c] += g * 2 * variant.zLoss * lse * Foundation.exp(y[i * v + c] - lse) }
            }
            if reduction == .sum { value[0] += total }
            if reduction == .mean { value[0] += total / denominator }
        }
        if let cap = variant.softcap {
            for k in 0..<gy.count { gy[k] *= 1 - (y[k] / cap) * (y[k] / cap) }
        }
        gx = [Double](repeating: 0, count: n * d)
        gw = [Double](repeating: 0, count: v * d)
        gb = [Double](repeating: 0, count: v)
        for i in 0..<n {
            for c in 0..<v {
                let g = gy[i * v + c]
                gb[c] += g
                for k in 0..<d {
                    gx[i * d + k] += g * ws[c * d + k]
                    gw[c * d + k] += g * xs[i * d + k]
                }
            }
        }
    }
}

@Suite struct LinearCrossEntropyTests {
    struct Problem {
        var x: Tensor<Double>, w: Tensor<Double>, b: Tensor<Double>, t: Tensor<Int>, classWeight: Tensor<Double>
    }

    static func problem(n: Int, d: Int, v: Int, ignore: Bool, seed: UInt64) -> Problem {
        var t = TestSupport.classIndices([n], classes: v, seed: seed + 3).scalars
        if ignore { for i in stride(from: 1, to: n, by: 3) { t[i] = -100 } }
        return Problem(
            x: TestSupport.normal([n, d], scale: 1, seed: seed),
            w: TestSupport.normal([v, d], scale: 0.7, seed: seed + 1),
            b: TestSupport.normal([v], scale: 0.5, seed: seed + 2),
            t: try! Tensor(shape: [n], scalars: t),
            classWeight: TestSupport.uniform([v], in: 0.2...2, seed: seed + 4))
    }

    static func loss<T: KernelScalar>(
        _ variant: LinearCEVariant, _ p: Problem, _ reduction: Reduction, chunkRows: Int?, threads: Int = 1,
        as _: T.Type = T.self
    ) -> LinearCrossEntropyLoss<T> {
        LinearCrossEntropyLoss<T>(
            weight: variant.classWeight ? p.classWeight.converted(to: T.self) : nil,
            labelSmoothing: T(variant.smoothing), zLoss: T(variant.zLoss), softcap: variant.softcap.map { T($0) },
            reduction: reduction, chunkRows: chunkRows, threads: threads)
    }

    static func upstream(_ reduction: Reduction, n: Int) -> Tensor<Double> {
        reduction == .none ? TestSupport.normal([n], seed: 99) : Tensor(scalar: 0.75)
    }

    /// Fused (Double, every chunk size) against the unfused reference.
    @Test(arguments: LinearCEVariant.all)
    func matchesUnfusedPathInDouble(variant: LinearCEVariant) throws {
        let n = 10, d = 6, v = 37
        let p = Self.problem(n: n, d: d, v: v, ignore: variant.ignore, seed: 7)
        for reduction in Reduction.allCases {
            let u = Self.upstream(reduction, n: n)
            let reference = try UnfusedLinearCE(
                x: p.x, w: p.w, b: variant.bias ? p.b : nil, t: p.t, variant: variant,
                classWeight: variant.classWeight ? p.classWeight : nil, reduction: reduction, upstream: u)
            for chunk in [1, 3, 4, 7, 10, 64, nil] as [Int?] {
                let loss = Self.loss(variant, p, reduction, chunkRows: chunk, as: Double.self)
                let r = try loss.valueAndGradients(
                    p.x, weight: p.w, bias: variant.bias ? p.b : nil, p.t, upstream: u)
                let what = "\(variant) \(reduction) chunk \(chunk.map(String.init) ?? "budget")"
                // Relative error per entry, entries far below the tensor's largest (cancellation) judged against 1e-3 of it.
                func close(_ a: Tensor<Double>, _ b: [Double]) -> Bool {
                    let floor = max(1e-300, 1e-3 * (b.map(abs).max() ?? 0))
                    return TestSupport.maxRelativeDifference(a.scalars, b, floor: floor) < 1e-11
                }
                #expect(close(r.value, reference.value), "\(what) value")
                #expect(close(r.inputGradient, reference.gx), "\(what) dX")
                #expect(close(r.weightGradient, reference.gw), "\(what) dW")
                if variant.bias {
                    #expect(close(r.biasGradient!, reference.gb), "\(what) db")
                } else {
                    #expect(r.biasGradient == nil)
                }
                #expect(r.value.shape == (reduction == .none ? [n] : []))
                // The forward alone gives the same value.
                let forward = try loss(p.x, weight: p.w, bias: variant.bias ? p.b : nil, p.t)
                #expect(forward.scalars == r.value.scalars, "\(what) forward alone")
            }
        }
    }

    /// Float (the vectorized kernel: full vectors and tails) against the Double reference.
    @Test(arguments: LinearCEVariant.all)
    func floatMatchesUnfusedPath(variant: LinearCEVariant) throws {
        let n = 9, d = 8, v = 53
        let p = Self.problem(n: n, d: d, v: v, ignore: variant.ignore, seed: 17)
        for reduction in Reduction.allCases {
            let u = Self.upstream(reduction, n: n)
            let reference = try UnfusedLinearCE(
                x: p.x, w: p.w, b: variant.bias ? p.b : nil, t: p.t, variant: variant,
                classWeight: variant.classWeight ? p.classWeight : nil, reduction: reduction, upstream: u)
            for chunk in [2, 9] {
                let loss = Self.loss(variant, p, reduction, chunkRows: chunk, as: Float.self)
                let r = try loss.valueAndGradients(
                    p.x.converted(), weight: p.w.converted(), bias: variant.bias ? p.b.converted() : nil,
                    p.t, upstream: u.converted())
                let what = "\(variant) \(reduction) chunk \(chunk)"
                func close(_ a: Tensor<Float>, _ b: [Double]) -> Bool {
                    let scale = b.map(abs).max() ?? 1
                    return TestSupport.maxRelativeDifference(a.scalars.map(Double.init), b, floor: max(scale, 1e-6) * 1e-2) < 2e-4
                }
                #expect(close(r.value, reference.value), "\(what) value \(r.value) vs \(reference.value)")
                #expect(close(r.inputGradient, reference.gx), "\(what) dX")
                #expect(close(r.weightGradient, reference.gw), "\(what) dW")
                if variant.bias { #expect(close(r.biasGradient!, reference.gb), "\(what) db") }
            }
        }
    }

    @Test(arguments: Reduction.allCases)
    func gradientCheckInputWeightBias(reduction: Reduction) throws {
        let p = Self.problem(n: 5, d: 3, v: 7, ignore: true, seed: 31)
        for variant in LinearCEVariant.all {
            var inputs = LossInputs<Double>(["input": .values(p.x), "linear_weight": .values(p.w), "target": .indices(p.t)])
            if variant.bias { inputs["linear_bias"] = .values(p.b) }
            let loss = Self.loss(variant, p, reduction, chunkRows: 2, as: Double.self)
            let report = try GradientCheck.check(loss, inputs: inputs)
            #expect(report.passes(tolerance: 1e-7), "\(variant) \(reduction): \(report)")
            #expect(report.checked == p.x.count + p.w.count + (variant.bias ? p.b.count : 0))
        }
    }

    @Test func threadsDoNotChangeResultsAndLossesDoNotDependOnChunks() throws {
        // Float results compared bit for bit: hold the instruction set steady (see TestSupport).
        TestSupport.instructionSetLock.lock()
        defer { TestSupport.instructionSetLock.unlock() }
        let variant = LinearCEVariant.all.last!
        let p = Self.problem(n: 40, d: 16, v: 3000, ignore: true, seed: 41)
        let x: Tensor<Float> = p.x.converted(), w: Tensor<Float> = p.w.converted(), b: Tensor<Float> = p.b.converted()
        let one = try Self.loss(variant, p, .none, chunkRows: 16, threads: 1, as: Float.self)
            .valueAndGradients(x, weight: w, bias: b, p.t)
        let four = try Self.loss(variant, p, .none, chunkRows: 16, threads: 4, as: Float.self)
            .valueAndGradients(x, weight: w, bias: b, p.t)
        #expect(one.value == four.value)
        #expect(one.inputGradient == four.inputGradient)
        #expect(one.weightGradient == four.weightGradient)
        #expect(one.biasGradient == four.biasGradient)
    }

    @Test func leadingDimensionsAreFlattened() throws {
        let p = Self.problem(n: 6, d: 4, v: 9, ignore: false, seed: 51)
        let loss = LinearCrossEntropyLoss<Double>(reduction: .none)
        let flat = try loss.valueAndGradients(p.x, weight: p.w, p.t)
        let shaped = try loss.valueAndGradients(
            try p.x.reshaped([2, 3, 4]), weight: p.w, try p.t.reshaped([2, 3]))
        #expect(shaped.value.shape == [2, 3])
        #expect(shaped.value.scalars == flat.value.scalars)
        #expect(shaped.inputGradient.shape == [2, 3, 4])
        #expect(shaped.weightGradient == flat.weightGradient)
    }

    @Test func emptyBatchAndAllIgnored() throws {
        let w = TestSupport.normal([5, 3], seed: 61)
        let empty = try LinearCrossEntropyLoss<Double>(reduction: .sum)
            .valueAndGradients(try Tensor(zeros: [0, 3]), weight: w, bias: Tensor(zeros: [5]), Tensor([]))
        #expect(empty.value.scalar == 0)
        #expect(empty.weightGradient.scalars.allSatisfy { $0 == 0 })
        #expect(empty.biasGradient!.scalars.allSatisfy { $0 == 0 })
        let ignored = try LinearCrossEntropyLoss<Double>()
            .valueAndGradients(TestSupport.normal([2, 3], seed: 62), weight: w, Tensor([-100, -100]))
        #expect(ignored.value.scalar!.isNaN)
    }

    @Test func badInputThrowsTypedErrors() throws {
        let p = Self.problem(n: 4, d: 3, v: 5, ignore: false, seed: 71)
        let loss = LinearCrossEntropyLoss<Double>()
        #expect(throws: LossError.self) {  // weight's D differs from the input's
            try loss(p.x, weight: TestSupport.normal([5, 4], seed: 1), p.t)
        }
        #expect(throws: LossError.self) {  // weight not 2-d
            try loss(p.x, weight: TestSupport.normal([15], seed: 1), p.t)
        }
        #expect(throws: LossError.self) {  // bias of the wrong length
            try loss(p.x, weight: p.w, bias: Tensor([1, 2]), p.t)
        }
        #expect(throws: LossError.self) {  // one target too many
            try loss(p.x, weight: p.w, Tensor([0, 1, 2, 3, 4]))
        }
        #expect(throws: LossError.self) {  // class weights of the wrong length
            try LinearCrossEntropyLoss<Double>(weight: Tensor([1, 2])).callAsFunction(p.x, weight: p.w, p.t)
        }
        for reduction in Reduction.allCases {
            #expect(throws: LossError.indexOutOfRange(argument: "target", position: 2, index: 5, validRange: "[0, 5)")) {
                try LinearCrossEntropyLoss<Double>(reduction: reduction)
                    .valueAndGradients(p.x, weight: p.w, Tensor([0, 1, 5, -100]))
            }
            #expect(throws: LossError.self) {
                try LinearCrossEntropyLoss<Double>(reduction: reduction)
                    .callAsFunction(p.x, weight: p.w, Tensor([0, -1, 2, 3]))
            }
        }
        for cap in [0.0, -1.0, .infinity, .nan] {
            #expect(throws: LossError.self, "softcap \(cap)") {
                try LinearCrossEntropyLoss<Double>(softcap: cap).callAsFunction(p.x, weight: p.w, p.t)
            }
        }
        #expect(throws: LossError.invalidOption(
            name: "memoryBudget", value: "40 bytes",
            expected: "at least 49 bytes (one row of 5 logits of Double, plus 1/32 for BLAS)"))
        {
            try LinearCrossEntropyLoss<Double>(memoryBudget: 40).callAsFunction(p.x, weight: p.w, p.t)
        }
        #expect(throws: LossError.self) {
            try LinearCrossEntropyLoss<Double>(chunkRows: 0).callAsFunction(p.x, weight: p.w, p.t)
        }
        #expect(throws: LossError.self) {
            try LinearCrossEntropyLoss<Double>(labelSmoothing: 1.5).callAsFunction(p.x, weight: p.w, p.t)
        }
        #expect(throws: LossError.self) {
            try LinearCrossEntropyLoss<Double>(zLoss: -1).callAsFunction(p.x, weight: p.w, p.t)
        }
        #expect(throws: LossError.self) {
            try LinearCrossEntropyLoss<Double>(threads: 0).callAsFunction(p.x, weight: p.w, p.t)
        }
        #expect(throws: LossError.self) {  // upstream of the wrong shape for `none`
            try LinearCrossEntropyLoss<Double>(reduction: .none)
                .valueAndGradients(p.x, weight: p.w, p.t, upstream: Tensor([1, 2]))
        }
        #expect(throws: LossError.self) {  // a weight without classes
            try loss(p.x, weight: try Tensor(zeros: [0, 3]), p.t)
        }
    }

    /// The fused head forms each row's loss from y - m, as cross-entropy does: a bias that
    /// puts every logit near 1e10 (the weight is 0, so the logits are the bias exactly) keeps
    /// the loss to working precision, against the closed form over the exact differences.
    @Test func largeOffsetInTheLogitsKeepsTheLoss() throws {
        let spread: [Double] = [0.75, -0.5, 1.5, 0.0, -2.0]
        let bias = Tensor(spread.map { 1e10 + $0 }), targets = [0, 2, 4]
        let input = TestSupport.normal([3, 2], seed: 91), weight = try Tensor<Double>(zeros: [5, 2])
        for smoothing in [0.0, 0.1] {
            let head = LinearCrossEntropyLoss<Double>(labelSmoothing: smoothing, reduction: .none)
            let got = try head(input, weight, target: Tensor(targets), linearBias: bias).scalars
            let d = bias.scalars.map { $0 - bias.scalars[0] }, m = d.max()!
            let lse = m + Double.log(d.reduce(0) { $0 + Double.exp($1 - m) })
            for (r, t) in targets.enumerated() {
                let want = (1 - smoothing) * (lse - d[t]) + smoothing / 5 * d.reduce(0) { $0 + (lse - $1) }
                #expect(abs(got[r] - want) <= 1e-12 * want, "smoothing \(smoothing) row \(r): \(got[r]) vs \(want)")
            }
        }
        // In Float, 1e17 is exact and ties give log 5.
        let tied = try LinearCrossEntropyLoss<Float>(reduction: .none)(
            Tensor<Float>(zeros: [2, 3]), Tensor<Float>(zeros: [5, 3]), target: Tensor([0, 4]),
            linearBias: Tensor([Float](repeating: 1e17, count: 5)))
        #expect(tied.scalars.allSatisfy { abs(Double($0) - Double.log(5)) <= 1e-6 }, "\(tied)")
    }

    /// A vocabulary whose one row of logits exceeds any budget is an error at once: the
    /// smallest budget is computed, not searched for byte by byte, and no size overflows.
    @Test func vocabularyBeyondTheBudgetIsAnErrorAtOnce() throws {
        for vocabulary in [1 << 40, 1 << 61, Int.max] {
            #expect(throws: LossError.self) {
                try linearCrossEntropyChunkRows(tokens: 8, vocabulary: vocabulary, budgetBytes: 64 << 20, scalar: Double.self)
            }
        }
        #expect(linearCrossEntropyWorkspaceCount(chunkRows: 1 << 40, vocabulary: 1 << 40) == Int.max)
        // With D = 0 the N × V logits hold no data: bounded as a shape without elements is.
        let input = try Tensor<Double>(shape: [1 << 12, 0], scalars: [])
        let weight = try Tensor<Double>(shape: [1 << 13, 0], scalars: [])
        let targets = Tensor([Int](repeating: 0, count: 1 << 12))
        #expect(throws: LossError.self) { try LinearCrossEntropyLoss<Double>(chunkRows: 1)(input, weight, target: targets) }
    }

    /// A small budget gives small chunks with identical per-row losses.
    @Test func budgetSetsTheChunkSize() throws {
        #expect(try linearCrossEntropyChunkRows(tokens: 8192, vocabulary: 128_256, budgetBytes: 64 << 20, scalar: Float.self) == 125)
        #expect(try linearCrossEntropyChunkRows(tokens: 1024, vocabulary: 32000, budgetBytes: 64 << 20, scalar: Float.self) == 342)  // 508 fit: three chunks of 342, not 508 + 508 + 8
        #expect(try linearCrossEntropyChunkRows(tokens: 1000, vocabulary: 32000, budgetBytes: 256 << 20, scalar: Float.self) == 1000)
        #expect(try linearCrossEntropyChunkRows(tokens: 10, vocabulary: 100, budgetBytes: 64 << 20, scalar: Float.self) == 10)
        let p = Self.problem(n: 12, d: 5, v: 40, ignore: true, seed: 81)
        let small = try LinearCrossEntropyLoss<Double>(reduction: .none, memoryBudget: 4 * 41 * 8)
            .valueAndGradients(p.x, weight: p.w, p.t)
        let large = try LinearCrossEntropyLoss<Double>(reduction: .none)
            .valueAndGradients(p.x, weight: p.w, p.t)
        #expect(TestSupport.maxRelativeDifference(small.value.scalars, large.value.scalars) < 1e-14)
        #expect(TestSupport.maxRelativeDifference(small.weightGradient.scalars, large.weightGradient.scalars, floor: 1e-9) < 1e-12)
    }
}

/// The chunked evaluation with an explicit upstream gradient and named results,
/// for the comparisons above.
extension LinearCrossEntropyLoss {
    func valueAndGradients(
        _ input: Tensor<Scalar>, weight: Tensor<Scalar>, bias: Tensor<Scalar>? = nil, _ targets: Tensor<Int>,
        upstream: Tensor<Scalar>? = nil
    ) throws -> Result {
        let shape = reduction == .none ? targets.shape : []
        let u = try upstream ?? Tensor(shape: shape, scalars: Array(repeating: 1, count: reduction == .none ? targets.count : 1))
        return try evaluate(input: input, weight: weight, bias: bias, target: .indices(targets), upstream: u, gradients: true)
    }

    func callAsFunction(_ input: Tensor<Scalar>, weight: Tensor<Scalar>, bias: Tensor<Scalar>? = nil, _ targets: Tensor<Int>)
        throws -> Tensor<Scalar>
    {
        try self(input, weight, target: targets, linearBias: bias)
    }
}

/// PyTorch 2.15's other forms of `linear_cross_entropy`: probability targets and a
/// weight `(V, *out_features, D)`, against `CrossEntropyLoss` on logits materialized
/// here (`X Wᵀ + b`, reshaped to `(N, V, *out_features)`), and its `ignore_index` default.
@Suite struct LinearCrossEntropyFormsTests {
    /// `X Wᵀ + b` with W seen as `(columns, D)`: an `N × columns` row-major matrix.
    static func logits(_ x: Tensor<Double>, _ w: Tensor<Double>, _ b: Tensor<Double>?) -> [Double] {
        let d = x.shape.last!, n = x.count / d, columns = w.count / d
        return (0..<(n * columns)).map { i in
            let r = i / columns, c = i % columns
            return (0..<d).reduce(b?[flat: c] ?? 0) { $0 + x[flat: r * d + $1] * w[flat: c * d + $1] }
        }
    }

    /// The gradients of X, W and b from the logits' gradient G (`N × columns`).
    static func chain(_ g: [Double], _ x: Tensor<Double>, _ w: Tensor<Double>) -> (x: [Double], w: [Double], b: [Double]) {
        let d = x.shape.last!, n = x.count / d, columns = w.count / d
        var gx = [Double](repeating: 0, count: n * d), gw = [Double](repeating: 0, count: columns * d)
        var gb = [Double](repeating: 0, count: columns)
        for r in 0..<n {
            for c in 0..<columns {
                let v = g[r * columns + c]
                gb[c] += v
                for k in 0..<d {
                    gx[r * d + k] += v * w[flat: c * d + k]
                    gw[c * d + k] += v * x[flat: r * d + k]
                }
            }
        }
        return (gx, gw, gb)
    }

    /// Compares the fused call with the cross-entropy of the materialized logits.
    static func compare(
        _ loss: LinearCrossEntropyLoss<Double>, x: Tensor<Double>, w: Tensor<Double>, b: Tensor<Double>?,
        target: LossInput<Double>
    ) throws -> [String] {
        let logitsShape = Array(x.shape.dropLast()) + Array(w.shape.dropLast())
        let logits = try Tensor(shape: logitsShape, scalars: Self.logits(x, w, b))
        let ce = CrossEntropyLoss<Double>(
            weight: loss.weight, ignoreIndex: loss.ignoreIndex ?? -100, labelSmoothing: loss.labelSmoothing,
            reduction: loss.reduction)
        var ceInputs = LossInputs<Double>()
        ceInputs["input"] = .values(logits)
        ceInputs["target"] = target
        let want = try ce.forward(ceInputs)
        let upstream = TestSupport.normal(want.shape, seed: 1_200)
        let wantGradients = try ce.backward(ceInputs, upstream: upstream)
        let chained = Self.chain(wantGradients["input"]!.scalars, x, w)
        var inputs = LossInputs<Double>()
        inputs["input"] = .values(x)
        inputs["linear_weight"] = .values(w)
        inputs["target"] = target
        if let b { inputs["linear_bias"] = .values(b) }
        let got = try loss.forward(inputs)
        let gradients = try loss.backward(inputs, upstream: upstream)
        var problems: [String] = []
        func check(_ name: String, _ a: Tensor<Double>?, _ b: [Double], _ shape: [Int]) {
            guard let a, a.shape == shape, TestSupport.maxRelativeDifference(a.scalars, b, floor: 1e-9) < 1e-12 else {
                problems.append("\(name): \(String(describing: a)) against \(b.prefix(8))")
                return
            }
        }
        check("value", got, want.scalars, want.shape)
        check("input", gradients["input"], chained.x, x.shape)
        check("linear_weight", gradients["linear_weight"], chained.w, w.shape)
        if let b { check("linear_bias", gradients["linear_bias"], chained.b, b.shape) }
        if let gt = wantGradients["target"] { check("target", gradients["target"], gt.scalars, gt.shape) }
        return problems
    }

    /// PyTorch 2.15: input [[0.5, -1, 2]], weight [[1, 0, 0.5], [0, 1, -0.5]], probability
    /// target [[0.25, 0.75]] gives 2.65475041827262.
    @Test func probabilityTargetsGivePyTorchsValue() throws {
        let loss = try LinearCrossEntropyLoss<Double>()(
            try Tensor(shape: [1, 3], scalars: [0.5, -1, 2]), try Tensor(shape: [2, 3], scalars: [1, 0, 0.5, 0, 1, -0.5]),
            target: try Tensor<Double>(shape: [1, 2], scalars: [0.25, 0.75]))
        #expect(abs(loss.scalar! - 2.65475041827262) < 1e-14)
    }

    /// Probability targets, with bias, class weights and smoothing, in chunks of 2 rows.
    @Test(arguments: Reduction.allCases)
    func probabilityTargetsAreCrossEntropyOfTheLogits(reduction: Reduction) throws {
        let x = TestSupport.normal([5, 3], seed: 1_210), w = TestSupport.normal([4, 3], seed: 1_211)
        let b = TestSupport.normal([4], seed: 1_212)
        let q = try AxisFunction<Double>(.softmax, dim: 1)(TestSupport.normal([5, 4], scale: 2, seed: 1_213))
        let weights = TestSupport.uniform([4], in: 0.2...2, seed: 1_214)
        for loss in [
            LinearCrossEntropyLoss<Double>(reduction: reduction, chunkRows: 2),
            LinearCrossEntropyLoss<Double>(weight: weights, labelSmoothing: 0.2, reduction: reduction, chunkRows: 2),
        ] {
            let problems = try Self.compare(loss, x: x, w: w, b: b, target: .values(q))
            #expect(problems.isEmpty, "\(problems)")
        }
        // An unbatched input (D) with a target (V).
        let single = try Self.compare(
            LinearCrossEntropyLoss<Double>(reduction: reduction), x: TestSupport.normal([3], seed: 1_215), w: w, b: nil,
            target: .values(try AxisFunction<Double>(.softmax, dim: 0)(TestSupport.normal([4], seed: 1_216))))
        #expect(single.isEmpty, "\(single)")
    }

    /// A weight (V, 2, 3, D): logits (N, V, 2, 3), class-index targets (N, 2, 3) with an
    /// ignored entry, class weights and smoothing; and probability targets (N, V, 2, 3).
    @Test(arguments: Reduction.allCases)
    func outFeaturesWeightIsCrossEntropyOfTheReshapedLogits(reduction: Reduction) throws {
        let x = TestSupport.normal([5, 3], seed: 1_220), w = TestSupport.normal([4, 2, 3, 3], scale: 0.5, seed: 1_221)
        let b = TestSupport.normal([4, 2, 3], seed: 1_222)
        var t = TestSupport.classIndices([5, 2, 3], classes: 4, seed: 1_223).scalars
        t[4] = -100
        let targets = try Tensor(shape: [5, 2, 3], scalars: t)
        let loss = LinearCrossEntropyLoss<Double>(
            weight: TestSupport.uniform([4], in: 0.2...2, seed: 1_224), labelSmoothing: 0.1, reduction: reduction, chunkRows: 2)
        let problems = try Self.compare(loss, x: x, w: w, b: b, target: .indices(targets))
        #expect(problems.isEmpty, "\(problems)")
        let q = try AxisFunction<Double>(.softmax, dim: 1)(TestSupport.normal([5, 4, 2, 3], seed: 1_225))
        let soft = try Self.compare(LinearCrossEntropyLoss<Double>(reduction: reduction), x: x, w: w, b: nil, target: .values(q))
        #expect(soft.isEmpty, "\(soft)")
    }

    @Test func newFormsPassTheGradientCheck() throws {
        let x = TestSupport.normal([3, 2], seed: 1_230), w = TestSupport.normal([3, 2, 2], seed: 1_231)
        let q = try AxisFunction<Double>(.softmax, dim: 1)(TestSupport.normal([3, 3, 2], seed: 1_232))
        let inputs = LossInputs<Double>([
            "input": .values(x), "linear_weight": .values(w), "target": .values(q),
            "linear_bias": .values(TestSupport.normal([3, 2], seed: 1_233)),
        ])
        let report = try GradientCheck.check(LinearCrossEntropyLoss<Double>(labelSmoothing: 0.1, reduction: .sum), inputs: inputs)
        #expect(report.passes(tolerance: 1e-7), "\(report)")
    }

    /// `ignore_index` is None by default (PyTorch 2.15): -100 is ignored for class indices,
    /// and probability targets take no other value.
    @Test func ignoreIndexDefaultsToNone() throws {
        let x = TestSupport.normal([3, 2], seed: 1_240), w = TestSupport.normal([4, 2], seed: 1_241)
        let loss = LinearCrossEntropyLoss<Double>(reduction: .none)
        #expect(loss.ignoreIndex == nil)
        #expect(try loss(x, w, target: Tensor([1, -100, 3]))[flat: 1] == 0)
        let q = try AxisFunction<Double>(.softmax, dim: 1)(TestSupport.normal([3, 4], seed: 1_242))
        #expect(throws: LossError.invalidOption(name: "ignoreIndex", value: "-100", expected: "None when the target holds probabilities")) {
            try LinearCrossEntropyLoss<Double>(ignoreIndex: -100)(x, w, target: q)
        }
        let registry = try LossRegistry.make("linear_cross_entropy", options: ["ignore_index": .null], as: Double.self)
        #expect(throws: Never.self) {
            try registry.forward(LossInputs(["input": .values(x), "linear_weight": .values(w), "target": .values(q)]))
        }
    }

    @Test func badShapesOfTheNewFormsAreTypedErrors() {
        let w = TestSupport.normal([4, 2, 3], seed: 1_250)
        // out_features need a batched (N, D) input, as in PyTorch.
        #expect(throws: LossError.shapeMismatch(
            argument: "input", expected: "(N, 3) (a weight with out_features needs a batched 2-d input, as PyTorch)", actual: "[3]")) {
            try LinearCrossEntropyLoss<Double>()(TestSupport.normal([3], seed: 1_251), w, target: Tensor<Int>(scalar: 0))
        }
        #expect(throws: LossError.shapeMismatch(
            argument: "target", expected: "[5, 2] (the input's shape without its last dimension, then out_features)", actual: "[5]")) {
            try LinearCrossEntropyLoss<Double>()(TestSupport.normal([5, 3], seed: 1_252), w, target: Tensor([0, 1, 2, 3, 0]))
        }
        #expect(throws: LossError.shapeMismatch(
            argument: "target", expected: "[5, 4] (probabilities, the logits' shape)", actual: "[5, 3]")) {
            try LinearCrossEntropyLoss<Double>()(
                TestSupport.normal([5, 3], seed: 1_253), TestSupport.normal([4, 3], seed: 1_254), target: TestSupport.normal([5, 3], seed: 1_255))
        }
        #expect(throws: LossError.self) {
            try LinearCrossEntropyLoss<Double>(zLoss: 0.1)(
                TestSupport.normal([5, 3], seed: 1_256), TestSupport.normal([4, 3], seed: 1_257),
                target: TestSupport.uniform([5, 4], in: 0...1, seed: 1_258))
        }
    }

    /// A row whose target probability is 1 - 6e-7: Float's p_t is 1 to 6e-8, so the direct
    /// `p_t - 1` of its target entry was off by up to 10% (and the weight gradient with
    /// it). The kernel takes that entry as minus the others' sum: within Float's rounding
    /// of the Double gradient, in every instruction set.
    @Test func confidentRowKeepsItsTargetGradientInFloat() throws {
        // Logits [14.95, 0.2, -0.25]: 1 - p_t = 6.4e-7.
        let x = try Tensor<Double>(shape: [1, 2], scalars: [1, 0.5])
        let w = try Tensor<Double>(shape: [3, 2], scalars: [15.3, -0.7, 0.1, 0.2, -0.4, 0.3])
        let t = Tensor([0])
        let exact = try LinearCrossEntropyLoss<Double>(reduction: .sum).valueWithGradient(x, w, target: t)
        let exactWeight = try exact.gradient(of: .linearWeight).scalars
        #expect(abs(exactWeight[0]) < 1e-6 && abs(exactWeight[0]) > 1e-7)  // the target class's row: (p_t - 1) x
        try TestSupport.holdingInstructionSet {
            let original = InstructionSet.active
            defer { InstructionSet.select(original) }
            for set in InstructionSet.allCases where InstructionSet.select(set) {
                let r = try LinearCrossEntropyLoss<Float>(reduction: .sum)
                    .valueWithGradient(x.converted(), w.converted(), target: t)
                let got = try r.gradient(of: .linearWeight).scalars.map(Double.init)
                #expect(TestSupport.maxRelativeDifference(got, exactWeight) < 1e-4, "\(set): \(got) against \(exactWeight)")
            }
        }
    }
}
