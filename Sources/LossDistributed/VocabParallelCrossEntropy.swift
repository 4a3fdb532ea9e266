import Kernels
import Loss

/// Cross-entropy over a vocabulary split across ranks (Megatron-LM's vocab-parallel
/// cross-entropy), with PyTorch's `cross_entropy` semantics for class weights,
/// `ignore_index` and label smoothing, and an optional z-loss.
///
/// Each rank holds the logits of its own contiguous slice of the `V` classes, shape
/// `(N, V_r)`; rank 0 the first classes, rank 1 the next, and so on (any sizes,
/// zero included; ``BalancedSplit`` gives the usual one). The targets `(N)` are global
/// class indices in `0..<V` (or `ignoreIndex`), the same on every rank. ``weight``,
/// when set, holds the class weights of the rank's slice `(V_r)`.
///
/// ## Formula
/// Per row with target `t` (not ignored), `lse = log Σ_c exp(x_c)` over all `V`
/// classes, class weights `w` (all 1 when absent), smoothing `ε`, z-loss `z`:
///
///     loss = (1 - ε) w_t (lse - x_t) + (ε / V) Σ_c w_c (lse - x_c) + z · lse²
///
/// which is `torch.nn.functional.cross_entropy(..., reduction="none")` for `z = 0`
/// (the exact global smoothing term, not a per-slice approximation), and
/// ``CrossEntropyZLoss`` for `ε = 0` without weights. Ignored rows give 0.
/// Reduction: `none` gives `(N)`; `sum` adds the rows; `mean` divides by `Σ w_t` over
/// the rows not ignored (their count without weights), as PyTorch; every row
/// ignored gives NaN. The z-loss term is not weighted (as ``LinearCrossEntropyLoss``).
///
/// ## Gradient
/// For the rank's classes, with `p = softmax(x)` and `g` the row's upstream
/// (`u / denominator` for `mean`):
///
///     ∂loss/∂x_c = g (p_c ((1 - ε) w_t + (ε / V) W + 2 z lse) - (1 - ε) w_t [c = t] - (ε / V) w_c),  W = Σ_c w_c
///
/// ## Communication (per forward; the backward communicates nothing)
/// 1. one all-gather of 6 integers per rank: validation status, `V_r`, `N`, and
///    checksums of the targets and options (which every rank must share), so that
///    bad input on any rank is an error on every rank;
/// 2. an all-reduce `max` of the `N` row maxima;
/// 3. an all-reduce `sum` of `3N` Doubles (per row: `Σ exp(x - m)`, `x_t - m`
///    from the rank owning `t`, `Σ w_c (x_c - m)` with smoothing), plus `N + 1` with
///    class weights (`w_t` per row, the slice's `Σ w_c`).
///
/// Everything is computed from `x - m` in Double accumulators (see `SliceSoftmax`).
/// With one rank the result agrees with ``CrossEntropyLoss`` to rounding; for
/// several it depends on the rank count only through the rounding of the summed
/// partial sums (about 1e-7 relative in Float).
public struct VocabParallelCrossEntropy<Scalar: DistributedScalar>: Sendable {
    /// Class weights of this rank's slice `(V_r)`, or nil (then on every rank).
    public var weight: Tensor<Scalar>?
    /// Rows whose target is this value contribute 0 (and no gradient); -100 as in PyTorch.
    public var ignoreIndex: Int
    /// `ε` in `[0, 1]`.
    public var labelSmoothing: Scalar
    /// `z ≥ 0`, the coefficient of `lse²` (0: none).
    public var zLoss: Scalar
    /// `none`, `sum` or `mean` (PyTorch's weighted mean over rows not ignored).
    public var reduction: Reduction

    /// A vocab-parallel cross-entropy with PyTorch's defaults (`mean`, no smoothing, no z-loss).
    public init(
        weight: Tensor<Scalar>? = nil, ignoreIndex: Int = -100, labelSmoothing: Scalar = 0, zLoss: Scalar = 0,
        reduction: Reduction = .mean
    ) {
        self.weight = weight
        self.ignoreIndex = ignoreIndex
        self.labelSmoothing = labelSmoothing
        self.zLoss = zLoss
        self.reduction = reduction
    }

    /// What ``forward(_:_:communicator:)`` keeps for ``backward(_:_:upstream:)``:
    /// the loss and `O(N)` per-row statistics.
    public struct Forward: Sendable {
        /// The loss: a 0-d tensor for `mean`/`sum`, `(N)` for `none`.
        public let value: Tensor<Scalar>
        /// The vocabulary `V` over every rank, and this rank's first class.
        public let vocabulary: Int
        /// The global index of this rank's first class (the sum of the lower ranks' slices).
        public let classOffset: Int
        let rows: Int, localClasses: Int
        let targets: [Int]
        let maxima: [Scalar]
        let sumExp: [Double]
        let lse: [Double]
        let targetWeights: [Double]
        let weightSum: Double
        let denominator: Scalar
    }

    /// The loss on this rank's slice of the logits `(N, V_r)` against the global targets `(N)`.
    /// Collective: every rank of `communicator` calls it.
    public func callAsFunction(_ input: Tensor<Scalar>, _ target: Tensor<Int>, communicator: any Communicator) throws
        -> Tensor<Scalar>
    {
        try forward(input, target, communicator: communicator).value
    }

    /// The loss and the gradient of this rank's slice of the logits.
    public func valueWithGradient(_ input: Tensor<Scalar>, _ target: Tensor<Int>, communicator: any Communicator) throws
        -> (value: Tensor<Scalar>, gradient: Tensor<Scalar>)
    {
        let f = try forward(input, target, communicator: communicator)
        let ones: Tensor<Scalar> =
            reduction == .none ? try Tensor(shape: [f.rows], scalars: Array(repeating: 1, count: f.rows)) : Tensor(scalar: 1)
        return (f.value, try backward(f, input, upstream: ones))
    }

    /// The forward pass (collective): validates on every rank, then the two reductions.
    /// - Throws: on every rank, a ``LossError`` for bad input on any rank (the rank
    ///   that has it throws its own, the others ``DistributedError/failedOnRank(rank:message:)``),
    ///   or ``DistributedError/inconsistentAcrossRanks(what:detail:)`` when the ranks
    ///   disagree on `N`, the targets or the options.
    public func forward(_ input: Tensor<Scalar>, _ target: Tensor<Int>, communicator comm: any Communicator) throws
        -> Forward
    {
        let signatures = try comm.exchangeSignatures(length: 5) {
            guard input.rank == 2 else {
                throw LossError.shapeMismatch(
                    argument: "input", expected: "(N, C) with this rank's classes on axis 1", actual: describeShape(input.shape))
            }
            let (n, v) = (input.shape[0], input.shape[1])
            guard target.shape == [n] else {
                throw LossError.shapeMismatch(
                    argument: "target", expected: "[\(n)] (one class index per row of input)", actual: describeShape(target.shape))
            }
            if let weight, weight.shape != [v] {
                throw LossError.shapeMismatch(
                    argument: "weight", expected: "[\(v)] (one weight per class of this rank's slice)",
                    actual: describeShape(weight.shape))
            }
            guard labelSmoothing >= 0 && labelSmoothing <= 1 else {
                throw LossError.invalidOption(name: "label_smoothing", value: "\(labelSmoothing)", expected: "a value in [0, 1]")
            }
            guard zLoss.isFinite && zLoss >= 0 else {
                throw LossError.invalidOption(name: "z_loss", value: "\(zLoss)", expected: "a finite number >= 0")
            }
            var targets = Checksum()
            target.withUnsafeBufferPointer { targets.add(indices: $0) }
            var options = Checksum()
            options.add(MemoryLayout<Scalar>.size)
            options.add(ignoreIndex)
            options.add(scalar: labelSmoothing)
            options.add(scalar: zLoss)
            options.add(reduction.rawValue)
            return [v, n, targets.int, weight == nil ? 0 : 1, options.int]
        }
        try signatures.requireEqual(1, "the number of rows N")
        try signatures.requireEqual(2, "the targets (every rank holds all of them)", describe: { "checksum \($0)" })
        try signatures.requireEqual(3, "whether class weights are given")
        try signatures.requireEqual(4, "the options (precision, ignore_index, label_smoothing, z_loss, reduction)",
                                    describe: { "checksum \($0)" })
        let slices = signatures.field(0)
        let vocabulary = slices.reduce(0, +), offset = slices[..<comm.rank].reduce(0, +)
        let n = input.shape[0], local = input.shape[1]
        // The targets are the same on every rank, so every rank reaches the same verdict.
        guard vocabulary > 0 || n == 0 else {
            throw LossError.emptyInput(argument: "input", reason: "cross-entropy needs at least one class over all ranks")
        }
        let targets = target.scalars
        try targets.withUnsafeBufferPointer { try checkClassIndices($0, classes: vocabulary, ignoreIndex: ignoreIndex) }

        let smoothing = labelSmoothing > 0
        let weighted = weight != nil
        let maxima: [Scalar] = try input.withUnsafeBufferPointer { x in
            try comm.allReduce(try SliceSoftmax.rowMaxima(x, rows: n, columns: local), .max)
        }
        // Per row: S_r, T_r, Z_r; with class weights also w_t (owner only) per row and the slice's Σ w_c.
        var sums = [Double](repeating: 0, count: 3 * n + (weighted ? n + 1 : 0))
        input.withUnsafeBufferPointer { x in
            withOptionalBuffer(weight) { w in
                for row in 0..<n where targets[row] != ignoreIndex && local > 0 {
                    let t = targets[row] - offset
                    let owned = t >= 0 && t < local ? t : nil
                    let p = SliceSoftmax.partials(
                        UnsafeMutablePointer(mutating: x.baseAddress! + row * local), local, max: maxima[row], localTarget: owned,
                        weights: w?.baseAddress, smoothing: smoothing, storeExps: false)
                    sums[3 * row] = p.sumExp
                    sums[3 * row + 1] = p.target
                    sums[3 * row + 2] = p.smoothing
                    if let w, let owned { sums[3 * n + row] = Double(w[owned]) }
                }
                if let w { sums[4 * n] = w.reduce(0.0) { $0 + Double($1) } }
            }
        }
        sums = try comm.allReduce(sums, .sum)
        let targetWeights = weighted ? Array(sums[(3 * n)..<(4 * n)]) : [Double](repeating: 1, count: n)
        let weightSum = weighted ? sums[4 * n] : Double(vocabulary)
        let options = SliceSoftmax.Options(
            labelSmoothing: Double(labelSmoothing), zLoss: Double(zLoss), vocabulary: vocabulary, weightSum: weightSum)
        var losses = zeros(Scalar.self, count: n)
        var lse = [Double](repeating: 0, count: n)
        var total = 0.0  // the mean's denominator, in row order as CrossEntropyLoss adds it
        for row in 0..<n where targets[row] != ignoreIndex {
            let r = SliceSoftmax.loss(
                max: Double(maxima[row]), sumExp: sums[3 * row], target: sums[3 * row + 1], smoothing: sums[3 * row + 2],
                targetWeight: targetWeights[row], options)
            losses[row] = Scalar(r.loss)
            lse[row] = r.lse
            total += targetWeights[row]
        }
        let denominator = Scalar(total)
        let value: Tensor<Scalar>
        switch reduction {
        case .none: value = try Tensor(shape: [n], scalars: losses)
        case .sum: value = Tensor(scalar: try losses.withUnsafeBufferPointer { try sum($0) })
        case .mean: value = Tensor(scalar: try losses.withUnsafeBufferPointer { try sum($0) } / denominator)
        }
        return Forward(
            value: value, vocabulary: vocabulary, classOffset: offset, rows: n, localClasses: local, targets: targets,
            maxima: maxima, sumExp: (0..<n).map { sums[3 * $0] }, lse: lse, targetWeights: targetWeights,
            weightSum: weightSum, denominator: denominator)
    }

    /// The gradient of this rank's slice of the logits, from what the forward pass
    /// kept: no communication. `upstream` has the value's shape (`()` or `(N)`).
    public func backward(_ forward: Forward, _ input: Tensor<Scalar>, upstream: Tensor<Scalar>) throws -> Tensor<Scalar> {
        let n = forward.rows, local = forward.localClasses
        guard input.shape == [n, local] else {
            throw LossError.shapeMismatch(
                argument: "input", expected: "\(describeShape([n, local])) (the forward pass's input)",
                actual: describeShape(input.shape))
        }
        let outShape = reduction == .none ? [n] : []
        guard upstream.shape == outShape else {
            throw LossError.shapeMismatch(argument: "upstream", expected: describeShape(outShape), actual: describeShape(upstream.shape))
        }
        let options = SliceSoftmax.Options(
            labelSmoothing: Double(labelSmoothing), zLoss: Double(zLoss), vocabulary: forward.vocabulary,
            weightSum: forward.weightSum)
        let uniform: Scalar? = reduction == .none ? nil : reduction == .sum ? upstream[flat: 0] : upstream[flat: 0] / forward.denominator
        var gradient = zeros(Scalar.self, count: n * local)
        input.withUnsafeBufferPointer { x in
            withOptionalBuffer(weight) { w in
                gradient.withUnsafeMutableBufferPointer { g in
                    for row in 0..<n where forward.targets[row] != ignoreIndex && local > 0 {
                        let t = forward.targets[row] - forward.classOffset
                        let r = SliceSoftmax.RowGradient(
                            max: Double(forward.maxima[row]), sumExp: forward.sumExp[row], lse: forward.lse[row],
                            localTarget: t >= 0 && t < local ? t : nil, targetWeight: forward.targetWeights[row],
                            scale: Double(uniform ?? upstream[flat: row]))
                        SliceSoftmax.gradient(
                            x.baseAddress! + row * local, local, into: g.baseAddress! + row * local, exps: false,
                            weights: w?.baseAddress, softcap: nil, r, options)
                    }
                }
            }
        }
        return try Tensor(shape: [n, local], scalars: gradient)
    }
}

/// Calls `body` with the scalars of an optional tensor (nil when absent).
func withOptionalBuffer<T, R>(_ t: Tensor<T>?, _ body: (UnsafeBufferPointer<T>?) throws -> R) rethrows -> R {
    guard let t else { return try body(nil) }
    return try t.withUnsafeBufferPointer { try body($0) }
}
