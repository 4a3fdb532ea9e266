import CLossKernels

/// The elementwise losses with a fused, vectorized forward+backward kernel.
public enum PointwiseLossKind: Int32, Sendable, CaseIterable {
    /// `(x - y)²`, gradient `2 (x - y)`.
    case squaredError = 0
    /// `|x - y|`, gradient `sign(x - y)` with `sign(0) = 0`.
    case absoluteError = 1
    /// `(1 - y) x + log(1 + exp(-x))` on logits `x` (binary cross-entropy with
    /// logits, computed as `max(-x, 0) + log1p(exp(-|x|))`, never overflowing),
    /// gradient `(1 - y) - σ(-x)`.
    case logisticWithLogits = 2
}

/// Elements per block of the sum: blocks are fixed by the length alone (at most
/// 256 of them), and their Double partial sums are added in order, so the sum is
/// bitwise identical for any thread count.
@usableFromInline func pointwiseBlockLength(_ n: Int) -> Int {
    let wanted = max(1 << 14, (n + 255) / 256)
    return (wanted + 15) / 16 * 16
}

/// A pointwise loss over `input` and `target` in one pass: returns the sum of the
/// per-element values (accumulated in Double), and writes, when given, the
/// per-element values and the gradient `gradientScale · upstream_i · ∂value_i/∂x_i`.
///
/// A `mean` caller passes `gradientScale = 1/n` and divides the sum by `n`. The
/// gradient with respect to the target is `-gradient` for the two regression kinds.
/// Nothing is allocated; on a thrown error nothing is written.
public func pointwiseLoss<T: KernelScalar>(
    _ kind: PointwiseLossKind, input: UnsafeBufferPointer<T>, target: UnsafeBufferPointer<T>,
    values: UnsafeMutableBufferPointer<T>? = nil, gradient: UnsafeMutableBufferPointer<T>? = nil,
    gradientScale: T = 1, upstream: UnsafeBufferPointer<T>? = nil, threads: Int = 1
) throws -> T {
    let precision = try requireCKernels(T.self)
    try checkThreads(threads)
    let n = input.count
    let layout = AxisLayout(outer: 1, length: n)
    try checkCount("target", target.count, n, layout)
    if let values { try checkCount("values", values.count, n, layout) }
    if let gradient { try checkCount("gradient", gradient.count, n, layout) }
    if let upstream { try checkCount("upstream", upstream.count, n, layout) }
    let block = pointwiseBlockLength(n)
    // Gradients larger than the last-level cache bypass it (non-temporal stores): no
    // read-for-ownership, no later eviction. Decided by the length alone.
    let stream: Int32 = n * MemoryLayout<T>.size >= 16 << 20 ? 1 : 0
    let blocks = (n + block - 1) / block
    let xb = base(input), yb = base(target)
    let vb = values.map(base), gb = gradient.map(base), ub = upstream.map(base)
    return withUnsafeTemporaryAllocation(of: Double.self, capacity: max(blocks, 1)) { partials in
        splitBlocks(blocks, elementsPerBlock: block, threads: threads) { range in
            for b in range {
                let lo = b * block, count = min(block, n - lo)
                switch precision {
                case .single:
                    partials[b] = lk_pointwise_f32(
                        kind.rawValue, asF(xb) + lo, asF(yb) + lo, count, vb.map { asF($0) + lo }, gb.map { asF($0) + lo },
                        ub.map { asF($0) + lo }, Float(gradientScale), stream)
                case .double:
                    partials[b] = lk_pointwise_f64(
                        kind.rawValue, asD(xb) + lo, asD(yb) + lo, count, vb.map { asD($0) + lo }, gb.map { asD($0) + lo },
                        ub.map { asD($0) + lo }, Double(gradientScale))
                }
            }
        }
        var total = 0.0
        for b in 0..<blocks { total += partials[b] }
        return T(total)
    }
}

/// The instruction set the vectorized Float kernels use, chosen when the library
/// loads (the best the CPU supports; `LOSSKIT_ISA=base|avx2` caps it).
public enum InstructionSet: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case baseline = 0
    case avx2 = 1
    case avx512 = 2

    /// The set in use.
    public static var active: InstructionSet { InstructionSet(rawValue: lk_instruction_set()) ?? .baseline }

    /// Switches the Float kernels to `set`; returns false (and changes nothing)
    /// when the CPU lacks it. Safe while other threads compute: each kernel call
    /// runs wholly on the set that was active when it started.
    @discardableResult
    public static func select(_ set: InstructionSet) -> Bool { lk_set_instruction_set(set.rawValue) != 0 }

    public var description: String {
        switch self {
        case .baseline: return "baseline"
        case .avx2: return "AVX2+FMA"
        case .avx512: return "AVX-512"
        }
    }
}
