/// Smooth L1 loss, `torch.nn.functional.smooth_l1_loss`: with `d = x - y`,
///
///     f = 0.5 d² / β      if |d| < β
///         |d| - 0.5 β     otherwise
///
/// Gradient: `∂f/∂x = d / β` inside the quadratic zone and `sign(d)` outside
/// (equal at `|d| = β`), `∂f/∂y = -∂f/∂x`.
/// `β = 0` is exactly ``L1Loss`` (value `|d|`, gradient `sign(d)` with
/// `sign(0) = 0`), as PyTorch, which routes `beta=0` to `l1_loss` rather than
/// dividing by zero. `β < 0` (or non-finite) throws
/// ``/Kernels/LossError/invalidOption(name:value:expected:)``.
/// Reduction: `mean` divides by the number of elements.
///
/// Surprise: smooth L1 with `β` equals ``HuberLoss`` with `δ = β` divided by `β`;
/// the quadratic zone's curvature is `1/β`, so a small `β` gives a steep loss.
public struct SmoothL1Loss<Scalar: KernelScalar>: ElementwiseLoss {
    /// Where the quadratic zone ends, `β ≥ 0`; 1 by default.
    public var beta: Scalar
    /// PyTorch's `reduction`: `.mean` (the default) divides by the number of elements, `.sum` adds, `.none`
    /// keeps one value per element.
    public var reduction: Reduction

    /// A smooth L1 loss; every default is PyTorch's.
    public init(beta: Scalar = 1, reduction: Reduction = .mean) {
        self.beta = beta
        self.reduction = reduction
    }

    public func checkDomain(input: Tensor<Scalar>, target: Tensor<Scalar>) throws {
        try InputChecks.option("beta", beta, valid: beta >= 0 && beta.isFinite, expected: "a finite number >= 0")
    }

    /// `β = 0` runs ``L1Loss`` itself (its fused kernel), so the two agree bit for bit.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        try validate(inputs)
        if let wide = try forwardInFloat(inputs) { return wide }
        return beta == 0 ? try L1Loss(reduction: reduction).forward(inputs) : try elementwiseForward(inputs)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        try validate(inputs)
        if let wide = try backwardInFloat(inputs, upstream: upstream) { return wide }
        return beta == 0 ? try L1Loss(reduction: reduction).backward(inputs, upstream: upstream)
            : try elementwiseBackward(inputs, upstream: upstream)
    }

    public func value(input x: Scalar, target y: Scalar) -> Scalar {
        let d = x - y, z = abs(d)
        if beta == 0 { return z }
        return z < beta ? 0.5 * d * d / beta : z - 0.5 * beta
    }

    public func derivatives(input x: Scalar, target y: Scalar) -> (input: Scalar, target: Scalar) {
        let d = x - y
        let g: Scalar = beta == 0 ? signum(d) : d < -beta ? -1 : d > beta ? 1 : d / beta
        return (g, -g)
    }
}

/// Huber loss, `torch.nn.functional.huber_loss`: with `d = x - y`,
///
///     f = 0.5 d²               if |d| < δ
///         δ (|d| - 0.5 δ)      otherwise
///
/// Gradient: `∂f/∂x = d` inside the quadratic zone and `δ · sign(d)` outside
/// (equal at `|d| = δ`), `∂f/∂y = -∂f/∂x`. `δ` must be positive (PyTorch
/// rejects `delta <= 0` too): otherwise ``/Kernels/LossError/invalidOption(name:value:expected:)``.
/// Reduction: `mean` divides by the number of elements.
///
/// Unlike ``SmoothL1Loss``, the linear zone's slope is `δ`, not 1:
/// `huber(δ) = δ · smooth_l1(β = δ)`.
///
/// With `weight` (PyTorch 2.15's `weight=`, a tensor of the input's shape, no
/// gradient): each element is `w_i f_i`, and `mean` divides by the number of
/// elements (unlike `l1_loss` and `mse_loss`, which divide by `sum(w)`, as PyTorch).
public struct HuberLoss<Scalar: KernelScalar>: ElementwiseLoss {
    /// Where the quadratic zone ends and the slope of the linear zone, `δ > 0`; 1 by default.
    public var delta: Scalar
    /// Per-element weights of the input's shape (PyTorch 2.15's `weight=`, no gradient), or nil.
    public var weight: Tensor<Scalar>?
    /// PyTorch's `reduction`: `.mean` (the default) divides by the number of elements, `.sum` adds, `.none`
    /// keeps one value per element.
    public var reduction: Reduction

    /// A Huber loss; every default is PyTorch's.
    public init(delta: Scalar = 1, weight: Tensor<Scalar>? = nil, reduction: Reduction = .mean) {
        self.delta = delta
        self.weight = weight
        self.reduction = reduction
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        try validate(inputs)
        if let wide = try forwardInFloat(inputs) { return wide }
        return try elementwiseForward(inputs, weight: weight, mean: .byCount)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        try validate(inputs)
        if let wide = try backwardInFloat(inputs, upstream: upstream) { return wide }
        return try elementwiseBackward(inputs, upstream: upstream, weight: weight, mean: .byCount)
    }

    public func checkDomain(input: Tensor<Scalar>, target: Tensor<Scalar>) throws {
        try InputChecks.option("delta", delta, valid: delta > 0 && delta.isFinite, expected: "a finite number > 0")
    }

    public func value(input x: Scalar, target y: Scalar) -> Scalar {
        let d = x - y, z = abs(d)
        return z < delta ? 0.5 * d * d : delta * (z - 0.5 * delta)
    }

    public func derivatives(input x: Scalar, target y: Scalar) -> (input: Scalar, target: Scalar) {
        let d = x - y
        let g: Scalar = d < -delta ? -delta : d > delta ? delta : d
        return (g, -g)
    }
}
