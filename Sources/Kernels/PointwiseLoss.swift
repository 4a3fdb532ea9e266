import CLossKernels

/// The elementwise losses with a fused, vectorized forward+backward kernel.
public enum PointwiseLossKind: Int32, Sendable, CaseIterable {
    /// `(x - y)²`, gradient `2 (x - y)`, formed as `(2 · gradientScale · upstream_i) (x - y)`,
    /// as PyTorch's `(x - y) · (2 / n) · upstream` for `mean` (never `2 (x - y)` first, which
    /// overflows Float for `x - y` beyond 1.7e38 when the scaled gradient does not).
    case squaredError = 0
    /// `|x - y|`, gradient `sign(x - y)` with `sign(0) = 0` and `sign(NaN) = 0`, as `torch.sign`.
    case absoluteError = 1
    /// `(1 - y) x + log(1 + exp(-x))` on logits `x` (binary cross-entropy with
    /// logits, computed as `max(-x, 0) + log1p(exp(-|x|))`, never overflowing),
    /// gradient `(1 - y) - σ(-x)`.
    case logisticWithLogits = 2
}

/// A pointwise loss over `input` and `target` in one pass: returns the sum of the
/// per-element values (accumulated in Double), and writes, when given, the
/// per-element values and the gradient `gradientScale · upstream_i · ∂value_i/∂x_i`.
///
/// A `mean` caller passes `gradientScale = 1/n` and divides the sum by `n`. The
/// gradient with respect to the target is `-gradient` for the two regression kinds.
/// The sum is taken over blocks fixed by the length alone (at most 256), whose
/// Double partial sums are added in order: it is bitwise identical for any thread
/// count. Gradients of 16 MiB or more are written with non-temporal stores.
/// Nothing is allocated; on a thrown error nothing is written.
///
/// Float16 and BFloat16 read and write 16-bit vectors and compute in Float, as PyTorch
/// (float32 arithmetic, results in the input's type): values and gradient entries are the
/// Float kernel's on the widened inputs, rounded once to nearest even; the returned sum is
/// its Double sum rounded to Float, then to the 16-bit type.
public func pointwiseLoss<T: KernelScalar>(
    _ kind: PointwiseLossKind, input: UnsafeBufferPointer<T>, target: UnsafeBufferPointer<T>,
    values: UnsafeMutableBufferPointer<T>? = nil, gradient: UnsafeMutableBufferPointer<T>? = nil,
    gradientScale: T = 1, upstream: UnsafeBufferPointer<T>? = nil, threads: Int = 1
) throws -> T {
    try checkThreads(threads)
    let n = input.count
    let layout = AxisLayout(outer: 1, length: n)
    try checkCount("target", target.count, n, layout)
    if let values { try checkCount("values", values.count, n, layout) }
    if let gradient { try checkCount("gradient", gradient.count, n, layout) }
    if let upstream { try checkCount("upstream", upstream.count, n, layout) }
    let xb = base(input), yb = base(target), t = Int32(clamping: threads)
    let vb = values.map { base($0) }, gb = gradient.map { base($0) }, ub = upstream.map { base($0) }
    if isSixteenBit(T.self) {
        // The Float kernel's Double sum, rounded to Float and then to the storage type, as
        // the Float form returns it and the 16-bit caller rounds it.
        let total = lk_pointwise_h16(
            kind.rawValue, asH(xb), asH(yb), n, vb.map { asH($0) }, gb.map { asH($0) }, ub.map { asH($0) },
            Float(gradientScale), halfFormat(T.self), t)
        return T(Float(total))
    }
    let precision = try requireCKernels(T.self)
    switch precision {
    case .single:
        return T(lk_pointwise_f32(
            kind.rawValue, asF(xb), asF(yb), n, vb.map { asF($0) }, gb.map { asF($0) }, ub.map { asF($0) },
            Float(gradientScale), t))
    case .double:
        return T(lk_pointwise_f64(
            kind.rawValue, asD(xb), asD(yb), n, vb.map { asD($0) }, gb.map { asD($0) }, ub.map { asD($0) },
            Double(gradientScale), t))
    }
}

/// The instruction set the vectorized Float kernels use, chosen when the library
/// loads (the best the CPU supports; `LOSSKIT_ISA=base|avx2` caps it).
public enum InstructionSet: Int32, Sendable, CaseIterable, CustomStringConvertible {
    /// x86-64 without AVX: SSE2, 4 lanes per instruction (the build every x86-64 CPU runs).
    case baseline = 0
    /// AVX2 with fused multiply-add and F16C (float16 conversions): 8 lanes.
    case avx2 = 1
    /// AVX-512 (F, DQ, BW, VL): 16 lanes, masked tails, `vscalefps` in the exponentials.
    case avx512 = 2

    /// The set in use.
    public static var active: InstructionSet { InstructionSet(rawValue: lk_instruction_set()) ?? .baseline }

    /// Switches the Float kernels to `set`; returns false (and changes nothing)
    /// when the CPU lacks it. Safe while other threads compute: each kernel call
    /// runs wholly on the set that was active when it started.
    @discardableResult
    public static func select(_ set: InstructionSet) -> Bool { lk_set_instruction_set(set.rawValue) != 0 }

    /// With ``avx512`` active, the 16-bit kernels' bfloat16 rounding by AVX512_BF16 (true,
    /// where the CPU has it, the default) or by the AVX-512 build's integer rounding (false),
    /// so that tests run both on one machine. False when the requested build cannot be used;
    /// ``select(_:)`` restores the default.
    @discardableResult
    package static func useAVX512BF16(_ enabled: Bool) -> Bool { lk_set_avx512_bf16(enabled ? 1 : 0) != 0 }

    public var description: String {
        switch self {
        case .baseline: return "baseline"
        case .avx2: return "AVX2+FMA"
        case .avx512: return "AVX-512"
        }
    }
}
