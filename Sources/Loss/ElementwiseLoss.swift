/// A loss of the form `reduce(f(input_i, target_i))` over two tensors of the same shape.
///
/// Conforming types provide the per-element value `f` and its partial
/// derivatives; the protocol supplies ``LossFunction/forward(_:)`` and
/// ``LossFunction/backward(_:upstream:)`` with every ``Reduction``. This is the
/// quickest way to write your own regression loss (see `Guides/CustomLoss.md`).
///
/// Unlike PyTorch, which broadcasts `input` and `target` of different shapes with
/// a warning, LossKit requires equal shapes and throws otherwise: a silent
/// broadcast of `(N, 1)` against `(N,)` is a classic wrong-number bug.
public protocol ElementwiseLoss: LossFunction {
    var reduction: Reduction { get }
    /// `f(x, y)`.
    func value(input x: Scalar, target y: Scalar) -> Scalar
    /// `(∂f/∂x, ∂f/∂y)`.
    func derivatives(input x: Scalar, target y: Scalar) -> (input: Scalar, target: Scalar)
    /// Domain checks on the inputs (for example probabilities in [0, 1]); the default accepts everything.
    func checkDomain(input: Tensor<Scalar>, target: Tensor<Scalar>) throws
    /// Whether `target` has a gradient; defaults to true.
    var targetIsDifferentiable: Bool { get }
}

extension ElementwiseLoss {
    public var targetIsDifferentiable: Bool { true }
    public func checkDomain(input: Tensor<Scalar>, target: Tensor<Scalar>) throws {}

    public var inputSpecs: [InputSpec] {
        [.values("input"), targetIsDifferentiable ? .values("target") : .constant("target")]
    }

    func operands(_ inputs: LossInputs<Scalar>) throws -> (Tensor<Scalar>, Tensor<Scalar>) {
        let input = try inputs.values("input"), target = try inputs.values("target")
        try checkSameShape(input, "input", target, "target")
        try checkDomain(input: input, target: target)
        return (input, target)
    }

    public func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> { try elementwiseForward(inputs) }

    public func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        try elementwiseBackward(inputs, upstream: upstream)
    }

    /// The forward pass from ``value(input:target:)``: what ``forward(_:)`` does unless a
    /// conforming type replaces it (to delegate a special case, say) and still wants it.
    public func elementwiseForward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        let (input, target) = try operands(inputs)
        let values = input.withUnsafeBufferPointer { x in
            target.withUnsafeBufferPointer { y in
                (0..<x.count).map { value(input: x[$0], target: y[$0]) }
            }
        }
        return reduce(values, shape: input.shape, reduction)
    }

    /// The backward pass from ``derivatives(input:target:)``.
    public func elementwiseBackward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        let (input, target) = try operands(inputs)
        let g = try ReductionGradient(upstream, reduction: reduction, shape: input.shape, count: input.count)
        var dx = [Scalar](repeating: 0, count: input.count)
        var dy = [Scalar](repeating: 0, count: input.count)
        input.withUnsafeBufferPointer { x in
            target.withUnsafeBufferPointer { y in
                for i in 0..<x.count {
                    let (a, b) = derivatives(input: x[i], target: y[i])
                    dx[i] = g[i] * a
                    dy[i] = g[i] * b
                }
            }
        }
        var result = ["input": Tensor(uncheckedShape: input.shape, scalars: dx)]
        if targetIsDifferentiable { result["target"] = Tensor(uncheckedShape: input.shape, scalars: dy) }
        return result
    }
}

/// The sign of `d` with `sign(0) = 0`, as `torch.sign` (used by L1's gradient).
@inline(__always)
func signum<T: KernelScalar>(_ d: T) -> T {
    d > 0 ? 1 : d < 0 ? -1 : d == 0 ? 0 : d  // NaN stays NaN
}
