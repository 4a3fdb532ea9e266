/// Softmax focal loss on class indices (Lin et al., 2017), as `make_cases.py`'s
/// `focal_cross_entropy` defines it (PyTorch has no such function).
///
/// Input: logits `(N, C)` or `(N, C, d1, ..., dk)` (classes on axis 1; a 1-d
/// `(C)` input is also accepted, as in ``CrossEntropyLoss``); target: class
/// indices of the input's shape without the class axis. With
/// `l = log_softmax(x)_t` (computed stably by the fused kernel) and `p = exp(l)`:
///
///     loss = -α · (1 - p)^γ · l        (α = 1 when `alpha` is nil)
///
/// Gradient, with `s = softmax(x)`:
///
///     ∂loss/∂x_c = ∂loss/∂l · ([c = t] - s_c),
///     ∂loss/∂l   = -α (1 - p)^γ · (1 + γ · p · l / expm1(l))
///
/// which equals `α (γ (1 - p)^(γ-1) p l - (1 - p)^γ)` but never divides by
/// `1 - p`; `1 - p` itself is computed as `-expm1(l)`.
///
/// Reduction: `mean` divides by the number of samples `N·d1···dk`.
///
/// Differences from autograd on the reference formula: where `p_t` is exactly
/// 1 (a logit gap beyond ~37 in Double, ~17 in Float) and `γ < 1`, autograd
/// gives NaN (`0 · ∞` from `(1 - p)^(γ-1)`); LossKit gives the limit, 0.
/// Unlike `torchvision`'s sigmoid focal loss, `alpha` is one scalar for every
/// class, not `α` for positives and `1 - α` for negatives.
///
/// Bad input throws: a negative or non-finite `gamma`, a negative or non-finite
/// `alpha` (``/Kernels/LossError/invalidOption(name:value:expected:)``), shapes, and
/// class indices outside `[0, C)`.
public struct FocalCrossEntropyLoss<Scalar: KernelScalar>: ClassTargetLoss {
    /// The focusing exponent `γ ≥ 0` on `1 - p_t`; 2 by default.
    public var gamma: Scalar
    /// A constant factor on every sample's loss, or nil for none.
    public var alpha: Scalar?
    /// How the per-sample values are combined: `.mean` (the default) divides by the number of samples, `.sum`
    /// adds, `.none` keeps them.
    public var reduction: Reduction

    /// A softmax focal loss with `gamma` 2, no `alpha` and reduction `mean` by default.
    public init(gamma: Scalar = 2, alpha: Scalar? = nil, reduction: Reduction = .mean) {
        self.gamma = gamma
        self.alpha = alpha
        self.reduction = reduction
    }

    public var inputSpecs: [InputSpec] { [.values("input"), .indices("target")] }

    /// Validated inputs and the log-softmax of the input.
    private func prepare(_ inputs: LossInputs<Scalar>) throws -> (ClassAxis, Tensor<Scalar>, Tensor<Int>, [Scalar]) {
        guard gamma.isFinite && gamma >= 0 else {
            throw LossError.invalidOption(name: "gamma", value: "\(gamma)", expected: "a finite number >= 0")
        }
        if let alpha, !(alpha.isFinite && alpha >= 0) {
            throw LossError.invalidOption(name: "alpha", value: "\(alpha)", expected: "None or a finite number >= 0")
        }
        let input = try inputs.values("input"), target = try inputs.indices("target")
        let axis = try ClassAxis(inputShape: input.shape)
        try axis.checkIndexTargets(target)
        let classes = axis.classes
        try target.withUnsafeBufferPointer { t in
            for (position, index) in t.enumerated() where index < 0 || index >= classes {
                throw LossError.indexOutOfRange(
                    argument: "target", position: position, index: index, validRange: "[0, \(classes))")
            }
        }
        var logp = [Scalar](repeating: 0, count: input.count)
        try input.withUnsafeBufferPointer { x in
            try logp.withUnsafeMutableBufferPointer { y in try logSoftmax(x, layout: axis.layout, into: y) }
        }
        return (axis, input, target, logp)
    }

    /// Flat index of (sample row, class) in the input.
    private func offset(_ row: Int, _ cls: Int, _ layout: AxisLayout) -> Int {
        let o = row / layout.inner, i = row % layout.inner
        return (o * layout.length + cls) * layout.inner + i
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        try validate(inputs)
        if let wide = try forwardInFloat(inputs) { return wide }
        let (axis, _, target, logp) = try prepare(inputs)
        let a = alpha ?? 1
        var losses = [Scalar](repeating: 0, count: axis.layout.rows)
        for row in 0..<losses.count {
            let l = logp[offset(row, target[flat: row], axis.layout)]
            let oneMinusP = -Scalar.expMinusOne(l)
            losses[row] = -a * power(oneMinusP, gamma) * l
        }
        return try reduce(losses, shape: axis.sampleShape, reduction)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        try validate(inputs)
        if let wide = try backwardInFloat(inputs, upstream: upstream) { return wide }
        let (axis, input, target, logp) = try prepare(inputs)
        let layout = axis.layout
        let g = try ReductionGradient(upstream, reduction: reduction, shape: axis.sampleShape, count: layout.rows)
        let a = alpha ?? 1
        var grad = [Scalar](repeating: 0, count: input.count)
        for row in 0..<layout.rows {
            let t = target[flat: row]
            let l = logp[offset(row, t, layout)]
            let p = Scalar.exp(l)
            // p · l / expm1(l): 1 at l = 0, 0 at p = 0 (l = -inf), smooth in between.
            let ratio: Scalar = l == 0 ? 1 : (p == 0 ? 0 : p * l / Scalar.expMinusOne(l))
            let dLoss = -a * power(-Scalar.expMinusOne(l), gamma) * (1 + gamma * ratio)
            let scale = g[row] * dLoss
            for c in 0..<layout.length {
                let k = offset(row, c, layout)
                grad[k] = scale * ((c == t ? 1 : 0) - Scalar.exp(logp[k]))
            }
        }
        return ["input": Tensor(uncheckedShape: input.shape, scalars: grad)]
    }
}
