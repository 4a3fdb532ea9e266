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
/// sums of non-negative terms.
enum SliceSoftmax {
    /// Partial sums `(S_r, T_r, Z_r)` of one row slice of `n` classes.
    @inline(__always)
    static func partials<T: KernelScalar>(
        _ x: UnsafePointer<T>, _ n: Int, max m: T, localTarget: Int?, weights: UnsafePointer<T>?, smoothing: Bool
    ) -> (sumExp: Double, target: Double, smoothing: Double) {
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
        var c = 0
        while c + 4 <= n {
            s0 += Double(T.exp(x[c] - m))
            s1 += Double(T.exp(x[c + 1] - m))
            s2 += Double(T.exp(x[c + 2] - m))
            s3 += Double(T.exp(x[c + 3] - m))
            c += 4
        }
        while c < n {
            s0 += Double(T.exp(x[c] - m))
            c += 1
        }
        var z = 0.0
        if smoothing {
            let md = Double(m)
            var z0 = 0.0, z1 = 0.0
            if let w = weights {
                for c in 0..<n { if c & 1 == 0 { z0 += Double(w[c]) * (Double(x[c]) - md) } else { z1 += Double(w[c]) * (Double(x[c]) - md) } }
            } else {
                for c in 0..<n { if c & 1 == 0 { z0 += Double(x[c]) - md } else { z1 += Double(x[c]) - md } }
            }
            z = z0 + z1
        }
        let t = localTarget.map { Double(x[$0]) - Double(m) } ?? 0
        return ((s0 + s1) + (s2 + s3), t, z)
    }

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
    @inline(__always)
    static func loss(max m: Double, sumExp: Double, target: Double, smoothing: Double, targetWeight: Double, _ o: Options)
        -> (loss: Double, lse: Double)
    {
        let logS = log(sumExp)
        let lse = m + logS
        var l = (1 - o.labelSmoothing) * targetWeight * (logS - target)
        if o.labelSmoothing > 0 { l += o.labelSmoothing / Double(o.vocabulary) * (o.weightSum * logS - smoothing) }
        if o.zLoss > 0 { l += o.zLoss * lse * lse }
        return (l, lse)
    }

    /// Writes `g · ∂loss/∂x_c` over the slice (`out` may be `x`, in place):
    /// `g (p_c ((1 - ε) w_t + (ε / V) W + 2 z lse) - (1 - ε) w_t [c = t] - (ε / V) w_c)`,
    /// times `1 - (y_c / s)²` when `softcap` is set (then `x` holds the capped `y`).
    @inline(__always)
    static func gradient<T: KernelScalar>(
        _ x: UnsafePointer<T>, _ n: Int, into out: UnsafeMutablePointer<T>, max m: T, sumExp: Double, lse: Double,
        localTarget: Int?, targetWeight: Double, weights: UnsafePointer<T>?, scale g: Double, softcap: Double?, _ o: Options
    ) {
        let a = g * ((1 - o.labelSmoothing) * targetWeight + o.labelSmoothing / Double(o.vocabulary) * o.weightSum
            + 2 * o.zLoss * lse) / sumExp
        let b = g * o.labelSmoothing / Double(o.vocabulary)
        let tc = g * (1 - o.labelSmoothing) * targetWeight
        func element(_ c: Int) -> Double {
            var v = a * Double(T.exp(x[c] - m))
            if b != 0 { v -= b * (weights.map { Double($0[c]) } ?? 1) }
            if c == localTarget { v -= tc }
            return v
        }
        if let s = softcap {
            for c in 0..<n {
                let y = Double(x[c]) / s
                out[c] = T(element(c) * (1 - y * y))
            }
        } else if b == 0, localTarget == nil {
            for c in 0..<n { out[c] = T(a * Double(T.exp(x[c] - m))) }
        } else {
            for c in 0..<n { out[c] = T(element(c)) }
        }
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
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
