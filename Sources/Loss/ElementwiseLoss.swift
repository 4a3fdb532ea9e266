/// A loss of the form `reduce(f(input_i, target_i))` over two tensors of the same shape.
///
/// Conforming types provide the per-element value `f` and its partial
/// derivatives; the protocol supplies ``LossFunction/forward(_:)`` and
/// ``LossFunction/backward(_:upstream:)`` with every ``Reduction``. This is the
/// quickest way to write your own regression loss (see <doc:WritingYourOwnLoss>).
///
/// `input` and `target` of different shapes follow ``shapeRule``: by default they
/// must be equal. Where PyTorch broadcasts them with a warning that it is probably a
/// mistake (`mse_loss`, `l1_loss`, `smooth_l1_loss`, `huber_loss`), LossKit throws
/// instead: a silent broadcast of `(N, 1)` against `(N,)` is a classic wrong-number
/// bug. Where PyTorch broadcasts without a warning (`poisson_nll_loss`,
/// `hinge_embedding_loss`; `soft_margin_loss` the target to the input's shape), so
/// does LossKit, with each gradient summed over the dimensions its tensor was broadcast along.
public protocol ElementwiseLoss: InputTargetLoss {
    /// How the per-element values are combined: `none`, `mean` (divided by the element count) or `sum`.
    var reduction: Reduction { get }
    /// `f(x, y)`.
    func value(input x: Scalar, target y: Scalar) -> Scalar
    /// `(∂f/∂x, ∂f/∂y)`.
    func derivatives(input x: Scalar, target y: Scalar) -> (input: Scalar, target: Scalar)
    /// Domain checks on the inputs (for example probabilities in [0, 1]); the default accepts everything.
    func checkDomain(input: Tensor<Scalar>, target: Tensor<Scalar>) throws
    /// Whether `target` has a gradient; defaults to true.
    var targetIsDifferentiable: Bool { get }
    /// How `input` and `target` of different shapes combine; defaults to ``ElementwiseShapeRule/sameShape``.
    var shapeRule: ElementwiseShapeRule { get }
}

/// How an ``ElementwiseLoss`` combines `input` and `target` of different shapes.
public enum ElementwiseShapeRule: Sendable, Equatable {
    /// The shapes must be equal.
    case sameShape
    /// `target` is broadcast to the input's shape; the output has the input's shape.
    case targetBroadcastsToInput
    /// Both are broadcast to their common shape (PyTorch's broadcasting), the output's.
    case broadcast
}

extension ElementwiseLoss {
    public var targetIsDifferentiable: Bool { true }
    public var shapeRule: ElementwiseShapeRule { .sameShape }
    public func checkDomain(input: Tensor<Scalar>, target: Tensor<Scalar>) throws {}

    public var inputSpecs: [InputSpec] {
        [.values("input"), targetIsDifferentiable ? .values("target") : .constant("target")]
    }

    /// `input` and `target` (broadcast to a common shape where ``shapeRule`` says so),
    /// after the domain checks on the tensors as given.
    func operands(_ inputs: LossInputs<Scalar>) throws -> (Tensor<Scalar>, Tensor<Scalar>) {
        let input = try inputs.values("input"), target = try inputs.values("target")
        var shape = input.shape
        switch shapeRule {
        case .sameShape:
            try checkSameShape(input, "input", target, "target")
        case .targetBroadcastsToInput:
            guard (try? broadcastShape([("input", input.shape), ("target", target.shape)])) == input.shape else {
                throw LossError.shapeMismatch(
                    argument: "target", expected: "a shape that broadcasts to \(describeShape(input.shape)) (the shape of input)",
                    actual: describeShape(target.shape))
            }
        case .broadcast:
            shape = try broadcastShape([("input", input.shape), ("target", target.shape)])
        }
        try checkDomain(input: input, target: target)
        return (input.broadcast(to: shape), target.broadcast(to: shape))
    }

    @_specialize(where Self == SigmoidFocalLoss<Float>)
    @_specialize(where Self == SigmoidFocalLoss<Double>)
    @_specialize(where Self == MSLELoss<Float>)
    @_specialize(where Self == MSLELoss<Double>)
    @_specialize(where Self == LogCoshLoss<Float>)
    @_specialize(where Self == LogCoshLoss<Double>)
    @_specialize(where Self == SoftMarginLoss<Float>)
    @_specialize(where Self == SoftMarginLoss<Double>)
    @_specialize(where Self == HingeLoss<Float>)
    @_specialize(where Self == HingeLoss<Double>)
    @_specialize(where Self == SquaredHingeLoss<Float>)
    @_specialize(where Self == SquaredHingeLoss<Double>)
    @_specialize(where Self == HingeEmbeddingLoss<Float>)
    @_specialize(where Self == HingeEmbeddingLoss<Double>)
    @_specialize(where Self == PoissonNLLLoss<Float>)
    @_specialize(where Self == PoissonNLLLoss<Double>)
    @_specialize(where Self == MAPELoss<Float>)
    @_specialize(where Self == MAPELoss<Double>)
    public func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        try validate(inputs)
        if let wide = try forwardInFloat(inputs) { return wide }
        return try elementwiseForward(inputs)
    }

    @_specialize(where Self == SigmoidFocalLoss<Float>)
    @_specialize(where Self == SigmoidFocalLoss<Double>)
    @_specialize(where Self == MSLELoss<Float>)
    @_specialize(where Self == MSLELoss<Double>)
    @_specialize(where Self == LogCoshLoss<Float>)
    @_specialize(where Self == LogCoshLoss<Double>)
    @_specialize(where Self == SoftMarginLoss<Float>)
    @_specialize(where Self == SoftMarginLoss<Double>)
    @_specialize(where Self == HingeLoss<Float>)
    @_specialize(where Self == HingeLoss<Double>)
    @_specialize(where Self == SquaredHingeLoss<Float>)
    @_specialize(where Self == SquaredHingeLoss<Double>)
    @_specialize(where Self == HingeEmbeddingLoss<Float>)
    @_specialize(where Self == HingeEmbeddingLoss<Double>)
    @_specialize(where Self == PoissonNLLLoss<Float>)
    @_specialize(where Self == PoissonNLLLoss<Double>)
    @_specialize(where Self == MAPELoss<Float>)
    @_specialize(where Self == MAPELoss<Double>)
    public func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        try validate(inputs)
        if let wide = try backwardInFloat(inputs, upstream: upstream) { return wide }
        return try elementwiseBackward(inputs, upstream: upstream)
    }

    /// The forward pass from ``value(input:target:)``: what ``LossFunction/forward(_:)`` does unless a
    /// conforming type replaces it (to delegate a special case, say) and still wants it.
    public func elementwiseForward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        try elementwiseForward(inputs, weight: nil, mean: .byCount)
    }

    /// The backward pass from ``derivatives(input:target:)``.
    public func elementwiseBackward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        try elementwiseBackward(inputs, upstream: upstream, weight: nil, mean: .byCount)
    }

    /// The forward pass with per-element weights (none: all 1): `none` gives `w_i f(x_i, y_i)`,
    /// `sum` their sum, `mean` that sum over `sum(w)` or the count (`mean`). A weight of
    /// another shape than the input throws ``/Kernels/LossError/shapeMismatch(argument:expected:actual:)``
    /// (PyTorch raises `ValueError`); all-zero weights give NaN for `byWeightSum`, as 0/0 in PyTorch.
    func elementwiseForward(_ inputs: LossInputs<Scalar>, weight: Tensor<Scalar>?, mean: WeightedMean) throws -> Tensor<Scalar> {
        let (input, target) = try operands(inputs)
        if let weight { try checkSameShape(input, "input", weight, "weight") }
        let values = input.withUnsafeBufferPointer { x in
            target.withUnsafeBufferPointer { y in
                generatedArray(count: x.count) { i in
                    let f = value(input: x[i], target: y[i])
                    return weight.map { $0[flat: i] * f } ?? f
                }
            }
        }
        guard let weight, reduction == .mean, mean == .byWeightSum else { return try reduce(values, shape: input.shape, reduction) }
        let total = try values.withUnsafeBufferPointer { try sum($0) }, weights = try weight.withUnsafeBufferPointer { try sum($0) }
        return Tensor(scalar: total / weights)
    }

    /// The backward pass with per-element weights (none: all 1): `∂/∂x_i = g_i w_i ∂f/∂x`,
    /// with `g` the upstream (`none`), its value (`sum`), or its value over `sum(w)` or the
    /// count (`mean`). The weights are constants (no gradient), as PyTorch's `weight` in the
    /// reference cases.
    func elementwiseBackward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>, weight: Tensor<Scalar>?, mean: WeightedMean)
        throws -> [String: Tensor<Scalar>]
    {
        let (input, target) = try operands(inputs)
        if let weight { try checkSameShape(input, "input", weight, "weight") }
        let divisor: Scalar
        if let weight, mean == .byWeightSum { divisor = try weight.withUnsafeBufferPointer { try sum($0) } } else { divisor = Scalar(input.count) }
        let g = try ReductionGradient(upstream, reduction: reduction, shape: input.shape, divisor: divisor)
        var dx = [Scalar](repeating: 0, count: input.count)
        var dy = [Scalar](repeating: 0, count: input.count)
        input.withUnsafeBufferPointer { x in
            target.withUnsafeBufferPointer { y in
                for i in 0..<x.count {
                    let (a, b) = derivatives(input: x[i], target: y[i])
                    let gi = weight.map { g[i] * $0[flat: i] } ?? g[i]
                    dx[i] = gi * a
                    dy[i] = gi * b
                }
            }
        }
        // Gradients of broadcast operands are summed back to the shapes given.
        var result = ["input": Tensor(uncheckedShape: input.shape, scalars: dx).summed(to: try inputs.values("input").shape)]
        if targetIsDifferentiable {
            result["target"] = Tensor(uncheckedShape: input.shape, scalars: dy).summed(to: try inputs.values("target").shape)
        }
        return result
    }
}

/// What `mean` divides a weighted elementwise loss by. PyTorch 2.15's `weight=`
/// (a tensor of the input's shape) divides `l1_loss` and `mse_loss` by the weights'
/// sum, `sum(w f) / sum(w)`, and `huber_loss` by the count, `mean(w f)`.
enum WeightedMean: Sendable { case byWeightSum, byCount }

/// The sign of `d` with `sign(0) = 0` and `sign(NaN) = 0`, as `torch.sign` (used by
/// L1's gradient, which PyTorch's is therefore 0 where `x - y` is NaN).
@inline(__always)
func signum<T: KernelScalar>(_ d: T) -> T {
    d > 0 ? 1 : d < 0 ? -1 : 0
}
