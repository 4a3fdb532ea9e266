/// Mean squared logarithmic error (`msle` in `make_cases.py`; Keras's
/// `MeanSquaredLogarithmicError`; PyTorch has no built-in):
/// `f(x, y) = (log(1 + x) - log(1 + y))²`, with `log1p` for accuracy near 0.
///
/// Gradient: `∂f/∂x = 2 (log1p x - log1p y) / (1 + x)`,
/// `∂f/∂y = -2 (log1p x - log1p y) / (1 + y)`.
/// Reduction: `mean` divides by the number of elements.
///
/// Domain: both tensors must be greater than -1 (the logarithm's domain); values
/// at or below -1, or NaN, throw ``/Kernels/LossError/invalidValue(argument:position:value:expected:)``
/// where the formula would silently give NaN or infinity. Note that, unlike
/// Keras, LossKit does not clip negative values to 0.
public struct MSLELoss<Scalar: KernelScalar>: ElementwiseLoss {
    /// PyTorch's `reduction`: `.mean` (the default) divides by the number of elements, `.sum` adds, `.none`
    /// keeps one value per element.
    public var reduction: Reduction
    /// A mean squared logarithmic error with the given reduction (`mean` by default).
    public init(reduction: Reduction = .mean) { self.reduction = reduction }

    public func checkDomain(input: Tensor<Scalar>, target: Tensor<Scalar>) throws {
        try InputChecks.elements(input, "input", expected: "a value > -1") { $0 > -1 }
        try InputChecks.elements(target, "target", expected: "a value > -1") { $0 > -1 }
    }

    public func value(input x: Scalar, target y: Scalar) -> Scalar {
        let l = Scalar.log(onePlus: x) - Scalar.log(onePlus: y)
        return l * l
    }

    public func derivatives(input x: Scalar, target y: Scalar) -> (input: Scalar, target: Scalar) {
        let l2 = 2 * (Scalar.log(onePlus: x) - Scalar.log(onePlus: y))
        return (l2 / (1 + x), -l2 / (1 + y))
    }
}

/// Log-cosh loss (`log_cosh` in `make_cases.py`; PyTorch has no built-in):
/// `f(x, y) = log(cosh(d))` with `d = x - y`, evaluated as
/// `|d| + log1p(exp(-2|d|)) - log 2` for `|d| ≥ 1`, which never overflows (a
/// naive `log(cosh(d))` is infinite for `|d| > 710` in Double, `> 89` in Float),
/// and as `log1p(e² / (2 (1 + e)))` with `e = expm1(|d|)` (exactly
/// `cosh d - 1 = e² / (2 (1 + e))`) for `|d| < 1`, where the first form loses
/// digits to cancellation (a relative error of 1e-10 at `|d| = 1e-3` in Double).
///
/// Gradient: `∂f/∂x = tanh(d)`, `∂f/∂y = -tanh(d)`.
/// Reduction: `mean` divides by the number of elements.
/// Behaves like `d² / 2` near 0 and like `|d| - log 2` for large `|d|`.
public struct LogCoshLoss<Scalar: KernelScalar>: ElementwiseLoss {
    /// PyTorch's `reduction`: `.mean` (the default) divides by the number of elements, `.sum` adds, `.none`
    /// keeps one value per element.
    public var reduction: Reduction
    /// A log-cosh loss with the given reduction (`mean` by default).
    public init(reduction: Reduction = .mean) { self.reduction = reduction }

    static var log2: Scalar { Scalar(0.693_147_180_559_945_309_417_232_121_458) }

    public func value(input x: Scalar, target y: Scalar) -> Scalar {
        let z = abs(x - y)
        if z < 1 {
            let e = Scalar.expMinusOne(z)
            return Scalar.log(onePlus: e * e / (2 * (1 + e)))
        }
        return z + Scalar.log(onePlus: Scalar.exp(-2 * z)) - Self.log2
    }

    public func derivatives(input x: Scalar, target y: Scalar) -> (input: Scalar, target: Scalar) {
        let t = Scalar.tanh(x - y)
        return (t, -t)
    }
}
