import Kernels

/// The per-row arithmetic shared by the vocab-parallel losses: each rank holds a
/// contiguous slice of a row's `V` classes; the row's statistics are sums of the
/// slices' partial sums, all taken against the row's global maximum `m`, so every
/// term is computed from `x - m` (no overflow, and no `lse - x_t` cancellation).
///
/// Per rank and row, with `e_c = exp(x_c - m)` over the rank's classes:
///
///     S_r  = Σ_c e_c                      (the row's sum of exponentials is Σ_r S_r)
///     T_r  = x_t - m  if the target t is in the slice, else 0
///     Z_r  = Σ_c w_c (x_c - m)            (only with label smoothing)
///
/// and then, with `S = Σ S_r`, `log S ≥ 0`, `x_t - m ≤ 0`, `Z ≤ 0` (for weights ≥ 0):
///
///     lse - x_t           = log S - (x_t - m)
///     Σ_c w_c (lse - x_c) = W log S - Z
///
/// sums of non-negative terms. The exponentials are taken in the scalar type (as
/// LossKit's kernels take them) and added in Double.
///
/// The loops are written once, generic and always inlined, and entered through
/// `Float` and `Double` instances, so that they run as specialized code whatever
/// module instantiates the distributed losses.
enum SliceSoftmax {
    /// The options of a row's loss.
    struct Options {
        var labelSmoothing: Double
        var zLoss: Double
        /// `V`, the row's number of classes over all ranks.
        var vocabulary: Int
        /// `W = Σ_c w_c` over all ranks (`V` without class weights).
        var weightSum: Double
    }

    /// The loss of a kept row from its global statistics, and its `lse`:
    /// `(1 - ε) w_t (lse - x_t) + (ε / V) Σ_c w_c (lse - x_c) + z lse²`.
    static func loss(max m: Double, sumExp: Double, target: Double, smoothing: Double, targetWeight: Double, _ o: Options)
        -> (loss: Double, lse: Double)
    {
        let logS = Double.log(sumExp)
        let lse = m + logS
        var l = (1 - o.labelSmoothing) * targetWeight * (logS - target)
        if o.labelSmoothing > 0 { l += o.labelSmoothing / Double(o.vocabulary) * (o.weightSum * logS - smoothing) }
        if o.zLoss > 0 { l += o.zLoss * lse * lse }
        return (l, lse)
    }

    /// Partial sums `(S_r, T_r, Z_r)` of one row slice of `n` classes; with
    /// `storeExps`, `e_c` replaces `x_c` (in place: `x` is then the caller's scratch).
    static func partials<T: KernelScalar>(
        _ x: UnsafeMutablePointer<T>, _ n: Int, max m: T, localTarget: Int?, weights: UnsafePointer<T>?, smoothing: Bool,
        storeExps: Bool
    ) -> (sumExp: Double, target: Double, smoothing: Double) {
        if T.self == Float.self {
            return partialsBody(
                rebound(x, Float.self), n, max: unsafeBitCast(m, to: Float.self), localTarget: localTarget,
                weights: weights.map { rebound($0, Float.self) }, smoothing: smoothing, storeExps: storeExps)
        }
        return partialsBody(
            rebound(x, Double.self), n, max: unsafeBitCast(m, to: Double.self), localTarget: localTarget,
            weights: weights.map { rebound($0, Double.self) }, smoothing: smoothing, storeExps: storeExps)
    }

    @inline(__always)
    private static func partialsBody<F: KernelScalar>(
        _ x: UnsafeMutablePointer<F>, _ n: Int, max m: F, localTarget: Int?, weights: UnsafePointer<F>?, smoothing: Bool,
        storeExps: Bool
    ) -> (sumExp: Double, target: Double, smoothing: Double) {
        let md = Double(m)
        let t = localTarget.map { Double(x[$0]) - md } ?? 0
        var z0 = 0.0, z1 = 0.0
        if smoothing {
            if let w = weights {
                var c = 0
                while c + 2 <= n {
                    z0 += Double(w[c]) * (Double(x[c]) - md)
                    z1 += Double(w[c + 1]) * (Double(x[c + 1]) - md)
                    c += 2
                }
                if c < n { z0 += Double(w[c]) * (Double(x[c]) - md) }
            } else {
                var c = 0
                while c + 2 <= n {
                    z0 += Double(x[c]) - md
                    z1 += Double(x[c + 1]) - md
                    c += 2
                }
                if c < n { z0 += Double(x[c]) - md }
            }
        }
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
        var c = 0
        if storeExps {
            while c + 4 <= n {
                let e0 = F.exp(x[c] - m), e1 = F.exp(x[c + 1] - m), e2 = F.exp(x[c + 2] - m), e3 = F.exp(x[c + 3] - m)
                x[c] = e0; x[c + 1] = e1; x[c + 2] = e2; x[c + 3] = e3
                s0 += Double(e0); s1 += Double(e1); s2 += Double(e2); s3 += Double(e3)
                c += 4
            }
            while c < n {
                let e = F.exp(x[c] - m)
                x[c] = e
                s0 += Double(e)
                c += 1
            }
        } else {
            while c + 4 <= n {
                s0 += Double(F.exp(x[c] - m))
                s1 += Double(F.exp(x[c + 1] - m))
                s2 += Double(F.exp(x[c + 2] - m))
                s3 += Double(F.exp(x[c + 3] - m))
                c += 4
            }
            while c < n {
                s0 += Double(F.exp(x[c] - m))
                c += 1
            }
        }
        return ((s0 + s1) + (s2 + s3), t, z0 + z1)
    }

    /// What the gradient of one row needs.
    struct RowGradient {
        /// The row's global max, `Σ exp(x - m)` and `lse`.
        var max: Double, sumExp: Double, lse: Double
        /// The target's index in the slice, if the rank holds it, and `w_t`.
        var localTarget: Int?
        var targetWeight: Double
        /// `g`: the row's upstream gradient (over the denominator for `mean`).
        var scale: Double
    }

    /// Writes `g · ∂loss/∂x_c` over the slice into `out` (which may be `x`):
    /// `g (p_c ((1 - ε) w_t + (ε / V) W + 2 z lse) - (1 - ε) w_t [c = t] - (ε / V) w_c)`.
    /// `x` holds the logits, or their exponentials `e_c = exp(x_c - m)` when
    /// `exps` (see ``partials(_:_:max:localTarget:weights:smoothing:storeExps:)``).
    /// With a soft cap `s`, `x` holds the capped logits `y` (not exponentials) and
    /// the gradient is multiplied by `1 - (y_c / s)²`.
    static func gradient<T: KernelScalar>(
        _ x: UnsafePointer<T>, _ n: Int, into out: UnsafeMutablePointer<T>, exps: Bool, weights: UnsafePointer<T>?,
        softcap: Double?, _ row: RowGradient, _ o: Options
    ) {
        if T.self == Float.self {
            gradientBody(
                rebound(x, Float.self), n, into: rebound(out, Float.self), exps: exps,
                weights: weights.map { rebound($0, Float.self) }, softcap: softcap, row, o)
        } else {
            gradientBody(
                rebound(x, Double.self), n, into: rebound(out, Double.self), exps: exps,
                weights: weights.map { rebound($0, Double.self) }, softcap: softcap, row, o)
        }
    }

    @inline(__always)
    private static func gradientBody<F: KernelScalar>(
        _ x: UnsafePointer<F>, _ n: Int, into out: UnsafeMutablePointer<F>, exps: Bool, weights: UnsafePointer<F>?,
        softcap: Double?, _ row: RowGradient, _ o: Options
    ) {
        let g = row.scale
        let a = g * ((1 - o.labelSmoothing) * row.targetWeight + o.labelSmoothing / Double(o.vocabulary) * o.weightSum
            + 2 * o.zLoss * row.lse) / row.sumExp
        let b = g * o.labelSmoothing / Double(o.vocabulary)
        let tc = g * (1 - o.labelSmoothing) * row.targetWeight
        let m = F(row.max)
        // The target's entry, from the logit (x is overwritten below when out == x).
        var targetValue = 0.0
        if let t = row.localTarget {
            let e = exps ? Double(x[t]) : Double(F.exp(x[t] - m))
            targetValue = a * e - b * (weights.map { Double($0[t]) } ?? 1) - tc
            if let s = softcap {
                let y = Double(x[t]) / s
                targetValue *= 1 - y * y
            }
        }
        let af = F(a), bf = F(b)
        if let s = softcap {
            for c in 0..<n {
                let y = Double(x[c]) / s
                let e = Double(F.exp(x[c] - m))
                out[c] = F((a * e - b * (weights.map { Double($0[c]) } ?? 1)) * (1 - y * y))
            }
        } else if b == 0 {
            if exps {
                for c in 0..<n { out[c] = af * x[c] }
            } else {
                for c in 0..<n { out[c] = F(a * Double(F.exp(x[c] - m))) }
            }
        } else if let w = weights {
            if exps {
                for c in 0..<n { out[c] = af * x[c] - bf * w[c] }
            } else {
                for c in 0..<n { out[c] = F(a * Double(F.exp(x[c] - m)) - b * Double(w[c])) }
            }
        } else {
            if exps {
                for c in 0..<n { out[c] = af * x[c] - bf }
            } else {
                for c in 0..<n { out[c] = F(a * Double(F.exp(x[c] - m)) - b) }
            }
        }
        if let t = row.localTarget { out[t] = F(targetValue) }
    }

    /// Adds `bias` to every row of a `rows × n` block and applies the soft cap
    /// `s · tanh(y / s)` when `softcap` is set, in place.
    static func addBiasAndCap<T: KernelScalar>(
        _ x: UnsafeMutablePointer<T>, rows: Int, _ n: Int, bias: UnsafePointer<T>?, softcap: Double?
    ) {
        if T.self == Float.self {
            biasBody(rebound(x, Float.self), rows: rows, n, bias: bias.map { rebound($0, Float.self) }, softcap: softcap.map { Float($0) })
        } else {
            biasBody(rebound(x, Double.self), rows: rows, n, bias: bias.map { rebound($0, Double.self) }, softcap: softcap)
        }
    }

    @inline(__always)
    private static func biasBody<F: KernelScalar>(
        _ x: UnsafeMutablePointer<F>, rows: Int, _ n: Int, bias: UnsafePointer<F>?, softcap: F?
    ) {
        for r in 0..<rows {
            let row = x + r * n
            if let bias { for c in 0..<n { row[c] += bias[c] } }
            if let s = softcap { for c in 0..<n { row[c] = s * F.tanh(row[c] / s) } }
        }
    }

    /// `sums[c] += Σ_r x[r, c]` over a `rows × n` block.
    static func addColumnSums<T: KernelScalar>(_ x: UnsafePointer<T>, rows: Int, _ n: Int, into sums: UnsafeMutablePointer<T>) {
        if T.self == Float.self {
            columnBody(rebound(x, Float.self), rows: rows, n, into: rebound(sums, Float.self))
        } else {
            columnBody(rebound(x, Double.self), rows: rows, n, into: rebound(sums, Double.self))
        }
    }

    @inline(__always)
    private static func columnBody<F: KernelScalar>(_ x: UnsafePointer<F>, rows: Int, _ n: Int, into sums: UnsafeMutablePointer<F>) {
        for r in 0..<rows { for c in 0..<n { sums[c] += x[r * n + c] } }
    }

    /// Row maxima of a `rows × n` block, for a max all-reduce: NaN becomes +∞ (every
    /// exponential of the row is then 0 or NaN, so a NaN anywhere in a row makes its
    /// loss NaN on every rank), and an empty slice gives -∞.
    static func rowMaxima<T: KernelScalar>(_ x: UnsafeBufferPointer<T>, rows: Int, columns n: Int) throws -> [T] {
        var m = [T](repeating: -.infinity, count: rows)
        guard n > 0, rows > 0 else { return m }
        try m.withUnsafeMutableBufferPointer { try rowMax(x, layout: AxisLayout(outer: rows, length: n), into: $0) }
        for i in m.indices where m[i].isNaN { m[i] = .infinity }
        return m
    }

    @inline(__always)
    private static func rebound<T, U>(_ p: UnsafeMutablePointer<T>, _: U.Type) -> UnsafeMutablePointer<U> {
        UnsafeMutableRawPointer(p).assumingMemoryBound(to: U.self)
    }

    @inline(__always)
    private static func rebound<T, U>(_ p: UnsafePointer<T>, _: U.Type) -> UnsafePointer<U> {
        UnsafeRawPointer(p).assumingMemoryBound(to: U.self)
    }
}

/// `count` zeros of `T` (all bits zero), without a per-element loop in unspecialized generic code.
func zeros<T: KernelScalar>(_: T.Type, count: Int) -> [T] {
    [T](unsafeUninitializedCapacity: count) { buffer, initialized in
        if count > 0 { UnsafeMutableRawBufferPointer(buffer).initializeMemory(as: UInt8.self, repeating: 0) }
        initialized = count
    }
}
