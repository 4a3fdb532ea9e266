/// Gaussian negative log-likelihood, `torch.nn.functional.gaussian_nll_loss`:
/// the model predicts a mean `x` and a variance `v` for each target `y`;
/// with `v' = max(v, eps)` and `d = x - y`,
///
///     f = ½ (log v' + d² / v')  [+ ½ log 2π  when full]
///
/// Gradients: `∂f/∂x = d / v'`, `∂f/∂y = -d / v'`,
/// `∂f/∂v = ½ (1 / v' - d² / v'²)`.
///
/// Surprise, as PyTorch: the clamp at `eps` (default 1e-6) changes the value but
/// not the gradient's form — PyTorch clamps a copy of `var` under `no_grad`, so
/// a variance below `eps` still receives the gradient evaluated at `eps` (not 0,
/// as a differentiated `max` would give).
///
/// Shapes (PyTorch's rules): `input` and `target` have the same shape; `var`
/// has the input's shape (one variance per element), or the input's shape with
/// one dimension of size 1 (`(1, D)` or `(N, 1)` for an `(N, D)` input: one
/// variance shared along that dimension, its gradient summed over it), or the
/// input's shape without its last dimension (as `(N, 1)`). The output of `none`
/// has the input's shape; `mean` divides by the number of input elements.
///
/// Bad input: a negative (or NaN) variance throws
/// ``LossError/invalidValue(argument:position:value:expected:)`` (PyTorch raises too);
/// a negative or non-finite `eps` throws ``LossError/invalidOption(name:value:expected:)``
/// (`eps = 0` is accepted, as in PyTorch: a zero variance then gives the formula's
/// infinite or NaN loss); a
/// `var` of any other shape throws ``LossError/shapeMismatch(argument:expected:actual:)``.
public struct GaussianNLLLoss<Scalar: KernelScalar>: LossFunction {
    public var full: Bool
    public var eps: Scalar
    public var reduction: Reduction

    public init(full: Bool = false, eps: Scalar = Scalar(1e-6), reduction: Reduction = .mean) {
        self.full = full
        self.eps = eps
        self.reduction = reduction
    }

    public var inputSpecs: [InputSpec] { [.values("input"), .values("target"), .values("var")] }

    private struct Operands {
        var input, target, variance: Tensor<Scalar>
        /// The input's dimension along which `var` has size 1 (its length, and the
        /// product of the dimensions after it); `length` 1 when `var` has the input's shape.
        var length = 1, inner = 1

        /// The variance of input element `i`.
        func varianceIndex(_ i: Int) -> Int { length == 1 ? i : (i / (inner * length)) * inner + i % inner }
    }

    private func operands(_ inputs: LossInputs<Scalar>) throws -> Operands {
        let input = try inputs.values("input"), target = try inputs.values("target"), v = try inputs.values("var")
        try InputChecks.option("eps", eps, valid: eps >= 0 && eps.isFinite, expected: "a finite number >= 0")
        try checkSameShape(input, "input", target, "target")
        let shape = input.shape
        var o = Operands(input: input, target: target, variance: v)
        if v.shape != shape {
            // One dimension of size 1 in var where the input's is longer; or the last dropped.
            let differing = v.shape.count == shape.count ? shape.indices.filter { v.shape[$0] != shape[$0] } : []
            if differing.count == 1, v.shape[differing[0]] == 1 {
                o.length = shape[differing[0]]
                o.inner = shape[(differing[0] + 1)...].reduce(1, *)
            } else if !shape.isEmpty, v.shape == Array(shape.dropLast()) {
                o.length = shape[shape.count - 1]
            } else {
                let alternatives = shape.isEmpty
                    ? "" : ", or with one dimension of size 1, or \(describeShape(Array(shape.dropLast())))"
                throw LossError.shapeMismatch(
                    argument: "var", expected: "\(describeShape(shape))\(alternatives) (from the shape of input)",
                    actual: describeShape(v.shape))
            }
        }
        try InputChecks.elements(v, "var", expected: "a non-negative variance") { $0 >= 0 }
        return o
    }

    static var halfLog2Pi: Scalar { Scalar(0.918_938_533_204_672_741_780_329_736_406) }

    public func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        try validate(inputs)
        let o = try operands(inputs)
        let constant: Scalar = full ? Self.halfLog2Pi : 0
        let values = (0..<o.input.count).map { i -> Scalar in
            let v = max(o.variance[flat: o.varianceIndex(i)], eps), d = o.input[flat: i] - o.target[flat: i]
            return 0.5 * (Scalar.log(v) + d * d / v) + constant
        }
        return try reduce(values, shape: o.input.shape, reduction)
    }

    public func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        try validate(inputs)
        let o = try operands(inputs)
        let g = try ReductionGradient(upstream, reduction: reduction, shape: o.input.shape, count: o.input.count)
        var dx = [Scalar](repeating: 0, count: o.input.count), dy = dx
        var dv = [Scalar](repeating: 0, count: o.variance.count)
        for i in 0..<o.input.count {
            let k = o.varianceIndex(i)
            let v = max(o.variance[flat: k], eps), d = o.input[flat: i] - o.target[flat: i]
            let r = d / v
            dx[i] = g[i] * r
            dy[i] = -g[i] * r
            dv[k] += g[i] * 0.5 * (1 - d * r) / v
        }
        return [
            "input": Tensor(uncheckedShape: o.input.shape, scalars: dx),
            "target": Tensor(uncheckedShape: o.input.shape, scalars: dy),
            "var": Tensor(uncheckedShape: o.variance.shape, scalars: dv),
        ]
    }
}

extension GaussianNLLLoss {
    /// The loss of predicted means `input` and variances `variance` (PyTorch's `var`) against `target`.
    public func callAsFunction(_ input: Tensor<Scalar>, _ target: Tensor<Scalar>, variance: Tensor<Scalar>) throws
        -> Tensor<Scalar>
    {
        try typedValue([.values(input), .values(target), .values(variance)])
    }

    /// The loss and its gradients: ``ValueWithGradient/gradient`` is the input's; the
    /// target's and the variance's are `gradient(of: .target)` and `gradient(of: .variance)`.
    public func valueWithGradient(_ input: Tensor<Scalar>, _ target: Tensor<Scalar>, variance: Tensor<Scalar>) throws
        -> ValueWithGradient<Scalar>
    {
        try typedValueWithGradient([.values(input), .values(target), .values(variance)])
    }
}
