/// Losses on labels of ±1: soft margin, hinge, squared hinge, hinge embedding
/// and margin ranking.
///
/// PyTorch documents these targets as -1 or 1 but does not check them. Where
/// the formula is a smooth function of the target (soft margin, hinge, squared
/// hinge, margin ranking — PyTorch's autograd even differentiates the target of
/// the last three), LossKit follows PyTorch and uses any real target as is (a scaled
/// label). `hinge_embedding_loss` is different: it selects a branch by comparing
/// the target with 1 and -1, and PyTorch silently adds both branches for any
/// other value (a target of 0 gives `x + max(0, margin - x)`); LossKit throws
/// ``/Kernels/LossError/invalidValue(argument:position:value:expected:)`` there instead.
///
/// At a hinge's kink (`margin term = 0` exactly) the gradient is 0, that of the
/// inactive side, as the reference PyTorch's (2.15) `clamp` and `clamp_min`
/// backward, `where(z > 0, grad, 0)`. A NaN input gives a NaN loss (the clamp keeps
/// NaN, as PyTorch's does) and, like autograd, the gradient that selection passes on
/// times the rest of the chain rule (`0 · NaN` is NaN where the chain meets the NaN).

/// `torch.nn.functional.soft_margin_loss`: `f(x, y) = log(1 + exp(-y x))` for
/// labels `y` in {-1, 1} (other values are used as is), evaluated as a softplus
/// that never overflows.
///
/// Gradient: `∂f/∂x = -y σ(-y x)`. The target is a label and has no gradient,
/// as in PyTorch. Reduction: `mean` divides by the number of elements.
/// A target whose shape broadcasts to the input's is broadcast, as PyTorch does
/// without a warning (an input smaller than the broadcast shape is an error there too).
public struct SoftMarginLoss<Scalar: KernelScalar>: ElementwiseLoss {
    /// PyTorch's `reduction`: `.mean` (the default) divides by the number of elements, `.sum` adds, `.none`
    /// keeps one value per element.
    public var reduction: Reduction
    /// A soft margin loss; every default is PyTorch's.
    public init(reduction: Reduction = .mean) { self.reduction = reduction }

    public var targetIsDifferentiable: Bool { false }
    /// The target is broadcast to the input's shape, as PyTorch's in-place kernel does.
    public var shapeRule: ElementwiseShapeRule { .targetBroadcastsToInput }

    public func value(input x: Scalar, target y: Scalar) -> Scalar {
        BCEWithLogitsLoss<Scalar>.softplusNeg(y * x)
    }

    public func derivatives(input x: Scalar, target y: Scalar) -> (input: Scalar, target: Scalar) {
        let s = BCEWithLogitsLoss<Scalar>.sigmoid(-y * x)
        return (-y * s, -x * s)
    }
}

/// Hinge loss (`hinge` in `make_cases.py`; the SVM loss): `f(x, y) = max(0, 1 - y x)`
/// for labels `y` in {-1, 1} (other values are used as is).
///
/// Gradient: with `k = [1 - y x > 0]`, `∂f/∂x = -k y`, `∂f/∂y = -k x` (so a NaN `x`
/// gives `∂f/∂y` NaN and `∂f/∂x` 0, as autograd on the reference formula).
/// Reduction: `mean` divides by the number of elements.
public struct HingeLoss<Scalar: KernelScalar>: ElementwiseLoss {
    /// PyTorch's `reduction`: `.mean` (the default) divides by the number of elements, `.sum` adds, `.none`
    /// keeps one value per element.
    public var reduction: Reduction
    /// A hinge loss with the given reduction (`mean` by default).
    public init(reduction: Reduction = .mean) { self.reduction = reduction }

    public func value(input x: Scalar, target y: Scalar) -> Scalar { clampMin0(1 - y * x) }

    public func derivatives(input x: Scalar, target y: Scalar) -> (input: Scalar, target: Scalar) {
        let k = hingeMask(1 - y * x)
        return (k * -y, k * -x)
    }
}

/// Squared hinge loss (`squared_hinge` in `make_cases.py`):
/// `f(x, y) = max(0, 1 - y x)²` for labels `y` in {-1, 1} (other values are used as is).
///
/// Gradient: with `h = max(0, 1 - y x)`, `∂f/∂x = -2 h y`, `∂f/∂y = -2 h x`
/// (continuous: no kink). Reduction: `mean` divides by the number of elements.
public struct SquaredHingeLoss<Scalar: KernelScalar>: ElementwiseLoss {
    /// PyTorch's `reduction`: `.mean` (the default) divides by the number of elements, `.sum` adds, `.none`
    /// keeps one value per element.
    public var reduction: Reduction
    /// A squared hinge loss with the given reduction (`mean` by default).
    public init(reduction: Reduction = .mean) { self.reduction = reduction }

    public func value(input x: Scalar, target y: Scalar) -> Scalar {
        let h = clampMin0(1 - y * x)
        return h * h
    }

    public func derivatives(input x: Scalar, target y: Scalar) -> (input: Scalar, target: Scalar) {
        // The clamp's backward selects: 2h where 1 - y x > 0, else 0 (NaN included).
        let z = 1 - y * x
        let h2 = z > 0 ? 2 * z : 0
        return (-h2 * y, -h2 * x)
    }
}

/// `torch.nn.functional.hinge_embedding_loss`: for a distance-like `x` and a
/// label `y` in {-1, 1},
///
///     f(x, y) = x                      if y = 1
///               max(0, margin - x)     if y = -1
///
/// Gradient: `∂f/∂x = 1` where `y = 1`; `-1` where `y = -1` and `margin - x > 0`;
/// 0 elsewhere. The target is a label and has no gradient, as in PyTorch.
/// Reduction: `mean` divides by the number of elements of the output. Input and
/// target broadcast against each other, as in PyTorch (the input's gradient is
/// summed over the dimensions it was broadcast along).
/// `margin` may be any finite number (PyTorch's default is 1); a non-finite one throws.
public struct HingeEmbeddingLoss<Scalar: KernelScalar>: ElementwiseLoss {
    /// The distance below which dissimilar pairs (`y = -1`) are penalized; finite, 1 by default.
    public var margin: Scalar
    /// PyTorch's `reduction`: `.mean` (the default) divides by the number of elements, `.sum` adds, `.none`
    /// keeps one value per element.
    public var reduction: Reduction

    /// A hinge embedding loss; every default is PyTorch's.
    public init(margin: Scalar = 1, reduction: Reduction = .mean) {
        self.margin = margin
        self.reduction = reduction
    }

    public var targetIsDifferentiable: Bool { false }
    public var shapeRule: ElementwiseShapeRule { .broadcast }

    public func checkDomain(input: Tensor<Scalar>, target: Tensor<Scalar>) throws {
        try InputChecks.finite("margin", margin)
        try InputChecks.signs(target, "target")
    }

    public func value(input x: Scalar, target y: Scalar) -> Scalar {
        y == 1 ? x : clampMin0(margin - x)
    }

    public func derivatives(input x: Scalar, target y: Scalar) -> (input: Scalar, target: Scalar) {
        (y == 1 ? 1 : margin - x > 0 ? -1 : 0, 0)
    }
}

/// `torch.nn.functional.margin_ranking_loss`: for scores `x1`, `x2` and a label
/// `y` in {-1, 1} saying which should rank higher,
/// `f(x1, x2, y) = max(0, -y (x1 - x2) + margin)`.
///
/// Gradient where the hinge is active (`-y (x1 - x2) + margin > 0`):
/// `∂f/∂x1 = -y`, `∂f/∂x2 = y`, `∂f/∂y = -(x1 - x2)`; zero elsewhere, except that
/// `∂f/∂y = -(0 · (x1 - x2))` is NaN where `x1 - x2` is, as autograd gives it.
/// PyTorch differentiates all three inputs, so LossKit returns all three.
/// Reduction: `mean` divides by the number of elements of the output.
/// The three inputs must have the same rank and broadcast against each other, as
/// in PyTorch (each gradient summed over the dimensions its tensor was broadcast
/// along); `margin` must be finite.
public struct MarginRankingLoss<Scalar: KernelScalar>: PairTargetLoss {
    /// How far the higher-ranked score must lead for a zero loss; finite, 0 by default.
    public var margin: Scalar
    /// PyTorch's `reduction`: `.mean` (the default) divides by the number of elements, `.sum` adds, `.none`
    /// keeps one value per element.
    public var reduction: Reduction

    /// A margin ranking loss; every default is PyTorch's.
    public init(margin: Scalar = 0, reduction: Reduction = .mean) {
        self.margin = margin
        self.reduction = reduction
    }

    public var inputSpecs: [InputSpec] { [.values("input1"), .values("input2"), .values("target")] }

    /// The three inputs broadcast to their common shape (PyTorch requires them to have one rank).
    private func operands(_ inputs: LossInputs<Scalar>) throws -> (Tensor<Scalar>, Tensor<Scalar>, Tensor<Scalar>) {
        let x1 = try inputs.values("input1"), x2 = try inputs.values("input2"), y = try inputs.values("target")
        try InputChecks.finite("margin", margin)
        for (name, t) in [("input2", x2), ("target", y)] where t.rank != x1.rank {
            throw LossError.shapeMismatch(
                argument: name, expected: "rank \(x1.rank) (the rank of input1; sizes may broadcast)",
                actual: describeShape(t.shape))
        }
        let shape = try broadcastShape([("input1", x1.shape), ("input2", x2.shape), ("target", y.shape)])
        return (x1.broadcast(to: shape), x2.broadcast(to: shape), y.broadcast(to: shape))
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        try validate(inputs)
        if let wide = try forwardInFloat(inputs) { return wide }
        let (x1, x2, y) = try operands(inputs)
        let values = generatedArray(count: x1.count) { i in clampMin0(-y[flat: i] * (x1[flat: i] - x2[flat: i]) + margin) }
        return try reduce(values, shape: x1.shape, reduction)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        try validate(inputs)
        if let wide = try backwardInFloat(inputs, upstream: upstream) { return wide }
        let (x1, x2, y) = try operands(inputs)
        let g = try ReductionGradient(upstream, reduction: reduction, shape: x1.shape, count: x1.count)
        var d1 = [Scalar](repeating: 0, count: x1.count), d2 = d1, dy = d1
        for i in 0..<x1.count {
            // Autograd's chain on (-y)(x1 - x2) + margin: the clamp selects g or 0, then products.
            let diff = x1[flat: i] - x2[flat: i], t = y[flat: i]
            let dz = -t * diff + margin > 0 ? g[i] : 0
            d1[i] = dz * -t
            d2[i] = -d1[i]
            dy[i] = -(dz * diff)
        }
        return [
            "input1": Tensor(uncheckedShape: x1.shape, scalars: d1).summed(to: try inputs.values("input1").shape),
            "input2": Tensor(uncheckedShape: x1.shape, scalars: d2).summed(to: try inputs.values("input2").shape),
            "target": Tensor(uncheckedShape: x1.shape, scalars: dy).summed(to: try inputs.values("target").shape),
        ]
    }
}
