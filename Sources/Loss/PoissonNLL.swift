/// Poisson negative log-likelihood, `torch.nn.functional.poisson_nll_loss`, for
/// predictions `x` and counts `t`, without the constant `log(t!)` unless `full`:
///
///     f = exp(x) - t x                  (logInput = true: x is the log-rate)
///     f = x - t log(x + eps)            (logInput = false: x is the rate)
///     + t log t - t + ½ log(2π t)       (full: Stirling's approximation of log t!, only where t > 1)
///
/// Gradients: `∂f/∂x = exp(x) - t` (or `1 - t / (x + eps)`); `∂f/∂t = -x`
/// (or `-log(x + eps)`), plus `log t + 1 / (2t)` where `full` and `t > 1`.
///
/// Surprises, all as in PyTorch:
/// - the Stirling term is added only where `t > 1` (it is 0 for `t ≤ 1`, where
///   `log t! = 0` for the counts 0 and 1), so with `full` the loss jumps at `t = 1`;
/// - with `full`, the target gradient is NaN where `t = 0`: PyTorch computes the
///   masked-out Stirling term's gradient as `0 · log 0`; LossKit returns NaN there too;
/// - `eps` (default 1e-8) is used only when `logInput` is false, inside the
///   logarithm, not as a clamp.
///
/// Reduction: `mean` divides by the number of elements. Input and target of
/// different shapes broadcast against each other, as in PyTorch (each gradient
/// summed over the dimensions its tensor was broadcast along).
/// Validation (a deliberate difference): targets must be non-negative (counts); with
/// `logInput = false` inputs must be non-negative (rates), and `eps` non-negative and
/// finite — otherwise ``/Kernels/LossError/invalidValue(argument:position:value:expected:)`` or
/// ``/Kernels/LossError/invalidOption(name:value:expected:)``, where PyTorch evaluates the
/// formula anyway (a number for a negative count, NaN for the log of a negative rate).
public struct PoissonNLLLoss<Scalar: KernelScalar>: ElementwiseLoss {
    /// Whether `input` is the log of the rate (the default) rather than the rate.
    public var logInput: Bool
    /// Adds Stirling's approximation of `log t!` where `t > 1`.
    public var full: Bool
    /// Added to the rate inside the logarithm when ``logInput`` is false; 1e-8 by default.
    public var eps: Scalar
    /// PyTorch's `reduction`: `.mean` (the default) divides by the number of elements, `.sum` adds, `.none`
    /// keeps one value per element.
    public var reduction: Reduction

    /// A Poisson negative log-likelihood loss; every default is PyTorch's.
    public init(logInput: Bool = true, full: Bool = false, eps: Scalar = Scalar(1e-8), reduction: Reduction = .mean) {
        self.logInput = logInput
        self.full = full
        self.eps = eps
        self.reduction = reduction
    }

    public var shapeRule: ElementwiseShapeRule { .broadcast }

    public func checkDomain(input: Tensor<Scalar>, target: Tensor<Scalar>) throws {
        try InputChecks.option("eps", eps, valid: eps >= 0 && eps.isFinite, expected: "a finite number >= 0")
        if !logInput {
            try InputChecks.elements(input, "input", expected: "a non-negative rate (log_input is False)") { $0 >= 0 }
        }
        try InputChecks.elements(target, "target", expected: "a non-negative count") { $0 >= 0 }
    }

    static var halfLog2Pi: Scalar { Scalar(0.918_938_533_204_672_741_780_329_736_406) }

    public func value(input x: Scalar, target t: Scalar) -> Scalar {
        var f = logInput ? Scalar.exp(x) - t * x : x - t * Scalar.log(x + eps)
        if full && t > 1 {
            f += t * Scalar.log(t) - t + 0.5 * Scalar.log(t) + Self.halfLog2Pi
        }
        return f
    }

    public func derivatives(input x: Scalar, target t: Scalar) -> (input: Scalar, target: Scalar) {
        var dx: Scalar, dt: Scalar
        if logInput {
            dx = Scalar.exp(x) - t
            dt = -x
        } else {
            dx = 1 - t / (x + eps)
            dt = -Scalar.log(x + eps)
        }
        if full {
            if t > 1 {
                dt += Scalar.log(t) + 0.5 / t
            } else if t == 0 {
                dt = .nan  // PyTorch: 0 · log(0) in the masked-out Stirling term
            }
        }
        return (dx, dt)
    }
}
