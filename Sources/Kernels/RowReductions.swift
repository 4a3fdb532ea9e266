import CLossKernels

// Row reductions along an axis (see AxisLayout): each writes `layout.rows`
// results. Sums accumulate in Double in a fixed order, so results are
// deterministic and do not depend on the thread count. Float16 and BFloat16 inputs give
// the Float kernel's results on the widened inputs, rounded once to the 16-bit type (as
// PyTorch's float32 accumulation returning the input's type).

/// `out_r = log sum_c exp(x_rc)`, computed as `m + log sum exp(x - m)`.
/// A row of all `-inf` gives `-inf`, a row containing `+inf` gives `+inf`
/// (as `torch.logsumexp`). Its gradient is `softmax(x)` times the upstream.
public func logSumExp<T: KernelScalar>(
    _ x: UnsafeBufferPointer<T>, layout: AxisLayout, into out: UnsafeMutableBufferPointer<T>, threads: Int = 1
) throws {
    try rowKernel(x, layout, out, threads, half: 0, f32: lk_logsumexp_f32, f64: lk_logsumexp_f64)
}

/// `out_r = sum_c x_rc`.
public func rowSum<T: KernelScalar>(
    _ x: UnsafeBufferPointer<T>, layout: AxisLayout, into out: UnsafeMutableBufferPointer<T>, threads: Int = 1
) throws {
    try rowKernel(x, layout, out, threads, half: 1, f32: lk_sum_f32, f64: lk_sum_f64)
}

/// `out_r = (1/n) sum_c x_rc`; NaN for an empty axis (as `torch.mean`).
public func rowMean<T: KernelScalar>(
    _ x: UnsafeBufferPointer<T>, layout: AxisLayout, into out: UnsafeMutableBufferPointer<T>, threads: Int = 1
) throws {
    try rowKernel(x, layout, out, threads, half: 2, f32: lk_mean_f32, f64: lk_mean_f64)
}

/// The sum of a whole buffer (Double accumulation), without allocating.
public func sum<T: KernelScalar>(_ x: UnsafeBufferPointer<T>) throws -> T {
    var result = T.zero
    try withUnsafeMutablePointer(to: &result) { p in
        let out = UnsafeMutableBufferPointer(start: p, count: 1)
        try rowSum(x, layout: AxisLayout(outer: 1, length: x.count), into: out)
    }
    return result
}

/// The vector norms a row reduction can take.
public enum NormKind: Sendable, Equatable {
    /// `sum |x|`
    case l1
    /// `sqrt(sum x^2)`
    case l2
    /// `max |x|`
    case infinity
}

/// `out_r = ||x_r||` for the chosen norm, accumulated in Double.
public func rowNorm<T: KernelScalar>(
    _ x: UnsafeBufferPointer<T>, layout: AxisLayout, kind: NormKind, into out: UnsafeMutableBufferPointer<T>,
    threads: Int = 1
) throws {
    let p: Int32 = kind == .l1 ? 1 : kind == .l2 ? 2 : 0
    try rowKernel(
        x, layout, out, threads, half: 10 + p,
        f32: { lk_norm_f32($0, $1, $2, $3, $4, p, $5) }, f64: { lk_norm_f64($0, $1, $2, $3, $4, p, $5) })
}

/// `out_r = max_c x_rc` and, when `argmax` is given, the first index attaining it.
/// NaN propagates (its index is reported), as `torch.amax`/`torch.max`.
/// An empty axis is an error, as in PyTorch.
public func rowMax<T: KernelScalar>(
    _ x: UnsafeBufferPointer<T>, layout: AxisLayout, into out: UnsafeMutableBufferPointer<T>,
    argmax: UnsafeMutableBufferPointer<Int>? = nil, threads: Int = 1
) throws {
    try checkMaxAxis(layout)
    try checkThreads(threads)
    try checkCount("input", x.count, layout.count, layout)
    try checkCount("output", out.count, layout.rows, layout)
    if let argmax { try checkCount("argmax", argmax.count, layout.rows, layout) }
    let xb = base(x), ob = base(out), ab = argmax.map { asI64(base($0)) }, t = Int32(clamping: threads)
    if isSixteenBit(T.self) {
        // The maximum is one of the inputs: exact in the storage type.
        if lk_reduce_h16(3, asH(xb), asH(ob), ab, layout.outer, layout.length, layout.inner, halfFormat(T.self), t) == 0 {
            return
        }
        var of = floatOutput(out)
        try floatCopy(x).withUnsafeBufferPointer { xf in
            try withFloatMutableBuffer(&of) { try rowMax(xf, layout: layout, into: $0!, argmax: argmax, threads: threads) }
        }
        return storeRounded(of, out)
    }
    let precision = try requireCKernels(T.self)
    switch precision {
    case .single: lk_max_f32(asF(xb), asF(ob), ab, layout.outer, layout.length, layout.inner, t)
    case .double: lk_max_f64(asD(xb), asD(ob), ab, layout.outer, layout.length, layout.inner, t)
    }
}

/// Throws for a layout a maximum cannot be taken along: an invalid one, or rows of length 0.
package func checkMaxAxis(_ layout: AxisLayout) throws {
    try layout.validate()
    guard layout.length > 0 || layout.rows == 0 else {
        throw LossError.emptyInput(argument: "input", reason: "max over an axis of length 0 is undefined")
    }
}

typealias RowFn<E> = (UnsafePointer<E>, UnsafeMutablePointer<E>, Int, Int, Int, Int32) -> Void

/// A row reduction: `half` is its operation code for 16-bit storage (lk_reduce_h16).
func rowKernel<T: KernelScalar>(
    _ x: UnsafeBufferPointer<T>, _ layout: AxisLayout, _ out: UnsafeMutableBufferPointer<T>, _ threads: Int,
    half: Int32, f32: RowFn<Float>, f64: RowFn<Double>
) throws {
    try checkThreads(threads)
    try layout.validate()
    try checkCount("input", x.count, layout.count, layout)
    try checkCount("output", out.count, layout.rows, layout)
    let xb = base(x), ob = base(out), t = Int32(clamping: threads)
    if isSixteenBit(T.self) {
        if lk_reduce_h16(half, asH(xb), asH(ob), nil, layout.outer, layout.length, layout.inner, halfFormat(T.self), t) == 0 {
            return
        }
        var of = floatOutput(out)
        try floatCopy(x).withUnsafeBufferPointer { xf in
            try withFloatMutableBuffer(&of) { try rowKernel(xf, layout, $0!, threads, half: half, f32: f32, f64: f64) }
        }
        return storeRounded(of, out)
    }
    let precision = try requireCKernels(T.self)
    switch precision {
    case .single: f32(asF(xb), asF(ob), layout.outer, layout.length, layout.inner, t)
    case .double: f64(asD(xb), asD(ob), layout.outer, layout.length, layout.inner, t)
    }
}
