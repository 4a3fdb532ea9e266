import Kernels

/// Cross-entropy of a linear head, `torch.nn.functional.linear_cross_entropy`:
/// `cross_entropy(input · linear_weightᵀ + linear_bias, target)` computed in chunks
/// of tokens so that the `N × V` logits are never materialized, with its gradients
/// for the input, the weight and the bias computed in the same pass.
///
/// ```swift
/// let head = LinearCrossEntropyLoss<Float>(labelSmoothing: 0.1)
/// let result = try head.valueWithGradient(hidden, outputWeight, target: tokens)
/// let weightGradient = try result.gradient(of: .linearWeight)
/// ```
///
/// Shapes: `input` `(N, D)` (or `(*, D)`: leading dimensions are flattened; PyTorch
/// takes `(D)` and `(N, D)` only), `linearWeight` `(V, D)`, optional `linearBias` `(V)`,
/// `target` `(N)` (or `(*)`) class indices in `0..<V` or `ignoreIndex`; ``weight``
/// `(V)` holds class weights (PyTorch's `weight=`, one per vocabulary entry).
///
/// PyTorch 2.15's other forms are taken too, as `cross_entropy` of the logits
/// `(N, V, *out_features)` would take them:
/// - a weight `(V, *out_features, D)` (with a bias `(V, *out_features)`), for an
///   input `(N, D)`, with class-index targets `(N, *out_features)`;
/// - class probabilities of the logits' shape (`(V)`, `(N, V)` or
///   `(N, V, *out_features)`) as the target, which is then differentiated too; `mean`
///   divides by the number of samples `N · prod(out_features)`.
/// These run in chunks of token rows through ``CrossEntropyLoss`` (the logits of one
/// chunk materialized, within the same memory budget) and take neither `zLoss` nor
/// `softcap`. ``ignoreIndex`` is nil by default, as PyTorch 2.15's `None`: -100 for
/// class indices, and the only value probability targets take.
///
/// ## Formula
/// With `x = input_n · weightᵀ + bias` (one row of logits), `y_c = s · tanh(x_c / s)`
/// when a soft cap `s` is set (Gemma 2) and `y = x` otherwise, `lse = log sum_c exp(y_c)`,
/// class weights `w`, label smoothing `ε` and z-loss coefficient `z`, the loss of a
/// row whose target `t` is not ignored is
///
///     loss_n = (1 - ε) w_t (lse - y_t) + (ε / V) sum_c w_c (lse - y_c) + z · lse²
///
/// and 0 for ignored rows. Reduction: `none` returns `loss_n` (shape of `target`);
/// `sum` adds them; `mean` divides the sum by **the sum of `w_t` over rows not
/// ignored** (the count of those rows without class weights), as `cross_entropy`
/// does. The z-loss term is not multiplied by `w_t` and is divided by that same
/// denominator (our choice: PyTorch has no z-loss; it keeps `mean` equal to
/// `cross_entropy(mean) + z · sum(lse²) / denominator`, which is PaLM's
/// per-token mean when unweighted). If every row is ignored, `mean` is NaN (0/0).
///
/// ## Gradients
/// With `p = softmax(y)`, `G_nc = g_n ∂loss_n/∂x_c` where
///
///     ∂loss/∂y_c = p_c ((1 - ε) w_t + (ε / V) sum_k w_k + 2 z lse) - (1 - ε) w_t [c = t] - (ε / V) w_c
///     ∂loss/∂x_c = ∂loss/∂y_c · (1 - (y_c / s)²)      (no factor without a soft cap)
///
/// and `g_n` is the upstream gradient of row n (`u / denominator` for `mean`, `u`
/// for `sum`, `upstream[n]` for `none`). Then `∂/∂input = G · weight`,
/// `∂/∂weight = Gᵀ · input`, `∂/∂bias = column sums of G`.
///
/// The loss of `mean`/`sum` is a scalar, so the gradients are computed in the
/// same pass as the loss, already scaled by the upstream gradient. For `none` the
/// per-row upstream must be known before the chunks run: ``LossFunction/backward(_:upstream:)``
/// takes it (`valueWithGradient(_:_:target:linearBias:)` uses ones).
///
/// ## Chunking and memory
/// Tokens are processed `k` rows at a time: one GEMM writes the chunk's `k × V`
/// logits into scratch memory, a fused kernel overwrites them in place with their
/// gradient (the mean denominator comes from a pre-pass over the targets, so the
/// scaling happens inside the kernel), one GEMM writes the chunk's rows of the
/// input gradient and one accumulates (beta = 1) into the weight gradient; the bias
/// gradient accumulates the column sums. `k` is `chunkRows` when set, otherwise
/// derived from `memoryBudget` (64 MiB by default): the fewest chunks whose
/// `k × (V + 1)` scalars fit 31/32 of the budget (the rest is left for OpenBLAS's
/// packing buffers), with the rows spread evenly over them. Beyond its inputs and
/// returned gradients the call allocates that scratch plus O(N) per-row values
/// (losses, upstream). Only the token axis is chunked: each chunk holds whole rows
/// of `V` logits, so the softmax statistics need no second pass.
///
/// ## Threads and determinism
/// The GEMMs use OpenBLAS's threads (`blasThreads` sets `openblas_set_num_threads`
/// for the call, process-wide, and restores the previous count); `threads` splits
/// the softmax rows. Results are bitwise reproducible for a given chunk size,
/// OpenBLAS thread count, OpenBLAS build, CPU and instruction set:
/// - `threads` never changes them (rows are independent; tested);
/// - the chunk size (`chunkRows`, or the `memoryBudget` and N, V that set it)
///   changes the rounding of the weight and bias gradients (sums over chunks) and
///   of the input gradient (OpenBLAS picks its blocking from the GEMM's row count);
///   per-row losses were identical across chunk sizes in our runs, but BLAS does
///   not promise it;
/// - the OpenBLAS thread count may change the GEMMs' summation order;
/// - Float rows use the vectorized kernel, whose fused multiply-adds (AVX2,
///   AVX-512) round differently from the baseline set (`LOSSKIT_ISA`).
///
/// ## Measured (release, AMD EPYC with AVX-512, Float, `linear-ce-bench`)
/// - N = 8192, D = 256, V = 128256 (4 GB of logits if materialized), default
///   budget: 125-row chunks, peak RSS 62.5 MiB above the inputs and gradients.
/// - N = 1024, D = 512, V = 32000, one thread: 1.04× the same three GEMMs run on
///   the same chunks, 1.08× the three GEMMs on the whole batch (the chunking, the
///   softmax pass and faulting in fresh scratch memory each cost a few percent).
public struct LinearCrossEntropyLoss<Scalar: KernelScalar>: LossFunction {
    /// Per-vocabulary-entry class weights `(V)` (PyTorch's `weight=`), or nil.
    public var weight: Tensor<Scalar>?
    /// The class index whose samples are ignored; nil (PyTorch 2.15's default) means
    /// -100 for class-index targets and is the only value probability targets take.
    public var ignoreIndex: Int?
    /// Label smoothing `ε` in `[0, 1]` over the `V` classes.
    public var labelSmoothing: Scalar
    /// Coefficient of `lse²` per kept row (0: no z-loss; PaLM uses 1e-4).
    public var zLoss: Scalar
    /// Logit soft cap `s > 0` (`s · tanh(logit / s)`), or nil for none.
    public var softcap: Scalar?
    /// PyTorch's `reduction`: `.mean` (the default), `.sum` or `.none`; the type's documentation says what
    /// `mean` divides by.
    public var reduction: Reduction
    /// Bytes of scratch for the chunk's logits; sets the chunk size unless `chunkRows` is given.
    public var memoryBudget: Int
    /// Token rows per chunk; overrides `memoryBudget` when set.
    public var chunkRows: Int?
    /// Threads for the softmax part; results do not depend on it.
    public var threads: Int
    /// OpenBLAS threads for the GEMMs during the call, or nil to leave OpenBLAS's setting alone.
    public var blasThreads: Int?

    /// The default scratch budget for a chunk's logits: 64 MiB.
    public static var defaultMemoryBudget: Int { 64 << 20 }

    /// A fused linear + cross-entropy loss; the defaults are PyTorch's (no z-loss, no soft cap),
    /// a 64 MiB scratch budget, one thread for the softmax rows, and OpenBLAS's thread count left alone.
    public init(
        weight: Tensor<Scalar>? = nil, ignoreIndex: Int? = nil, labelSmoothing: Scalar = 0, zLoss: Scalar = 0,
        softcap: Scalar? = nil, reduction: Reduction = .mean, memoryBudget: Int = 64 << 20, chunkRows: Int? = nil,
        threads: Int = 1, blasThreads: Int? = nil
    ) {
        self.weight = weight
        self.ignoreIndex = ignoreIndex
        self.labelSmoothing = labelSmoothing
        self.zLoss = zLoss
        self.softcap = softcap
        self.reduction = reduction
        self.memoryBudget = memoryBudget
        self.chunkRows = chunkRows
        self.threads = threads
        self.blasThreads = blasThreads
    }

    /// The loss with its gradients, as the kernel returns them.
    struct Result {
        var value: Tensor<Scalar>
        var inputGradient: Tensor<Scalar>
        var weightGradient: Tensor<Scalar>
        var biasGradient: Tensor<Scalar>?
        /// The gradient for probability targets (PyTorch differentiates them).
        var targetGradient: Tensor<Scalar>? = nil
    }

    /// `input`, `linear_weight`, `target` (class indices or probabilities) and,
    /// optionally, `linear_bias` (used and differentiated when present), named and
    /// ordered as in PyTorch.
    public var inputSpecs: [InputSpec] {
        [
            .values("input"), .values("linear_weight"), InputSpec("target", kind: .indicesOrValues),
            InputSpec("linear_bias", isOptional: true),
        ]
    }

    /// The loss of the linear head `linearWeight` (`(V, D)`, and `linearBias` `(V)`)
    /// on `input` against the class indices `target`, without the gradient GEMMs.
    public func callAsFunction(
        _ input: Tensor<Scalar>, _ linearWeight: Tensor<Scalar>, target: Tensor<Int>, linearBias: Tensor<Scalar>? = nil
    ) throws -> Tensor<Scalar> {
        if isSixteenBit(Scalar.self) {
            return try typedValue([.values(input), .values(linearWeight), .indices(target), linearBias.map { .values($0) }])
        }
        return try inSwiftTerms {
            try evaluate(input: input, weight: linearWeight, bias: linearBias, target: .indices(target), upstream: nil, gradients: false)
                .value
        }
    }

    /// The loss of the linear head against class probabilities `target` (the logits'
    /// shape: `(V)`, `(N, V)` or `(N, V, *out_features)`).
    public func callAsFunction(
        _ input: Tensor<Scalar>, _ linearWeight: Tensor<Scalar>, target: Tensor<Scalar>, linearBias: Tensor<Scalar>? = nil
    ) throws -> Tensor<Scalar> {
        if isSixteenBit(Scalar.self) {
            return try typedValue([.values(input), .values(linearWeight), .values(target), linearBias.map { .values($0) }])
        }
        return try inSwiftTerms {
            try evaluate(input: input, weight: linearWeight, bias: linearBias, target: .values(target), upstream: nil, gradients: false)
                .value
        }
    }

    /// The loss and its gradients in one chunked pass: ``ValueWithGradient/gradient``
    /// is the input's, `gradient(of: .linearWeight)` the weight's and
    /// `gradient(of: .linearBias)` the bias's (when a bias is given).
    public func valueWithGradient(
        _ input: Tensor<Scalar>, _ linearWeight: Tensor<Scalar>, target: Tensor<Int>, linearBias: Tensor<Scalar>? = nil
    ) throws -> ValueWithGradient<Scalar> {
        try valueWithGradient(input, linearWeight, target: .indices(target), linearBias: linearBias)
    }

    /// The loss against class probabilities and its gradients, as for class indices;
    /// `gradient(of: .target)` is the probabilities' (PyTorch differentiates them).
    public func valueWithGradient(
        _ input: Tensor<Scalar>, _ linearWeight: Tensor<Scalar>, target: Tensor<Scalar>, linearBias: Tensor<Scalar>? = nil
    ) throws -> ValueWithGradient<Scalar> {
        try valueWithGradient(input, linearWeight, target: .values(target), linearBias: linearBias)
    }

    private func valueWithGradient(
        _ input: Tensor<Scalar>, _ linearWeight: Tensor<Scalar>, target: LossInput<Scalar>, linearBias: Tensor<Scalar>?
    ) throws -> ValueWithGradient<Scalar> {
        if isSixteenBit(Scalar.self) {
            // One fused pass of the Float loss on the widened tensors (forward and backward
            // apart would run the forward GEMMs twice), its results rounded once.
            let wide = rebound(to: Float.self) as! LinearCrossEntropyLoss<Float>
            let wideTarget: LossInput<Float>
            switch target {
            case .indices(let t): wideTarget = .indices(t)
            case .values(let q): wideTarget = .values(q.converted(to: Float.self))
            }
            return try wide.valueWithGradient(
                input.converted(to: Float.self), linearWeight.converted(to: Float.self), target: wideTarget,
                linearBias: linearBias?.converted(to: Float.self)
            ).converted(to: Scalar.self)
        }
        return try inSwiftTerms {
            // The output's shape for `none`: the input's rows, then out_features (evaluate validates them).
            let shape = reduction == .none ? Array(input.shape.dropLast()) + Array(linearWeight.shape.dropFirst().dropLast()) : []
            let ones = Tensor<Scalar>(uncheckedShape: shape, scalars: Array(repeating: 1, count: try checkedElementCount(shape)))
            let r = try evaluate(input: input, weight: linearWeight, bias: linearBias, target: target, upstream: ones, gradients: true)
            return try collect(value: r.value, gradients: gradients(r))
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        try validate(inputs)
        if let wide = try forwardInFloat(inputs) { return wide }
        let (x, w, b, t) = try unpack(inputs)
        return try evaluate(input: x, weight: w, bias: b, target: t, upstream: nil, gradients: false).value
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        try validate(inputs)
        if let wide = try backwardInFloat(inputs, upstream: upstream) { return wide }
        let (x, w, b, t) = try unpack(inputs)
        return gradients(try evaluate(input: x, weight: w, bias: b, target: t, upstream: upstream, gradients: true))
    }

    private func gradients(_ r: Result) -> [String: Tensor<Scalar>] {
        var grads = ["input": r.inputGradient, "linear_weight": r.weightGradient]
        if let gb = r.biasGradient { grads["linear_bias"] = gb }
        if let gt = r.targetGradient { grads["target"] = gt }
        return grads
    }

    private func unpack(_ inputs: LossInputs<Scalar>) throws -> (Tensor<Scalar>, Tensor<Scalar>, Tensor<Scalar>?, LossInput<Scalar>) {
        try validate(inputs)
        guard let target = inputs["target"] else {
            throw LossError.missingInput(name: "target", expected: "class indices or class probabilities")
        }
        return (try inputs.values("input"), try inputs.values("linear_weight"), try inputs.optionalValues("linear_bias"), target)
    }

    /// Validates the shapes; class-index targets with a `(V, D)` weight take the fused
    /// kernel, other forms ``evaluateGeneral(input:weight:bias:target:upstream:gradients:)``.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func evaluate(
        input: Tensor<Scalar>, weight: Tensor<Scalar>, bias: Tensor<Scalar>?, target: LossInput<Scalar>,
        upstream: Tensor<Scalar>?, gradients wantGradients: Bool
    ) throws -> Result {
        guard input.rank >= 1 else {
            throw LossError.shapeMismatch(argument: "input", expected: "(N, D) or (*, D)", actual: describeShape(input.shape))
        }
        let d = input.shape.last!
        guard weight.rank >= 2, weight.shape.last == d else {
            throw LossError.shapeMismatch(
                argument: "linear_weight", expected: "(V, D) or (V, *out_features, D) with D = \(d) (the input's last dimension)",
                actual: describeShape(weight.shape))
        }
        let v = weight.shape[0], outFeatures = Array(weight.shape.dropFirst().dropLast())
        if let bias, bias.shape != [v] + outFeatures {
            throw LossError.shapeMismatch(
                argument: "linear_bias", expected: "\(describeShape([v] + outFeatures)) (the weight's shape without its last dimension)",
                actual: describeShape(bias.shape))
        }
        if let classWeight = self.weight, classWeight.shape != [v] {
            throw LossError.shapeMismatch(
                argument: "weight", expected: "[\(v)] (one class weight per vocabulary entry)",
                actual: describeShape(classWeight.shape))
        }
        if !outFeatures.isEmpty, input.rank != 2 {
            throw LossError.shapeMismatch(
                argument: "input", expected: "(N, \(d)) (a weight with out_features needs a batched 2-d input, as PyTorch)",
                actual: describeShape(input.shape))
        }
        guard case .indices(let targets) = target, outFeatures.isEmpty else {
            return try evaluateGeneral(
                input: input, weight: weight, bias: bias, target: target, upstream: upstream, gradients: wantGradients)
        }
        let ignoreIndex = self.ignoreIndex ?? -100
        let classWeight = self.weight
        let rowShape = Array(input.shape.dropLast())
        let n = rowShape.reduce(1, *)
        guard targets.shape == rowShape else {
            throw LossError.shapeMismatch(
                argument: "target", expected: "\(describeShape(rowShape)) (the input's shape without its last dimension)",
                actual: describeShape(targets.shape))
        }
        let outShape = reduction == .none ? rowShape : []
        if let upstream { try checkUpstream(upstream, outShape) }

        var options = LinearCrossEntropyOptions<Scalar>()
        options.ignoreIndex = ignoreIndex
        options.labelSmoothing = labelSmoothing
        options.zLoss = zLoss
        options.softcap = softcap
        options.threads = threads
        if let chunkRows {
            options.chunkRows = chunkRows
        } else {
            options.chunkRows = try linearCrossEntropyChunkRows(
                tokens: n, vocabulary: v, budgetBytes: memoryBudget, scalar: Scalar.self)
        }
        try checkLinearCrossEntropyOptions(options)
        if let blasThreads, blasThreads < 1 {
            throw LossError.invalidOption(name: "blas_threads", value: "\(blasThreads)", expected: "at least 1 thread")
        }

        // Pre-pass over the targets: the mean's denominator (targets are range-checked by the kernel).
        var denominator: Scalar = 1
        if reduction == .mean {
            var total = 0.0
            try targets.withUnsafeBufferPointer { t in
                for (position, index) in t.enumerated() where index != ignoreIndex {
                    guard index >= 0 && index < v else {
                        throw LossError.indexOutOfRange(
                            argument: "target", position: position, index: index, validRange: "[0, \(v))")
                    }
                    total += classWeight.map { Double($0[flat: index]) } ?? 1
                }
            }
            denominator = Scalar(total)
        }
        var scale: Scalar = 1
        var perRow: Tensor<Scalar>? = nil
        if let upstream {
            switch reduction {
            case .none: perRow = upstream
            case .sum: scale = upstream[flat: 0]
            case .mean: scale = upstream[flat: 0] / denominator
            }
        }

        var losses = [Scalar](repeating: 0, count: n)
        var gx = [Scalar](repeating: 0, count: wantGradients ? n * d : 0)
        var gw = [Scalar](repeating: 0, count: wantGradients ? v * d : 0)
        var gb: [Scalar]? = wantGradients && bias != nil ? [Scalar](repeating: 0, count: v) : nil

        let previousBLASThreads = blasThreads == nil ? nil : BLAS.threads
        if let blasThreads { BLAS.threads = blasThreads }
        defer { if let previousBLASThreads { BLAS.threads = previousBLASThreads } }

        let shape = LinearHeadShape(tokens: n, hidden: d, vocabulary: v)
        try input.withUnsafeBufferPointer { xb in
            try weight.withUnsafeBufferPointer { wb in
                try withOptionalBuffer(bias) { bb in
                    try targets.withUnsafeBufferPointer { tb in
                        try withOptionalBuffer(classWeight) { cw in
                            try withOptionalBuffer(perRow) { ub in
                                try losses.withUnsafeMutableBufferPointer { lb in
                                    try gx.withUnsafeMutableBufferPointer { gxb in
                                        try gw.withUnsafeMutableBufferPointer { gwb in
                                            try withOptionalMutableBuffer(&gb) { gbb in
                                                try linearCrossEntropy(
                                                    input: xb, weight: wb, bias: bb, targets: tb, classWeights: cw,
                                                    shape: shape, options: options, losses: lb,
                                                    gradients: wantGradients
                                                        ? LinearCrossEntropyGradients(input: gxb, weight: gwb, bias: gbb) : nil,
                                                    gradientScale: scale, upstream: ub)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }

        let value: Tensor<Scalar>
        switch reduction {
        case .none: value = Tensor(uncheckedShape: rowShape, scalars: losses)
        case .sum: value = Tensor(scalar: try losses.withUnsafeBufferPointer { try sum($0) })
        case .mean: value = Tensor(scalar: try losses.withUnsafeBufferPointer { try sum($0) } / denominator)
        }
        return Result(
            value: value,
            inputGradient: Tensor(uncheckedShape: input.shape, scalars: gx),
            weightGradient: Tensor(uncheckedShape: weight.shape, scalars: gw),
            biasGradient: gb.map { Tensor(uncheckedShape: [v], scalars: $0) })
    }

    /// The forms the fused kernel does not take: probability targets, and a weight
    /// `(V, *out_features, D)` (logits `(N, V, *out_features)`, class-index targets
    /// `(N, *out_features)`). Per chunk of token rows: one GEMM (plus the bias) writes
    /// the chunk's logits, ``CrossEntropyLoss`` (reduction `none`, per-sample upstream
    /// gradients) gives their loss and gradient, and two GEMMs give the chunk's input
    /// gradient and accumulate the weight's; the bias gradient accumulates column sums.
    /// `mean` divides by the class-index targets' weight sum (PyTorch's rule) or, for
    /// probabilities, by the number of samples `N · prod(out_features)`.
    private func evaluateGeneral(
        input: Tensor<Scalar>, weight: Tensor<Scalar>, bias: Tensor<Scalar>?, target: LossInput<Scalar>,
        upstream: Tensor<Scalar>?, gradients wantGradients: Bool
    ) throws -> Result {
        guard zLoss == 0, softcap == nil else {
            throw LossError.invalidOption(
                name: zLoss != 0 ? "z_loss" : "softcap", value: "\(zLoss != 0 ? zLoss : softcap!)",
                expected: "none with probability targets or a weight with out_features (the fused kernel's forms only)")
        }
        let d = input.shape.last!, v = weight.shape[0], outFeatures = Array(weight.shape.dropFirst().dropLast())
        let rowShape = Array(input.shape.dropLast()), n = try checkedElementCount(rowShape)
        let sampleShape = rowShape + outFeatures
        let p = try checkedElementCount(outFeatures), columns = try checkedElementCount([v] + outFeatures)
        _ = try checkedElementCount(sampleShape, argument: "target")
        _ = try checkedElementCount([n, columns], argument: "logits")
        let ignoreIndex: Int
        let denominator: Scalar
        switch target {
        case .indices(let t):
            guard t.shape == sampleShape else {
                throw LossError.shapeMismatch(
                    argument: "target",
                    expected: "\(describeShape(sampleShape)) (the input's shape without its last dimension, then out_features)",
                    actual: describeShape(t.shape))
            }
            ignoreIndex = self.ignoreIndex ?? -100
            var total = 0.0
            try t.withUnsafeBufferPointer { tb in
                for (position, index) in tb.enumerated() where index != ignoreIndex {
                    guard index >= 0 && index < v else {
                        throw LossError.indexOutOfRange(
                            argument: "target", position: position, index: index, validRange: "[0, \(v))")
                    }
                    total += self.weight.map { Double($0[flat: index]) } ?? 1
                }
            }
            denominator = Scalar(total)
        case .values(let q):
            let logitsShape = rowShape + [v] + outFeatures
            guard q.shape == logitsShape else {
                throw LossError.shapeMismatch(
                    argument: "target", expected: "\(describeShape(logitsShape)) (probabilities, the logits' shape)",
                    actual: describeShape(q.shape))
            }
            if let ignoreIndex = self.ignoreIndex {
                throw LossError.invalidOption(
                    name: "ignore_index", value: String(ignoreIndex), expected: "None when the target holds probabilities")
            }
            ignoreIndex = -100
            denominator = Scalar(n * p)
        }
        let outShape = reduction == .none ? sampleShape : []
        if let upstream { try checkUpstream(upstream, outShape) }
        // The per-sample upstream gradient of the losses.
        var perSample: [Scalar]? = nil
        if let upstream {
            switch reduction {
            case .none: perSample = upstream.scalars
            case .sum: perSample = Array(repeating: upstream[flat: 0], count: n * p)
            case .mean: perSample = Array(repeating: upstream[flat: 0] / denominator, count: n * p)
            }
        }
        let k = try chunkRows ?? linearCrossEntropyChunkRows(
            tokens: n, vocabulary: columns, budgetBytes: memoryBudget, scalar: Scalar.self)
        guard k >= 1 else { throw LossError.invalidOption(name: "chunk_rows", value: "\(k)", expected: "at least 1 row") }
        let crossEntropy = CrossEntropyLoss<Scalar>(
            weight: self.weight, ignoreIndex: ignoreIndex, labelSmoothing: labelSmoothing, reduction: .none, threads: threads)

        var losses = [Scalar](repeating: 0, count: n * p)
        var gx = [Scalar](repeating: 0, count: wantGradients ? n * d : 0)
        var gw = [Scalar](repeating: 0, count: wantGradients ? columns * d : 0)
        var gb: [Scalar]? = wantGradients && bias != nil ? [Scalar](repeating: 0, count: columns) : nil
        var gt: [Scalar]? = nil
        if wantGradients, case .values = target { gt = [Scalar](repeating: 0, count: n * columns) }
        let xs = input.scalars, ws = weight.scalars, bs = bias?.scalars
        let previousBLASThreads = blasThreads == nil ? nil : BLAS.threads
        if let blasThreads { BLAS.threads = blasThreads }
        defer { if let previousBLASThreads { BLAS.threads = previousBLASThreads } }

        var logits = [Scalar](repeating: 0, count: min(k, n) * columns)
        var start = 0
        while start < n {
            let rows = min(k, n - start)
            // Logits of the chunk: X[start ..< start + rows] · Wᵀ + b, as (rows, V, *out_features).
            logits.withUnsafeMutableBufferPointer { l in
                for r in 0..<rows {
                    for c in 0..<columns { l[r * columns + c] = bs?[c] ?? 0 }
                }
                if d > 0 {
                    xs.withUnsafeBufferPointer { x in
                        ws.withUnsafeBufferPointer { w in
                            BLAS.gemm(
                                transposeA: false, transposeB: true, m: rows, n: columns, k: d, alpha: 1,
                                a: x.baseAddress! + start * d, lda: d, b: w.baseAddress!, ldb: d, beta: 1,
                                c: l.baseAddress!, ldc: columns)
                        }
                    }
                }
            }
            let chunk = Tensor(uncheckedShape: [rows, v] + outFeatures, scalars: Array(logits[0..<(rows * columns)]))
            let chunkTarget: LossInput<Scalar>
            switch target {
            case .indices(let t):
                chunkTarget = .indices(Tensor(uncheckedShape: [rows] + outFeatures, scalars: Array(t.scalars[(start * p)..<((start + rows) * p)])))
            case .values(let q):
                chunkTarget = .values(Tensor(uncheckedShape: [rows, v] + outFeatures, scalars: Array(q.scalars[(start * columns)..<((start + rows) * columns)])))
            }
            let chunkUpstream = perSample.map { Tensor(uncheckedShape: [rows] + outFeatures, scalars: Array($0[(start * p)..<((start + rows) * p)])) }
            let r = try crossEntropy.evaluate(logits: chunk, targets: chunkTarget, upstream: chunkUpstream)
            for (i, value) in r.value.scalars.enumerated() { losses[start * p + i] = value }
            if wantGradients, let g = r.input?.scalars {
                if d > 0 && columns > 0 {
                    g.withUnsafeBufferPointer { gp in
                        ws.withUnsafeBufferPointer { w in
                            gx.withUnsafeMutableBufferPointer { o in
                                // dX[chunk] = G · W (rows × D).
                                BLAS.gemm(
                                    transposeA: false, transposeB: false, m: rows, n: d, k: columns, alpha: 1,
                                    a: gp.baseAddress!, lda: columns, b: w.baseAddress!, ldb: d, beta: 0,
                                    c: o.baseAddress! + start * d, ldc: d)
                            }
                        }
                        xs.withUnsafeBufferPointer { x in
                            gw.withUnsafeMutableBufferPointer { o in
                                // dW += Gᵀ · X[chunk] (columns × D).
                                BLAS.gemm(
                                    transposeA: true, transposeB: false, m: columns, n: d, k: rows, alpha: 1,
                                    a: gp.baseAddress!, lda: columns, b: x.baseAddress! + start * d, ldb: d,
                                    beta: start == 0 ? 0 : 1, c: o.baseAddress!, ldc: d)
                            }
                        }
                    }
                }
                if gb != nil {
                    for row in 0..<rows { for c in 0..<columns { gb![c] += g[row * columns + c] } }
                }
                if let t = r.target?.scalars {
                    for (i, value) in t.enumerated() { gt![start * columns + i] = value }
                }
            }
            start += rows
        }

        let value: Tensor<Scalar>
        switch reduction {
        case .none: value = Tensor(uncheckedShape: sampleShape, scalars: losses)
        case .sum: value = Tensor(scalar: try losses.withUnsafeBufferPointer { try sum($0) })
        case .mean: value = Tensor(scalar: try losses.withUnsafeBufferPointer { try sum($0) } / denominator)
        }
        var targetGradient: Tensor<Scalar>? = nil
        if let gt, case .values(let q) = target { targetGradient = Tensor(uncheckedShape: q.shape, scalars: gt) }
        return Result(
            value: value,
            inputGradient: Tensor(uncheckedShape: input.shape, scalars: gx),
            weightGradient: Tensor(uncheckedShape: weight.shape, scalars: gw),
            biasGradient: gb.map { Tensor(uncheckedShape: bias!.shape, scalars: $0) },
            targetGradient: targetGradient)
    }
}
