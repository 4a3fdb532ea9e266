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
/// Shapes (PyTorch's rules): `var` has the input's shape (one variance per
/// element), or the input's shape with one dimension of size 1 (`(1, D)` or
/// `(N, 1)` for an `(N, D)` input: one variance shared along that dimension), or
/// the input's shape without its last dimension (as `(N, 1)`). Then `input`,
/// `target` and `var` broadcast against each other, as PyTorch broadcasts them
/// without a warning (a target `(D)` against an input `(N, D)`, say): the output
/// of `none` has the broadcast shape, `mean` divides by its element count, and
/// each gradient is summed over the dimensions its tensor was broadcast along.
///
/// Bad input: a negative (or NaN) variance throws
/// ``/Kernels/LossError/invalidValue(argument:position:value:expected:)`` (PyTorch raises too);
/// a negative or non-finite `eps` throws ``/Kernels/LossError/invalidOption(name:value:expected:)``
/// (`eps = 0` is accepted, as in PyTorch: a zero variance then gives the formula's
/// infinite or NaN loss); a
/// `var` of any other shape throws ``/Kernels/LossError/shapeMismatch(argument:expected:actual:)``.
public struct GaussianNLLLoss<Scalar: KernelScalar>: LossFunction {
    /// Adds the constant `½ log 2π` to every element's loss.
    public var full: Bool
    /// The floor of the variance in the value (see the type's documentation); > 0, 1e-6 by default.
    public var eps: Scalar
    /// PyTorch's `reduction`: `.mean` (the default) divides by the number of elements, `.sum` adds, `.none`
    /// keeps one value per element.
    public var reduction: Reduction

    /// A Gaussian negative log-likelihood loss; every default is PyTorch's.
    public init(full: Bool = false, eps: Scalar = Scalar(1e-6), reduction: Reduction = .mean) {
        self.full = full
        self.eps = eps
        self.reduction = reduction
    }

    public var inputSpecs: [InputSpec] { [.values("input"), .values("target"), .values("var")] }

    /// The three tensors broadcast to their common shape (the output's).
    private struct Operands {
        var input, target, variance: Tensor<Scalar>
        /// The shape `var` takes part in broadcasting with (its own, or unsqueezed at the end).
        var varianceShape: [Int]
    }

    /// PyTorch's rules: `var` has the input's shape, or the input's shape without its
    /// last dimension (then unsqueezed there), or the input's rank with the sizes that
    /// differ from the input's summing to 1 (one dimension of size 1); then input,
    /// target and var broadcast.
    private func operands(_ inputs: LossInputs<Scalar>) throws -> Operands {
        let input = try inputs.values("input"), target = try inputs.values("target"), v = try inputs.values("var")
        try InputChecks.option("eps", eps, valid: eps >= 0 && eps.isFinite, expected: "a finite number >= 0")
        let shape = input.shape
        var varianceShape = v.shape
        if v.shape != shape {
            if !shape.isEmpty, v.shape == Array(shape.dropLast()) {
                varianceShape = v.shape + [1]
            } else if v.rank == shape.count, zip(shape, v.shape).filter({ $0 != $1 }).map(\.1).reduce(0, +) == 1 {
                // One dimension of size 1 where the input's differs.
            } else {
                let alternatives = shape.isEmpty
                    ? "" : ", or with one dimension of size 1, or \(describeShape(Array(shape.dropLast())))"
                throw LossError.shapeMismatch(
                    argument: "var", expected: "\(describeShape(shape))\(alternatives) (from the shape of input)",
                    actual: describeShape(v.shape))
            }
        }
        try InputChecks.elements(v, "var", expected: "a non-negative variance") { $0 >= 0 }
        let out = try broadcastShape([("input", shape), ("target", target.shape), ("var", varianceShape)])
        return Operands(
            input: input.broadcast(to: out), target: target.broadcast(to: out),
            variance: Tensor(uncheckedShape: varianceShape, scalars: v.scalars).broadcast(to: out),
            varianceShape: varianceShape)
    }

    static var halfLog2Pi: Scalar { Scalar(0.918_938_533_204_672_741_780_329_736_406) }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        try validate(inputs)
        if let wide = try forwardInFloat(inputs) { return wide }
        let o = try operands(inputs)
        let constant: Scalar = full ? Self.halfLog2Pi : 0
        let values = generatedArray(count: o.input.count) { i -> Scalar in
            let v = max(o.variance[flat: i], eps), d = o.input[flat: i] - o.target[flat: i]
            return 0.5 * (Scalar.log(v) + d * d / v) + constant
        }
        return try reduce(values, shape: o.input.shape, reduction)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        try validate(inputs)
        if let wide = try backwardInFloat(inputs, upstream: upstream) { return wide }
        let o = try operands(inputs)
        let g = try ReductionGradient(upstream, reduction: reduction, shape: o.input.shape, count: o.input.count)
        var dx = [Scalar](repeating: 0, count: o.input.count), dy = dx, dv = dx
        for i in 0..<o.input.count {
            let v = max(o.variance[flat: i], eps), d = o.input[flat: i] - o.target[flat: i]
            let r = d / v
            dx[i] = g[i] * r
            dy[i] = -g[i] * r
            dv[i] = g[i] * 0.5 * (1 - d * r) / v
        }
        // Each gradient summed over the dimensions its tensor was broadcast along.
        let shape = o.input.shape
        return [
            "input": Tensor(uncheckedShape: shape, scalars: dx).summed(to: try inputs.values("input").shape),
            "target": Tensor(uncheckedShape: shape, scalars: dy).summed(to: try inputs.values("target").shape),
            "var": try Tensor(uncheckedShape: shape, scalars: dv).summed(to: o.varianceShape)
                .reshaped(try inputs.values("var").shape),
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
