/// Sigmoid focal loss (`sigmoid_focal` in `make_cases.py`), with the semantics of
/// `torchvision.ops.sigmoid_focal_loss`: for logits `x`, targets `t` in [0, 1],
/// `s = σ(x)`,
///
///     ce = BCE-with-logits(x, t) = max(x, 0) - x t + log1p(exp(-|x|))
///     q  = 1 - p_t = s (1 - t) + (1 - s) t            (no cancellation near s = 1)
///     a  = α t + (1 - α)(1 - t)                        (a = 1 when α < 0)
///     f  = a · ce · q^γ
///
/// Gradients, with `m = q^γ` and `m' = γ q^(γ-1)` (`m' = 0` when `γ = 0`, as
/// PyTorch's `pow` backward):
///
///     ∂f/∂x = a (m (s - t) + ce m' s (1 - s)(1 - 2t))
///     ∂f/∂t = (2α - 1) ce m [α ≥ 0] + a (-x m + ce m' (1 - 2s))
///
/// Both input and target are differentiated, as the reference (autograd) does.
///
/// Deliberate difference: torchvision forms `1 - p_t` from `p = σ(x)`, which rounds
/// to exactly 0 once the logit is beyond about 37 toward its target (17 in Float);
/// with `0 < γ < 1` autograd's backward of `(1 - p_t)^γ` is then `γ · 0^(γ-1) = ∞` and
/// both gradients are `0 · ∞ = NaN`. LossKit forms `q = 1 - p_t` as `σ(-x)` (or
/// `σ(x)`) without that rounding, so its gradient there is the finite value of the
/// formula (a NaN would stop a training run for a sample it already classifies right).
/// Reduction: `mean` divides by the number of elements (torchvision's default
/// is `none`; LossKit's is `mean`, like every LossKit loss).
///
/// Options: `alpha < 0` disables the class weighting (torchvision's convention);
/// `alpha > 1` would weight negatives negatively and throws, as does `gamma < 0`,
/// or either being non-finite. Targets outside [0, 1] throw
/// ``/Kernels/LossError/invalidValue(argument:position:value:expected:)``.
public struct SigmoidFocalLoss<Scalar: KernelScalar>: ElementwiseLoss {
    /// The weight of positives (`1 - alpha` for negatives), in `[0, 1]`; negative to weight every element 1.
    /// 0.25 by default.
    public var alpha: Scalar
    /// The focusing exponent `γ ≥ 0` on `1 - p_t`; 2 by default.
    public var gamma: Scalar
    /// PyTorch's `reduction`: `.mean` (the default) divides by the number of elements, `.sum` adds, `.none`
    /// keeps one value per element.
    public var reduction: Reduction

    /// A sigmoid focal loss; the defaults are torchvision's, except the reduction (`mean`).
    public init(alpha: Scalar = 0.25, gamma: Scalar = 2, reduction: Reduction = .mean) {
        self.alpha = alpha
        self.gamma = gamma
        self.reduction = reduction
    }

    public func checkDomain(input: Tensor<Scalar>, target: Tensor<Scalar>) throws {
        try InputChecks.option(
            "alpha", alpha, valid: alpha.isFinite && alpha <= 1, expected: "a number <= 1 (negative disables weighting)")
        try InputChecks.option("gamma", gamma, valid: gamma.isFinite && gamma >= 0, expected: "a finite number >= 0")
        try InputChecks.elements(target, "target", expected: "a value in [0, 1]") { $0 >= 0 && $0 <= 1 }
    }

    private struct Terms {
        var s, sNeg, ce, q, m, dm, a: Scalar
    }

    private func terms(_ x: Scalar, _ t: Scalar) -> Terms {
        let s = BCEWithLogitsLoss<Scalar>.sigmoid(x), sNeg = BCEWithLogitsLoss<Scalar>.sigmoid(-x)
        let ce = max(x, 0) - x * t + Scalar.log(onePlus: Scalar.exp(-abs(x)))
        let q = s * (1 - t) + sNeg * t
        let m: Scalar = gamma == 0 ? 1 : power(q, gamma)
        let dm: Scalar = gamma == 0 ? 0 : gamma * power(q, gamma - 1)
        let a: Scalar = alpha >= 0 ? alpha * t + (1 - alpha) * (1 - t) : 1
        return Terms(s: s, sNeg: sNeg, ce: ce, q: q, m: m, dm: dm, a: a)
    }

    public func value(input x: Scalar, target t: Scalar) -> Scalar {
        let k = terms(x, t)
        return k.a * k.ce * k.m
    }

    public func derivatives(input x: Scalar, target t: Scalar) -> (input: Scalar, target: Scalar) {
        let k = terms(x, t)
        let dqdx = k.s * k.sNeg * (1 - 2 * t)
        let dqdt = k.sNeg - k.s
        let dx = k.a * (k.m * (k.s - t) + k.ce * k.dm * dqdx)
        let dadt: Scalar = alpha >= 0 ? 2 * alpha - 1 : 0
        let dt = dadt * k.ce * k.m + k.a * (-x * k.m + k.ce * k.dm * dqdt)
        return (dx, dt)
    }
}
