import CLossKernels

/// Softmax along an axis: `y_c = exp(x_c - m) / sum_k exp(x_k - m)` with
/// `m = max_k x_k`, so no exponential overflows.
///
/// Semantics follow `torch.softmax`: a row containing NaN is all NaN, a `-inf`
/// entry gets probability exactly 0, and a row that is all `-inf` is NaN.
/// The sum of exponentials accumulates in Double for both precisions.
///
/// Float16 and BFloat16 storage computes in Float, as PyTorch's CPU kernels do (float32
/// accumulation, results in the input's type): each output is the Float kernel's result on
/// the inputs widened to Float, rounded once to nearest even (NaN stays NaN). The 16-bit
/// kernels read and write 16-bit memory only; the same holds for the backward passes.
/// - Parameters:
///   - x: the input, `layout.count` elements.
///   - layout: how `x` is seen along the axis the softmax is taken over.
///   - y: output storage of the same size (may not alias `x`).
///   - threads: rows are split across up to this many threads; results do not depend on it.
public func softmax<T: KernelScalar>(
    _ x: UnsafeBufferPointer<T>, layout: AxisLayout, into y: UnsafeMutableBufferPointer<T>, threads: Int = 1
) throws {
    try softmaxKernel(x, layout: layout, into: y, log: false, threads: threads)
}

/// Log-softmax along an axis: `y_c = (x_c - m) - log sum_k exp(x_k - m)`.
///
/// Computing `x - m` first keeps large logits exact (PyTorch does the same);
/// `-inf` entries give `-inf`. Gradient: see
/// ``logSoftmaxBackward(output:upstream:layout:into:threads:)-(UnsafeBufferPointer<T>,_,_,_,_)``.
public func logSoftmax<T: KernelScalar>(
    _ x: UnsafeBufferPointer<T>, layout: AxisLayout, into y: UnsafeMutableBufferPointer<T>, threads: Int = 1
) throws {
    try softmaxKernel(x, layout: layout, into: y, log: true, threads: threads)
}

func softmaxKernel<T: KernelScalar>(
    _ x: UnsafeBufferPointer<T>, layout: AxisLayout, into y: UnsafeMutableBufferPointer<T>, log: Bool, threads: Int
) throws {
    try checkThreads(threads)
    try layout.validate()
    try checkCount("input", x.count, layout.count, layout)
    try checkCount("output", y.count, layout.count, layout)
    // Nothing to write: rows of length 0 (however many a shape without elements
    // describes) are not visited one by one.
    guard layout.count > 0 else { return }
    let xb = base(x), yb = base(y), t = Int32(clamping: threads)
    if isSixteenBit(T.self) {
        if lk_softmax_h16(
            asH(xb), asH(yb), layout.outer, layout.length, layout.inner, log ? 1 : 0, halfFormat(T.self), t) == 0 { return }
        var yf = floatOutput(y)
        try floatCopy(x).withUnsafeBufferPointer { xf in
            try withFloatMutableBuffer(&yf) { try softmaxKernel(xf, layout: layout, into: $0!, log: log, threads: threads) }
        }
        return storeRounded(yf, y)
    }
    let precision = try requireCKernels(T.self)
    switch precision {
    case .single: lk_softmax_f32(asF(xb), asF(yb), layout.outer, layout.length, layout.inner, log ? 1 : 0, t)
    case .double: lk_softmax_f64(asD(xb), asD(yb), layout.outer, layout.length, layout.inner, log ? 1 : 0, t)
    }
}

/// Backward of softmax: given `y = softmax(x)` and the upstream gradient `dy`,
/// `dx_c = y_c (dy_c - sum_k dy_k y_k)`.
public func softmaxBackward<T: KernelScalar>(
    output y: UnsafeBufferPointer<T>, upstream dy: UnsafeBufferPointer<T>, layout: AxisLayout,
    into dx: UnsafeMutableBufferPointer<T>, threads: Int = 1
) throws {
    try softmaxBackwardKernel(y, dy, layout, dx, log: false, threads: threads)
}

/// Backward of log-softmax: given `y = log_softmax(x)` and the upstream gradient
/// `dy`, `dx_c = dy_c - exp(y_c) sum_k dy_k`.
public func logSoftmaxBackward<T: KernelScalar>(
    output y: UnsafeBufferPointer<T>, upstream dy: UnsafeBufferPointer<T>, layout: AxisLayout,
    into dx: UnsafeMutableBufferPointer<T>, threads: Int = 1
) throws {
    try softmaxBackwardKernel(y, dy, layout, dx, log: true, threads: threads)
}

func softmaxBackwardKernel<T: KernelScalar>(
    _ y: UnsafeBufferPointer<T>, _ dy: UnsafeBufferPointer<T>, _ layout: AxisLayout,
    _ dx: UnsafeMutableBufferPointer<T>, log: Bool, threads: Int
) throws {
    try checkThreads(threads)
    try layout.validate()
    try checkCount("output", y.count, layout.count, layout)
    try checkCount("upstream", dy.count, layout.count, layout)
    try checkCount("gradient", dx.count, layout.count, layout)
    guard layout.count > 0 else { return }
    let yb = base(y), db = base(dy), xb = base(dx), t = Int32(clamping: threads)
    if isSixteenBit(T.self) {
        if lk_softmax_backward_h16(
            asH(yb), asH(db), asH(xb), layout.outer, layout.length, layout.inner, log ? 1 : 0, halfFormat(T.self), t) == 0 {
            return
        }
        var dxf = floatOutput(dx)
        try floatCopy(y).withUnsafeBufferPointer { yf in
            try floatCopy(dy).withUnsafeBufferPointer { dyf in
                try withFloatMutableBuffer(&dxf) { try softmaxBackwardKernel(yf, dyf, layout, $0!, log: log, threads: threads) }
            }
        }
        return storeRounded(dxf, dx)
    }
    let precision = try requireCKernels(T.self)
    switch precision {
    case .single:
        lk_softmax_backward_f32(asF(yb), asF(db), asF(xb), layout.outer, layout.length, layout.inner, log ? 1 : 0, t)
    case .double:
        lk_softmax_backward_f64(asD(yb), asD(db), asD(xb), layout.outer, layout.length, layout.inner, log ? 1 : 0, t)
    }
}
