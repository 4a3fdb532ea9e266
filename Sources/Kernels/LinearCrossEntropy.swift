import CLossKernels

/// Options of the fused linear + cross-entropy kernel
/// ``linearCrossEntropy(input:weight:bias:targets:classWeights:shape:options:losses:gradients:gradientScale:upstream:workspace:)``.
public struct LinearCrossEntropyOptions<T: KernelScalar>: Sendable {
    /// Target value whose rows contribute nothing (loss 0, zero gradient).
    public var ignoreIndex: Int = -100
    /// Label smoothing `ε` in `[0, 1]`.
    public var labelSmoothing: T = 0
    /// Coefficient `z ≥ 0` of `lse²`, added to every kept row's loss.
    public var zLoss: T = 0
    /// Soft cap `s > 0`: logits become `s · tanh(logit / s)` before the softmax; nil for none.
    public var softcap: T? = nil
    /// Token rows per chunk (the scratch holds `chunkRows × V` logits).
    public var chunkRows: Int = 1
    /// Threads for the softmax part (rows split across them); results do not depend on it.
    public var threads: Int = 1

    /// The defaults: ignore index -100, no smoothing, no z-loss, no soft cap, one row per chunk, one thread.
    public init() {}
}

/// Sizes of a linear head: `N` tokens, hidden size `D`, vocabulary `V`.
public struct LinearHeadShape: Sendable, Equatable {
    /// The number of token rows `N`.
    public var tokens: Int
    /// The hidden size `D`: the length of each input row and of each weight row.
    public var hidden: Int
    /// The vocabulary size `V`: the number of classes (rows of the weight).
    public var vocabulary: Int

    /// The sizes `N`, `D` and `V` of a linear head.
    public init(tokens: Int, hidden: Int, vocabulary: Int) {
        self.tokens = tokens
        self.hidden = hidden
        self.vocabulary = vocabulary
    }
}

/// Destinations of the gradients of
/// ``linearCrossEntropy(input:weight:bias:targets:classWeights:shape:options:losses:gradients:gradientScale:upstream:workspace:)``.
/// Every buffer is overwritten (its previous contents are never read).
public struct LinearCrossEntropyGradients<T>: @unchecked Sendable {
    /// `N × D`.
    public var input: UnsafeMutableBufferPointer<T>
    /// `V × D`.
    public var weight: UnsafeMutableBufferPointer<T>
    /// `V`, or nil when there is no bias (or its gradient is not wanted).
    public var bias: UnsafeMutableBufferPointer<T>?

    /// Destinations for the input, weight and (optional) bias gradients.
    public init(input: UnsafeMutableBufferPointer<T>, weight: UnsafeMutableBufferPointer<T>, bias: UnsafeMutableBufferPointer<T>?) {
        self.input = input
        self.weight = weight
        self.bias = bias
    }
}

/// The number of token rows per chunk for a memory budget of `budgetBytes`. The
/// largest `k ≤ tokens` whose `k × (V + 1)` scratch scalars (the chunk's logits and
/// one BLAS helper value per row) fit in 31/32 of the budget (the last 1/32 is left
/// for OpenBLAS's packing buffers, which it allocates on first use) gives the number
/// of chunks, `ceil(N / k)`; the rows are then spread evenly over them, so that the
/// last chunk is not a sliver (GEMMs with few rows are slow). At least 1.
/// - Throws: ``LossError/invalidOption(name:value:expected:)`` when not even one row fits.
public func linearCrossEntropyChunkRows<T: KernelScalar>(
    tokens: Int, vocabulary: Int, budgetBytes: Int, scalar _: T.Type = T.self
) throws -> Int {
    guard tokens >= 0, vocabulary >= 0 else {
        throw LossError.shapeMismatch(
            argument: "shape", expected: "non-negative sizes", actual: "[\(tokens), \(vocabulary)] (N, V)")
    }
    // One row of V + 1 scalars, and the smallest budget b whose b - b/32 holds it (at most
    // perRow + ceil(perRow / 31), a step or two above the least): no overflow, no long search.
    let (columns, o1) = vocabulary.addingReportingOverflow(1)
    let (perRow, o2) = columns.multipliedReportingOverflow(by: MemoryLayout<T>.stride)
    let (bound, o3) = perRow.addingReportingOverflow((perRow + 30) / 31)
    guard !o1, !o2, !o3 else {
        throw LossError.invalidOption(
            name: "memory_budget", value: "\(budgetBytes) bytes",
            expected: "room for one row of \(vocabulary) logits of \(T.self), more bytes than an Int counts")
    }
    let usable = budgetBytes - budgetBytes / 32
    guard usable >= perRow else {
        var minimum = bound
        while minimum - 1 >= perRow, (minimum - 1) - (minimum - 1) / 32 >= perRow { minimum -= 1 }
        throw LossError.invalidOption(
            name: "memory_budget", value: "\(budgetBytes) bytes",
            expected: "at least \(minimum) bytes (one row of \(vocabulary) logits of \(T.self), plus 1/32 for BLAS)")
    }
    let largest = max(1, min(tokens, usable / perRow))
    let chunks = (tokens + largest - 1) / largest
    return chunks == 0 ? largest : (tokens + chunks - 1) / chunks
}

/// Scalars of workspace ``linearCrossEntropy(input:weight:bias:targets:classWeights:shape:options:losses:gradients:gradientScale:upstream:workspace:)``
/// needs for chunks of `chunkRows` rows: the chunk's logits and a column of ones
/// (`Int.max` when that count does not fit an `Int`: no buffer is that large).
public func linearCrossEntropyWorkspaceCount(chunkRows: Int, vocabulary: Int) -> Int {
    let (columns, o1) = vocabulary.addingReportingOverflow(1)
    let (count, o2) = chunkRows.multipliedReportingOverflow(by: columns)
    return o1 || o2 ? Int.max : count
}

/// Fused `cross_entropy(input · weightᵀ + bias, targets)` over chunks of token rows,
/// never materializing the `N × V` logits; optionally with its gradients.
///
/// Per chunk of `k = options.chunkRows` rows: one GEMM writes the `k × V` logits into
/// a scratch buffer, the fused in-place kernel (`lk_lce_rows` in CLossKernels) overwrites them with the
/// gradient `gradientScale · upstream[row] · ∂loss[row]/∂logits`, then one GEMM
/// writes the chunk's input gradient `G · W` and one accumulates `Gᵀ · X` into the
/// weight gradient (beta = 1 after the first chunk); the bias gradient accumulates
/// the column sums of `G` (a GEMV with a vector of ones).
///
/// Per-row formulas (with `y = softcap(x + b)`, class weights `w`, smoothing `ε`):
///
///     loss = (1 - ε) w_t (lse - y_t) + (ε / V) sum_c w_c (lse - y_c) + z lse²
///     ∂loss/∂y_c = p_c ((1 - ε) w_t + (ε / V) sum_k w_k + 2 z lse) - (1 - ε) w_t [c = t] - (ε / V) w_c
///     ∂loss/∂x_c = ∂loss/∂y_c · (1 - (y_c / s)²)        (s the soft cap; factor 1 without one)
///
/// Rows whose target is `ignoreIndex` get loss 0 and a zero gradient. Everything
/// is validated before anything is written.
/// - Parameters:
///   - input: `N × D`, row-major.
///   - weight: `V × D`, row-major: one row per vocabulary entry.
///   - bias: `V`, or nil for none.
///   - targets: `N` class indices in `0..<V` or `ignoreIndex`.
///   - classWeights: `V` or nil.
///   - shape: the sizes `N`, `D` and `V`.
///   - options: ignored index, smoothing, z-loss, soft cap, chunk size and threads.
///   - losses: `N` per-row losses (written).
///   - gradients: where to write the gradients, or nil for the forward pass alone.
///   - gradientScale: a factor on every gradient (`1 / denominator` for `mean`).
///   - upstream: `N` per-row upstream gradients, or nil for all ones.
///   - workspace: scratch of at least ``linearCrossEntropyWorkspaceCount(chunkRows:vocabulary:)``
///     scalars, reused across calls so that nothing is allocated (nil: allocated per call).
public func linearCrossEntropy<T: KernelScalar>(
    input: UnsafeBufferPointer<T>, weight: UnsafeBufferPointer<T>, bias: UnsafeBufferPointer<T>?,
    targets: UnsafeBufferPointer<Int>, classWeights: UnsafeBufferPointer<T>? = nil, shape: LinearHeadShape,
    options: LinearCrossEntropyOptions<T>, losses: UnsafeMutableBufferPointer<T>,
    gradients: LinearCrossEntropyGradients<T>?, gradientScale: T = 1, upstream: UnsafeBufferPointer<T>? = nil,
    workspace: UnsafeMutableBufferPointer<T>? = nil
) throws {
    if isSixteenBit(T.self) {
        // Float copies of the inputs, Float gradients, rounded once into the caller's buffers.
        var lf = floatOutput(losses), gx = floatOutput(gradients?.input), gw = floatOutput(gradients?.weight)
        var gb = floatOutput(gradients?.bias)
        var wide = LinearCrossEntropyOptions<Float>()
        wide.ignoreIndex = options.ignoreIndex
        wide.labelSmoothing = Float(options.labelSmoothing)
        wide.zLoss = Float(options.zLoss)
        wide.softcap = options.softcap.map { Float($0) }
        wide.chunkRows = options.chunkRows
        wide.threads = options.threads
        try floatCopy(input).withUnsafeBufferPointer { xf in
            try floatCopy(weight).withUnsafeBufferPointer { wf in
                try withFloatBuffer(floatCopy(optional: bias)) { bf in
                    try withFloatBuffer(floatCopy(optional: classWeights)) { cf in
                        try withFloatBuffer(floatCopy(optional: upstream)) { uf in
                            try withFloatMutableBuffer(&lf) { lb in
                                try withFloatMutableBuffer(&gx) { gxb in
                                    try withFloatMutableBuffer(&gw) { gwb in
                                        try withFloatMutableBuffer(&gb) { gbb in
                                            try linearCrossEntropy(
                                                input: xf, weight: wf, bias: bf, targets: targets, classWeights: cf,
                                                shape: shape, options: wide, losses: lb!,
                                                gradients: gradients == nil
                                                    ? nil : LinearCrossEntropyGradients(input: gxb!, weight: gwb!, bias: gbb),
                                                gradientScale: Float(gradientScale), upstream: uf)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        storeRounded(lf, losses)
        storeRounded(gx, gradients?.input)
        storeRounded(gw, gradients?.weight)
        return storeRounded(gb, gradients?.bias)
    }
    let precision = try requireCKernels(T.self)
    let n = shape.tokens, d = shape.hidden, v = shape.vocabulary
    guard n >= 0, d >= 0, v >= 0 else {
        throw LossError.shapeMismatch(argument: "shape", expected: "non-negative sizes", actual: "[\(n), \(d), \(v)]")
    }
    func check(_ name: String, _ count: Int, _ expected: Int, _ described: String) throws {
        guard count == expected else {
            throw LossError.shapeMismatch(argument: name, expected: "\(expected) elements (\(described))", actual: "\(count) elements")
        }
    }
    func product(_ a: Int, _ b: Int) throws -> Int {
        let (p, overflow) = a.multipliedReportingOverflow(by: b)
        guard !overflow else {
            throw LossError.shapeMismatch(argument: "shape", expected: "sizes whose products fit an Int", actual: "[\(n), \(d), \(v)]")
        }
        return p
    }
    let nd = try product(n, d), vd = try product(v, d)
    try check("input", input.count, nd, "N × D = \(n) × \(d)")
    try check("weight", weight.count, vd, "V × D = \(v) × \(d)")
    if let bias { try check("bias", bias.count, v, "V = \(v)") }
    try check("target", targets.count, n, "N = \(n)")
    if let classWeights { try check("class weight", classWeights.count, v, "V = \(v)") }
    try check("losses", losses.count, n, "N = \(n)")
    if let upstream { try check("upstream", upstream.count, n, "N = \(n)") }
    if let gradients {
        try check("input gradient", gradients.input.count, nd, "N × D = \(n) × \(d)")
        try check("weight gradient", gradients.weight.count, vd, "V × D = \(v) × \(d)")
        if let gb = gradients.bias { try check("bias gradient", gb.count, v, "V = \(v)") }
    }
    try checkLinearCrossEntropyOptions(options)
    guard v > 0 || n == 0 else {
        throw LossError.emptyInput(argument: "weight", reason: "cross-entropy needs at least one class (V > 0)")
    }
    try checkClassIndices(targets, classes: v, ignoreIndex: options.ignoreIndex)
    // With D = 0 the N × V logits come from no data (all zero, or the bias): as many as a
    // shape without elements may describe, not as many as two headers can claim.
    if d == 0, n > 0, try product(n, v) > maximumEmptyShapeRows {
        throw LossError.shapeMismatch(
            argument: "input", expected: "N × V at most \(maximumEmptyShapeRows) logits when D is 0 (they hold no data)",
            actual: "N × V = \(n) × \(v)")
    }

    if let gradients {
        // The first chunk's weight GEMM overwrites (beta = 0); without rows or hidden units it never runs.
        if n == 0 || d == 0 { gradients.weight.update(repeating: 0) }
        gradients.bias?.update(repeating: 0)
    }
    guard n > 0 else { return }

    let rowsPerChunk = min(options.chunkRows, n)
    // The chunk's logits and a column of ones (for the bias GEMV): in the caller's
    // workspace when one is given (nothing allocated), else allocated for this call.
    let needed = linearCrossEntropyWorkspaceCount(chunkRows: rowsPerChunk, vocabulary: v)
    if let workspace, workspace.count < needed {
        throw LossError.shapeMismatch(
            argument: "workspace", expected: "at least \(needed) elements (chunk rows × (V + 1))",
            actual: "\(workspace.count) elements")
    }
    if workspace == nil { try checkAllocation(needed, of: T.self, argument: "workspace", shape: [rowsPerChunk, v + 1]) }
    let owned = workspace == nil ? UnsafeMutableBufferPointer<T>.allocate(capacity: needed) : nil
    defer { owned?.deallocate() }
    let space = workspace ?? owned!
    let scratch = UnsafeMutableBufferPointer(rebasing: space[0..<rowsPerChunk * v])
    let ones = UnsafeMutableBufferPointer(rebasing: space[rowsPerChunk * v..<needed])
    ones.update(repeating: 1)

    let xb = base(input), wb = base(weight), tb = asI64(base(targets)), lb = base(losses), sb = base(scratch)
    let bb = bias.map(base), cw = classWeights.map(base), ub = upstream.map(base)
    let cap = options.softcap ?? 0
    let wantGradient: Int32 = gradients == nil ? 0 : 1
    var start = 0
    while start < n {
        let k = min(rowsPerChunk, n - start)
        // Logits of the chunk: X[start ..< start + k] · Wᵀ (k × V).
        if d > 0 {
            BLAS.gemm(
                transposeA: false, transposeB: true, m: k, n: v, k: d, alpha: 1, a: xb + start * d, lda: d,
                b: wb, ldb: d, beta: 0, c: sb, ldc: v)
        } else {
            sb.update(repeating: 0, count: k * v)
        }
        // Loss and gradient of the logits, in place, rows split across threads.
        let row = start, threads = Int32(clamping: options.threads)
        switch precision {
        case .single:
            lk_lce_rows_f32(
                asF(sb), bb.map { asF($0) }, tb + row, cw.map { asF($0) }, Int64(options.ignoreIndex),
                Float(options.labelSmoothing), Float(options.zLoss), Float(cap), k, v, asF(lb) + row,
                ub.map { asF($0) + row }, Float(gradientScale), wantGradient, threads)
        case .double:
            lk_lce_rows_f64(
                asD(sb), bb.map { asD($0) }, tb + row, cw.map { asD($0) }, Int64(options.ignoreIndex),
                Double(options.labelSmoothing), Double(options.zLoss), Double(cap), k, v, asD(lb) + row,
                ub.map { asD($0) + row }, Double(gradientScale), wantGradient, threads)
        }
        if let gradients, v > 0 {
            if d > 0 {
                // dX[chunk] = G · W (k × D); dW += Gᵀ · X[chunk] (V × D).
                BLAS.gemm(
                    transposeA: false, transposeB: false, m: k, n: d, k: v, alpha: 1, a: sb, lda: v, b: wb, ldb: d,
                    beta: 0, c: base(gradients.input) + start * d, ldc: d)
                BLAS.gemm(
                    transposeA: true, transposeB: false, m: v, n: d, k: k, alpha: 1, a: sb, lda: v,
                    b: xb + start * d, ldb: d, beta: start == 0 ? 0 : 1, c: base(gradients.weight), ldc: d)
            }
            if let gbias = gradients.bias {
                BLAS.gemv(
                    transposeA: true, m: k, n: v, alpha: 1, a: sb, lda: v, x: base(ones), beta: 1, y: base(gbias))
            }
        }
        start += k
    }
}

/// Validates the options (shared with the `Loss` module's wrapper).
public func checkLinearCrossEntropyOptions<T: KernelScalar>(_ options: LinearCrossEntropyOptions<T>) throws {
    try checkThreads(options.threads)
    guard options.labelSmoothing >= 0 && options.labelSmoothing <= 1 else {
        throw LossError.invalidOption(
            name: "label_smoothing", value: "\(options.labelSmoothing)", expected: "a value in [0, 1]")
    }
    guard options.zLoss.isFinite && options.zLoss >= 0 else {
        throw LossError.invalidOption(name: "z_loss", value: "\(options.zLoss)", expected: "a finite number >= 0")
    }
    if let cap = options.softcap, !(cap.isFinite && cap > 0) {
        throw LossError.invalidOption(name: "softcap", value: "\(cap)", expected: "a finite number > 0 (or none)")
    }
    guard options.chunkRows >= 1 else {
        throw LossError.invalidOption(name: "chunk_rows", value: "\(options.chunkRows)", expected: "at least 1 row")
    }
}
