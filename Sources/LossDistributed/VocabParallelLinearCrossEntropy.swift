import Kernels
import Loss

/// The fused linear head + cross-entropy of ``LinearCrossEntropyLoss`` with its
/// vocabulary split across ranks: each rank holds the rows of the output weight for
/// its slice of the classes, `(V_r, D)` (and the bias `(V_r)`), and never holds more
/// than its slice of any `V`-sized quantity, so the memory per rank scales with `V / P`.
///
/// The input `(N, D)` (or `(*, D)`) and the targets `(N)` are the same on every rank;
/// rank 0 holds the first classes, rank 1 the next, and so on (any sizes).
/// ``weight`` holds the class weights of the rank's slice.
///
/// ## Formula and gradients
/// Those of ``LinearCrossEntropyLoss`` over the whole vocabulary: with
/// `y = softcap(input · linear_weightᵀ + linear_bias)`, per row not ignored,
///
///     loss = (1 - ε) w_t (lse - y_t) + (ε / V) Σ_c w_c (lse - y_c) + z · lse²
///
/// reduced as `cross_entropy` (`mean` divides by `Σ w_t` over rows not ignored).
/// With `G` the gradient of the logits (`g ∂loss/∂x`), the rank returns
/// `∂/∂input = Σ_r G_r · W_r` (summed over the ranks: the same on every rank), and
/// keeps its own `∂/∂linear_weight = G_rᵀ · input` and `∂/∂linear_bias = column sums of G_r`.
///
/// ## Chunks and memory
/// Tokens are processed `k` rows at a time as in the single-process head: one GEMM
/// writes the chunk's `k × V_r` logits into scratch memory, the chunk's row
/// statistics are reduced over the ranks, the logits are overwritten in place with
/// their gradient, one GEMM writes the chunk's (partial) input gradient, which is
/// summed over the ranks, and one accumulates the weight gradient. `k` is
/// `chunkRows`, or the single-process head's choice for the whole vocabulary `V` and
/// `memoryBudget` (the same on every rank), so the scratch of a rank is
/// `k × V_r`, about `memoryBudget / P`. Besides its inputs and returned gradients a
/// rank allocates that scratch and `O(N)` per-row values.
///
/// ## Communication
/// Per call: one all-gather of 8 integers per rank (validation status and
/// checksums of the replicated input, targets and options); with class weights one
/// all-reduce `sum` of `N + 1` Doubles (`w_t` per row and `Σ w_c`). Per chunk of `k`
/// rows: an all-reduce `max` of `k` scalars, an all-reduce `sum` of `3k` Doubles,
/// and, with gradients, an all-reduce `sum` of the `k × D` input gradient: `O(N)`
/// values per call plus `N × D` for the input gradient.
///
/// ## Reproducibility
/// The result does not depend on `threads`. It depends on the rank count through the
/// rounding of the summed row statistics and input gradient (and, as in the single
/// process head, on the chunk size and OpenBLAS's blocking).
public struct VocabParallelLinearCrossEntropy<Scalar: DistributedScalar>: Sendable {
    /// Class weights of this rank's slice `(V_r)`, or nil (then on every rank).
    public var weight: Tensor<Scalar>?
    /// Rows whose target is this value contribute 0 (and no gradient).
    public var ignoreIndex: Int
    /// `ε` in `[0, 1]`.
    public var labelSmoothing: Scalar
    /// Coefficient of `lse²` per kept row (0: no z-loss).
    public var zLoss: Scalar
    /// Logit soft cap `s > 0`, or nil.
    public var softcap: Scalar?
    /// `none`, `sum` or `mean` (over `Σ w_t` of the rows not ignored).
    public var reduction: Reduction
    /// Bytes of scratch the single-process head would use for the whole vocabulary:
    /// sets the chunk size unless `chunkRows` is given.
    public var memoryBudget: Int
    /// Token rows per chunk; overrides `memoryBudget` when set. The same on every rank.
    public var chunkRows: Int?

    /// A vocab-parallel head with ``LinearCrossEntropyLoss``'s defaults; `weight` holds the
    /// class weights of this rank's slice.
    public init(
        weight: Tensor<Scalar>? = nil, ignoreIndex: Int = -100, labelSmoothing: Scalar = 0, zLoss: Scalar = 0,
        softcap: Scalar? = nil, reduction: Reduction = .mean, memoryBudget: Int = LinearCrossEntropyLoss<Scalar>.defaultMemoryBudget,
        chunkRows: Int? = nil
    ) {
        self.weight = weight
        self.ignoreIndex = ignoreIndex
        self.labelSmoothing = labelSmoothing
        self.zLoss = zLoss
        self.softcap = softcap
        self.reduction = reduction
        self.memoryBudget = memoryBudget
        self.chunkRows = chunkRows
    }

    /// The loss and the rank's gradients.
    public struct Result: Sendable {
        /// A 0-d tensor for `mean`/`sum`, the shape of `target` for `none`; the same on every rank.
        public var value: Tensor<Scalar>
        /// `∂/∂input`, summed over the ranks (the same on every rank), or nil without gradients.
        public var inputGradient: Tensor<Scalar>? = nil
        /// `∂/∂linear_weight` of this rank's rows `(V_r, D)`.
        public var weightGradient: Tensor<Scalar>? = nil
        /// `∂/∂linear_bias` of this rank's slice `(V_r)`, when a bias is given.
        public var biasGradient: Tensor<Scalar>? = nil
    }

    /// The loss alone (no gradient GEMMs). Collective.
    public func callAsFunction(
        _ input: Tensor<Scalar>, _ linearWeight: Tensor<Scalar>, target: Tensor<Int>, linearBias: Tensor<Scalar>? = nil,
        communicator: any Communicator
    ) throws -> Tensor<Scalar> {
        try evaluate(input, linearWeight, target: target, linearBias: linearBias, upstream: nil, gradients: false, communicator)
            .value
    }

    /// The loss and the gradients, for `upstream` (ones when nil; shape `()` or, for
    /// `none`, the shape of `target`). Collective.
    public func valueWithGradient(
        _ input: Tensor<Scalar>, _ linearWeight: Tensor<Scalar>, target: Tensor<Int>, linearBias: Tensor<Scalar>? = nil,
        upstream: Tensor<Scalar>? = nil, communicator: any Communicator
    ) throws -> Result {
        try evaluate(input, linearWeight, target: target, linearBias: linearBias, upstream: upstream, gradients: true, communicator)
    }

    func evaluate(
        _ input: Tensor<Scalar>, _ linearWeight: Tensor<Scalar>, target: Tensor<Int>, linearBias bias: Tensor<Scalar>?,
        upstream: Tensor<Scalar>?, gradients wantGradients: Bool, _ comm: any Communicator
    ) throws -> Result {
        var options = LinearCrossEntropyOptions<Scalar>()
        options.ignoreIndex = ignoreIndex
        options.labelSmoothing = labelSmoothing
        options.zLoss = zLoss
        options.softcap = softcap
        options.chunkRows = chunkRows ?? 1
        let signatures = try comm.exchangeSignatures(length: 7) {
            guard input.rank >= 1 else {
                throw LossError.shapeMismatch(argument: "input", expected: "(N, D) or (*, D)", actual: describeShape(input.shape))
            }
            let d = input.shape.last!, rowShape = Array(input.shape.dropLast()), n = rowShape.reduce(1, *)
            guard linearWeight.rank == 2, linearWeight.shape[1] == d else {
                throw LossError.shapeMismatch(
                    argument: "linear_weight", expected: "(V_r, \(d)): this rank's rows, D the input's last dimension",
                    actual: describeShape(linearWeight.shape))
            }
            let v = linearWeight.shape[0]
            if let bias, bias.shape != [v] {
                throw LossError.shapeMismatch(
                    argument: "linear_bias", expected: "[\(v)] (one per weight row of this rank)", actual: describeShape(bias.shape))
            }
            if let weight, weight.shape != [v] {
                throw LossError.shapeMismatch(
                    argument: "weight", expected: "[\(v)] (one class weight per weight row of this rank)",
                    actual: describeShape(weight.shape))
            }
            guard target.shape == rowShape else {
                throw LossError.shapeMismatch(
                    argument: "target", expected: "\(describeShape(rowShape)) (the input's shape without its last dimension)",
                    actual: describeShape(target.shape))
            }
            if let upstream {
                let expected = reduction == .none ? rowShape : []
                guard upstream.shape == expected else {
                    throw LossError.shapeMismatch(argument: "upstream", expected: describeShape(expected), actual: describeShape(upstream.shape))
                }
            }
            try checkLinearCrossEntropyOptions(options)
            guard memoryBudget > 0 else {
                throw LossError.invalidOption(name: "memory_budget", value: "\(memoryBudget) bytes", expected: "a positive number of bytes")
            }
            var replicated = Checksum()
            input.withUnsafeBufferPointer { replicated.add(bytes: UnsafeRawBufferPointer($0)) }
            target.withUnsafeBufferPointer { replicated.add(indices: $0) }
            if let upstream { for i in 0..<upstream.count { replicated.add(scalar: upstream[flat: i]) } }
            var o = Checksum()
            o.add(MemoryLayout<Scalar>.size)
            o.add(ignoreIndex)
            o.add(scalar: labelSmoothing)
            o.add(scalar: zLoss)
            o.add(scalar: softcap ?? 0)
            o.add(reduction.rawValue)
            o.add(memoryBudget)
            o.add(chunkRows ?? 0)
            o.add(wantGradients ? 1 : 0)
            let flags = (bias == nil ? 0 : 1) + (weight == nil ? 0 : 2) + (upstream == nil ? 0 : 4)
            return [v, n, d, replicated.int, flags, o.int, 0]
        }
        try signatures.requireEqual(1, "the number of rows N")
        try signatures.requireEqual(2, "the hidden size D")
        try signatures.requireEqual(3, "the input, targets and upstream (every rank holds all of them)", describe: { "checksum \($0)" })
        try signatures.requireEqual(4, "which of linear_bias, weight and upstream are given")
        try signatures.requireEqual(5, "the options", describe: { "checksum \($0)" })
        let slices = signatures.field(0)
        let vocabulary = slices.reduce(0, +), offset = slices[..<comm.rank].reduce(0, +)
        let d = input.shape.last!, rowShape = Array(input.shape.dropLast()), n = rowShape.reduce(1, *)
        let local = linearWeight.shape[0]
        guard vocabulary > 0 || n == 0 else {
            throw LossError.emptyInput(argument: "linear_weight", reason: "cross-entropy needs at least one class over all ranks")
        }
        let targets = target.scalars
        try targets.withUnsafeBufferPointer { try checkClassIndices($0, classes: vocabulary, ignoreIndex: ignoreIndex) }
        let k = try chunkRows ?? linearCrossEntropyChunkRows(
            tokens: n, vocabulary: vocabulary, budgetBytes: memoryBudget, scalar: Scalar.self)

        // Class weights: w_t per row (from the rank owning t) and W = Σ w_c, summed over the ranks.
        var targetWeights = [Double](repeating: 1, count: n)
        var weightSum = Double(vocabulary)
        if let weight {
            var sums = [Double](repeating: 0, count: n + 1)
            for row in 0..<n where targets[row] != ignoreIndex {
                let t = targets[row] - offset
                if t >= 0 && t < local { sums[row] = Double(weight[flat: t]) }
            }
            sums[n] = weight.scalars.reduce(0.0) { $0 + Double($1) }
            sums = try comm.allReduce(sums, .sum)
            targetWeights = Array(sums[0..<n])
            weightSum = sums[n]
        }
        var total = 0.0  // the mean's denominator, in row order
        for row in 0..<n where targets[row] != ignoreIndex { total += targetWeights[row] }
        let denominator = Scalar(total)
        var uniform: Scalar = 1
        if let upstream, reduction != .none { uniform = reduction == .sum ? upstream[flat: 0] : upstream[flat: 0] / denominator }
        if upstream == nil, reduction == .mean { uniform = 1 / denominator }
        let rowOptions = SliceSoftmax.Options(
            labelSmoothing: Double(labelSmoothing), zLoss: Double(zLoss), vocabulary: vocabulary, weightSum: weightSum)
        let smoothing = labelSmoothing > 0
        let cap = softcap.map { Double($0) }
        // Without a soft cap the gradient needs only e_c = exp(x_c - m): the first pass stores them in place.
        let storeExps = wantGradients && cap == nil

        var losses = zeros(Scalar.self, count: n)
        var gx = zeros(Scalar.self, count: wantGradients ? n * d : 0)
        var gw = zeros(Scalar.self, count: wantGradients ? local * d : 0)
        var gb: [Scalar]? = wantGradients && bias != nil ? zeros(Scalar.self, count: local) : nil
        let rowsPerChunk = Swift.max(1, Swift.min(k, n))
        let scratch = UnsafeMutableBufferPointer<Scalar>.allocate(capacity: rowsPerChunk * local)
        defer { scratch.deallocate() }

        try input.withUnsafeBufferPointer { xb in
            try linearWeight.withUnsafeBufferPointer { wb in
                var start = 0
                while start < n {
                    let rows = Swift.min(rowsPerChunk, n - start)
                    let logits = UnsafeMutableBufferPointer(rebasing: scratch[0..<(rows * local)])
                    // The chunk's logits on this rank's classes: X[start ..< start + rows] · W_rᵀ (+ b_r, soft cap).
                    if local > 0 {
                        if d > 0 {
                            try matrixMultiply(
                                UnsafeBufferPointer(rebasing: xb[(start * d)..<((start + rows) * d)]), wb, rows: rows,
                                columns: local, inner: d, opB: .transposed, into: logits)
                        } else {
                            UnsafeMutableRawBufferPointer(logits).initializeMemory(as: UInt8.self, repeating: 0)
                        }
                        if bias != nil || cap != nil {
                            withOptionalBuffer(bias) { b in
                                SliceSoftmax.addBiasAndCap(logits.baseAddress!, rows: rows, local, bias: b?.baseAddress, softcap: cap)
                            }
                        }
                    }
                    let maxima = try comm.allReduce(
                        try SliceSoftmax.rowMaxima(UnsafeBufferPointer(logits), rows: rows, columns: local), .max)
                    var sums = [Double](repeating: 0, count: 3 * rows)
                    withOptionalBuffer(weight) { w in
                        for r in 0..<rows where targets[start + r] != ignoreIndex && local > 0 {
                            let t = targets[start + r] - offset
                            let p = SliceSoftmax.partials(
                                logits.baseAddress! + r * local, local, max: maxima[r], localTarget: t >= 0 && t < local ? t : nil,
                                weights: w?.baseAddress, smoothing: smoothing, storeExps: storeExps)
                            sums[3 * r] = p.sumExp
                            sums[3 * r + 1] = p.target
                            sums[3 * r + 2] = p.smoothing
                        }
                    }
                    sums = try comm.allReduce(sums, .sum)
                    var lse = [Double](repeating: 0, count: rows)
                    for r in 0..<rows where targets[start + r] != ignoreIndex {
                        let l = SliceSoftmax.loss(
                            max: Double(maxima[r]), sumExp: sums[3 * r], target: sums[3 * r + 1], smoothing: sums[3 * r + 2],
                            targetWeight: targetWeights[start + r], rowOptions)
                        losses[start + r] = Scalar(l.loss)
                        lse[r] = l.lse
                    }
                    if wantGradients {
                        withOptionalBuffer(weight) { w in
                            for r in 0..<rows where local > 0 {
                                let row = start + r, out = logits.baseAddress! + r * local
                                guard targets[row] != ignoreIndex else {
                                    UnsafeMutableRawPointer(out).initializeMemory(
                                        as: UInt8.self, repeating: 0, count: local * MemoryLayout<Scalar>.stride)
                                    continue
                                }
                                let t = targets[row] - offset
                                let g = reduction == .none ? Double(upstream?[flat: row] ?? 1) : Double(uniform)
                                let rowGradient = SliceSoftmax.RowGradient(
                                    max: Double(maxima[r]), sumExp: sums[3 * r], lse: lse[r],
                                    localTarget: t >= 0 && t < local ? t : nil, targetWeight: targetWeights[row], scale: g)
                                SliceSoftmax.gradient(
                                    out, local, into: out, exps: storeExps, weights: w?.baseAddress, softcap: cap, rowGradient,
                                    rowOptions)
                            }
                        }
                        try gx.withUnsafeMutableBufferPointer { all in
                            let part = UnsafeMutableBufferPointer(rebasing: all[(start * d)..<((start + rows) * d)])
                            if local > 0, d > 0 {
                                // dX[chunk] = G_r · W_r, then summed over the ranks.
                                try matrixMultiply(UnsafeBufferPointer(logits), wb, rows: rows, columns: d, inner: local, into: part)
                            }
                            try comm.allReduce(part, .sum)
                        }
                        if local > 0, d > 0 {
                            // dW_r += G_rᵀ · X[chunk].
                            try gw.withUnsafeMutableBufferPointer { gwb in
                                try matrixMultiply(
                                    UnsafeBufferPointer(logits), UnsafeBufferPointer(rebasing: xb[(start * d)..<((start + rows) * d)]),
                                    rows: local, columns: d, inner: rows, opA: .transposed, beta: start == 0 ? 0 : 1, into: gwb)
                            }
                        }
                        if gb != nil, local > 0 {
                            gb!.withUnsafeMutableBufferPointer { sums in
                                SliceSoftmax.addColumnSums(logits.baseAddress!, rows: rows, local, into: sums.baseAddress!)
                            }
                        }
                    }
                    start += rows
                }
            }
        }

        let value: Tensor<Scalar>
        switch reduction {
        case .none: value = try Tensor(shape: rowShape, scalars: losses)
        case .sum: value = Tensor(scalar: try losses.withUnsafeBufferPointer { try sum($0) })
        case .mean: value = Tensor(scalar: try losses.withUnsafeBufferPointer { try sum($0) } / denominator)
        }
        guard wantGradients else { return Result(value: value) }
        return Result(
            value: value, inputGradient: try Tensor(shape: input.shape, scalars: gx),
            weightGradient: try Tensor(shape: [local, d], scalars: gw), biasGradient: try gb.map { try Tensor(shape: [local], scalars: $0) })
    }
}
