/// Cosine embedding loss, `torch.nn.functional.cosine_embedding_loss`.
///
/// Inputs: `input1`, `input2` of shape `(N, D)` with target `(N)`, or `(D)`
/// with a 0-d target; target values are `1` (similar) or `-1` (dissimilar).
/// With PyTorch's regularised cosine (`ε = 1e-12` added to each *squared* norm,
/// not a clamp of the norms as in `F.cosine_similarity`; PyTorch adds 1e-12 as a
/// Float, 9.999999960041972e-13, in Double too, and so does LossKit):
///
///     m1 = |a|² + ε,  m2 = |b|² + ε,  cos = a·b / sqrt(m1 m2)
///     loss = 1 - cos                      if y = 1
///     loss = max(0, cos - margin)         if y = -1   (NaN for a NaN cos, as PyTorch's clamp)
///
/// Gradients (the target has none): `∂cos/∂a = b / sqrt(m1 m2) - cos · a / m1`,
/// `∂cos/∂b = a / sqrt(m1 m2) - cos · b / m2`, times `-1` for `y = 1` and times
/// `[cos - margin > 0]` for `y = -1` (0 at the kink, as the reference PyTorch's
/// `clamp_min` backward gives). Because of `ε`, a zero vector gives
/// `cos = 0` and a finite (very large) gradient rather than NaN, as in PyTorch.
///
/// Reduction: `none` gives `(N)` (or `()`); `mean` divides by `N`.
///
/// Shapes: rows broadcast as in PyTorch (`input1` `(1, D)` against `input2`
/// `(N, D)`, a target of one label for every row; each gradient is summed over the
/// rows its tensor was broadcast along). `margin` must be finite.
///
/// Deliberate differences: PyTorch silently gives 0 loss for a target that is
/// neither 1 nor -1; LossKit throws ``/Kernels/LossError/invalidValue(argument:position:value:expected:)``
/// instead. PyTorch also broadcasts a vector length of 1 against D, but then takes
/// the squared norm of that one entry instead of the broadcast vector's (not the
/// cosine of the vectors it multiplies); LossKit requires equal lengths.
public struct CosineEmbeddingLoss<Scalar: KernelScalar>: PairTargetLoss {
    /// Cosines above it are penalized for dissimilar pairs (`y = -1`); finite, 0 by default.
    public var margin: Scalar
    /// PyTorch's `reduction`: `.mean` (the default) divides by the number of pairs, `.sum` adds, `.none`
    /// keeps one value per pair.
    public var reduction: Reduction

    /// A cosine embedding loss; every default is PyTorch's.
    public init(margin: Scalar = 0, reduction: Reduction = .mean) {
        self.margin = margin
        self.reduction = reduction
    }

    /// PyTorch's `EPSILON`, added to each squared norm.
    static var epsilon: Scalar { Scalar(Float(1e-12)) }

    public var inputSpecs: [InputSpec] { [.values("input1"), .values("input2"), .constant("target")] }

    private struct Rows {
        var a: Tensor<Scalar>
        var b: Tensor<Scalar>
        var y: Tensor<Scalar>
        var samples: Int
        var dimension: Int
        var outputShape: [Int]
    }

    /// Per row: both regularised squared norms and the cosine (sums accumulated in Double).
    private struct RowStats {
        var m1: Scalar
        var m2: Scalar
        var cos: Scalar
    }

    private func prepare(_ inputs: LossInputs<Scalar>) throws -> Rows {
        guard margin.isFinite else {
            throw LossError.invalidOption(name: "margin", value: "\(margin)", expected: "a finite number")
        }
        let given = (a: try inputs.values("input1"), b: try inputs.values("input2")), y0 = try inputs.values("target")
        guard given.a.rank == 1 || given.a.rank == 2 else {
            throw LossError.shapeMismatch(argument: "input1", expected: "(N, D) or (D)", actual: describeShape(given.a.shape))
        }
        // PyTorch: a 1-d target goes with 2-d inputs, a 0-d one with 1-d inputs. Rows
        // (and a target of one label) broadcast; the vectors' length D must agree.
        let rank = given.a.rank
        guard given.b.rank == rank, given.b.shape.last == given.a.shape.last else {
            throw LossError.shapeMismatch(
                argument: "input2", expected: "rank \(rank) with \(given.a.shape.last!) entries in the last dimension (as input1)",
                actual: describeShape(given.b.shape))
        }
        guard y0.rank == rank - 1 else {
            throw LossError.shapeMismatch(
                argument: "target",
                expected: rank == 2 ? "a 1-d target (one label per row of input1)" : "a 0-d target (one label for 1-d inputs)",
                actual: describeShape(y0.shape))
        }
        let shape = try broadcastShape([("input1", given.a.shape), ("input2", given.b.shape), ("target", y0.shape + [1])])
        let a = given.a.broadcast(to: shape), b = given.b.broadcast(to: shape)
        let outputShape = Array(shape.dropLast())
        let y = y0.broadcast(to: outputShape)
        let samples = rank == 2 ? shape[0] : 1
        try y0.withUnsafeBufferPointer { t in
            for (position, v) in t.enumerated() where v != 1 && v != -1 {
                throw LossError.invalidValue(argument: "target", position: position, value: Double(v), expected: "1 or -1")
            }
        }
        return Rows(a: a, b: b, y: y, samples: samples, dimension: a.shape[a.rank - 1], outputShape: outputShape)
    }

    private func stats(_ r: Rows, _ n: Int, _ a: UnsafeBufferPointer<Scalar>, _ b: UnsafeBufferPointer<Scalar>) -> RowStats {
        var dot = 0.0, s1 = 0.0, s2 = 0.0
        for k in (n * r.dimension)..<((n + 1) * r.dimension) {
            let u = Double(a[k]), v = Double(b[k])
            dot += u * v
            s1 += u * u
            s2 += v * v
        }
        let m1 = Scalar(s1) + Self.epsilon, m2 = Scalar(s2) + Self.epsilon
        return RowStats(m1: m1, m2: m2, cos: Scalar(dot) / Scalar.sqrt(m1 * m2))
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        try validate(inputs)
        if let wide = try forwardInFloat(inputs) { return wide }
        let r = try prepare(inputs)
        var losses = [Scalar](repeating: 0, count: r.samples)
        r.a.withUnsafeBufferPointer { a in
            r.b.withUnsafeBufferPointer { b in
                for n in 0..<r.samples {
                    let cos = stats(r, n, a, b).cos
                    losses[n] = r.y[flat: n] == 1 ? 1 - cos : clampMin0(cos - margin)
                }
            }
        }
        return try reduce(losses, shape: r.outputShape, reduction)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        try validate(inputs)
        if let wide = try backwardInFloat(inputs, upstream: upstream) { return wide }
        let r = try prepare(inputs)
        let g = try ReductionGradient(upstream, reduction: reduction, shape: r.outputShape, count: r.samples)
        var da = [Scalar](repeating: 0, count: r.a.count), db = da
        r.a.withUnsafeBufferPointer { a in
            r.b.withUnsafeBufferPointer { b in
                for n in 0..<r.samples {
                    let s = stats(r, n, a, b)
                    let dCos: Scalar = r.y[flat: n] == 1 ? -1 : (s.cos - margin > 0 ? 1 : 0)
                    let scale = g[n] * dCos
                    let invNorm = 1 / Scalar.sqrt(s.m1 * s.m2)
                    for k in (n * r.dimension)..<((n + 1) * r.dimension) {
                        da[k] = scale * (b[k] * invNorm - s.cos * a[k] / s.m1)
                        db[k] = scale * (a[k] * invNorm - s.cos * b[k] / s.m2)
                    }
                }
            }
        }
        return [
            "input1": Tensor(uncheckedShape: r.a.shape, scalars: da).summed(to: try inputs.values("input1").shape),
            "input2": Tensor(uncheckedShape: r.b.shape, scalars: db).summed(to: try inputs.values("input2").shape),
        ]
    }
}
