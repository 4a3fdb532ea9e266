/// Cross-entropy with an auxiliary z-loss (PaLM, Chowdhery et al. 2022), as
/// `make_cases.py`'s `cross_entropy_z_loss` defines it (PyTorch has no such function).
///
/// Input: logits `(C)`, `(N, C)` or `(N, C, d1, ..., dk)` (classes on axis 1);
/// target: class indices of the input's shape without the class axis. With
/// `lse = log sum_c exp(x_c)` (the fused kernel
/// ``/Kernels/logSumExp(_:layout:into:threads:)-(UnsafeBufferPointer<T>,_,_,_)``), per sample:
///
///     loss = lse - x_t + z_loss · lse²        (0 when t == ignoreIndex)
///
/// where `lse - x_t` is `-log_softmax(x)_t`, computed as log-softmax computes it,
/// `log sum_c exp(x_c - m) - (x_t - m)` with `m` the row's max: never as the
/// difference of `lse` and `x_t`, which a large common offset of the logits cancels.
///
/// Gradient: `∂loss/∂x_c = s_c (1 + 2 z_loss · lse) - [c = t]` with
/// `s = softmax(x) = exp(log_softmax(x))`, and 0 for ignored samples.
///
/// Reduction: `none` keeps one value per sample (0 where ignored); `sum` adds
/// them; `mean` divides the sum by the **number of samples not ignored** (no
/// class weights here), so if every sample is ignored the mean is NaN (0/0),
/// as in the reference formula and as `cross_entropy` does in PyTorch.
///
/// Bad input throws: a negative or non-finite `z_loss`
/// (``/Kernels/LossError/invalidOption(name:value:expected:)``), shapes, and class
/// indices outside `[0, C)` other than `ignoreIndex`.
public struct CrossEntropyZLoss<Scalar: KernelScalar>: ClassTargetLoss {
    /// The coefficient of `lse²` (PaLM uses 1e-4).
    public var zLoss: Scalar
    /// A target equal to it contributes nothing and is left out of the mean; -100 by default.
    public var ignoreIndex: Int
    /// `.mean` (the default) divides by the number of samples not ignored, `.sum` adds, `.none` keeps one
    /// value per sample.
    public var reduction: Reduction

    /// A cross-entropy with z-loss coefficient `zLoss` (1e-4, PaLM's, by default).
    public init(zLoss: Scalar = 1e-4, ignoreIndex: Int = -100, reduction: Reduction = .mean) {
        self.zLoss = zLoss
        self.ignoreIndex = ignoreIndex
        self.reduction = reduction
    }

    public var inputSpecs: [InputSpec] { [.values("input"), .indices("target")] }

    /// Validated inputs, the per-row log-sum-exp and the log-softmax of the input.
    private func prepare(_ inputs: LossInputs<Scalar>) throws -> (ClassAxis, Tensor<Scalar>, Tensor<Int>, [Scalar], [Scalar]) {
        guard zLoss.isFinite && zLoss >= 0 else {
            throw LossError.invalidOption(name: "z_loss", value: "\(zLoss)", expected: "a finite number >= 0")
        }
        let input = try inputs.values("input"), target = try inputs.indices("target")
        let axis = try ClassAxis(inputShape: input.shape)
        try axis.checkIndexTargets(target)
        try axis.checkIndices(target, ignoreIndex: ignoreIndex)
        var lse = [Scalar](repeating: 0, count: axis.layout.rows)
        var logp = [Scalar](repeating: 0, count: input.count)
        try input.withUnsafeBufferPointer { x in
            try lse.withUnsafeMutableBufferPointer { out in try logSumExp(x, layout: axis.layout, into: out) }
            try logp.withUnsafeMutableBufferPointer { out in try logSoftmax(x, layout: axis.layout, into: out) }
        }
        return (axis, input, target, lse, logp)
    }

    /// Flat index of (sample row, class) in the input.
    private func offset(_ row: Int, _ cls: Int, _ layout: AxisLayout) -> Int {
        let o = row / layout.inner, i = row % layout.inner
        return (o * layout.length + cls) * layout.inner + i
    }

    /// The number of samples not ignored: the mean's denominator.
    private func keptCount(_ target: Tensor<Int>) -> Int {
        target.withUnsafeBufferPointer { t in t.reduce(0) { $0 + ($1 == ignoreIndex ? 0 : 1) } }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        try validate(inputs)
        if let wide = try forwardInFloat(inputs) { return wide }
        let (axis, _, target, lse, logp) = try prepare(inputs)
        var losses = [Scalar](repeating: 0, count: axis.layout.rows)
        for row in 0..<losses.count {
            let t = target[flat: row]
            guard t != ignoreIndex else { continue }
            let m = lse[row]
            losses[row] = -logp[offset(row, t, axis.layout)] + zLoss * m * m
        }
        switch reduction {
        case .none, .sum:
            return try reduce(losses, shape: axis.sampleShape, reduction)
        case .mean:
            let total = try losses.withUnsafeBufferPointer { try sum($0) }
            return Tensor(scalar: total / Scalar(keptCount(target)))
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        try validate(inputs)
        if let wide = try backwardInFloat(inputs, upstream: upstream) { return wide }
        let (axis, input, target, lse, logp) = try prepare(inputs)
        let layout = axis.layout
        try checkUpstream(upstream, reducedShape(axis.sampleShape, reduction))
        let uniform: Scalar
        switch reduction {
        case .none: uniform = 0
        case .sum: uniform = upstream[flat: 0]
        case .mean: uniform = upstream[flat: 0] / Scalar(keptCount(target))
        }
        var grad = [Scalar](repeating: 0, count: input.count)
        for row in 0..<layout.rows {
            let t = target[flat: row]
            guard t != ignoreIndex else { continue }
            let g = reduction == .none ? upstream[flat: row] : uniform
            let softmaxScale = g * (1 + 2 * zLoss * lse[row])
            for c in 0..<layout.length {
                let k = offset(row, c, layout)
                grad[k] = softmaxScale * Scalar.exp(logp[k]) - (c == t ? g : 0)
            }
        }
        return ["input": Tensor(uncheckedShape: input.shape, scalars: grad)]
    }
}
