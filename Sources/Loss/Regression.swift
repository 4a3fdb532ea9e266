/// Mean absolute error, `torch.nn.functional.l1_loss`: `f(x, y) = |x - y|`.
///
/// Gradient: `∂f/∂x = sign(x - y)`, `∂f/∂y = -sign(x - y)`, with `sign(0) = 0`
/// as in PyTorch (the zero subgradient where input equals target), and 0 where
/// `x - y` is NaN, as `torch.sign(NaN)` is.
/// Reduction: `mean` divides by the number of elements.
///
/// With `weight` (PyTorch 2.15's `weight=`, a tensor of the input's shape, no
/// gradient): each element is `w_i |x_i - y_i|`, and `mean` divides by `sum(w)`,
/// not by the count; gradients are scaled by `w_i` likewise.
public struct L1Loss<Scalar: KernelScalar>: ElementwiseLoss {
    /// Per-element weights of the input's shape (PyTorch 2.15's `weight=`, no gradient), or nil.
    public var weight: Tensor<Scalar>?
    /// PyTorch's `reduction`: `.mean` (the default), `.sum` or `.none`; the type's documentation says what
    /// `mean` divides by.
    public var reduction: Reduction
    /// Elements are split across up to this many threads; results do not depend on it.
    public var threads: Int
    /// A mean absolute error; every default is PyTorch's.
    public init(weight: Tensor<Scalar>? = nil, reduction: Reduction = .mean, threads: Int = 1) {
        self.weight = weight
        self.reduction = reduction
        self.threads = threads
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        try validate(inputs)
        if let wide = try forwardInFloat(inputs) { return wide }
        if let weight { return try elementwiseForward(inputs, weight: weight, mean: .byWeightSum) }
        return try pointwiseForward(.absoluteError, inputs, reduction, threads)
    }
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        try validate(inputs)
        if let wide = try backwardInFloat(inputs, upstream: upstream) { return wide }
        if let weight { return try elementwiseBackward(inputs, upstream: upstream, weight: weight, mean: .byWeightSum) }
        return try pointwiseBackward(.absoluteError, inputs, upstream, reduction, threads)
    }

    public func value(input x: Scalar, target y: Scalar) -> Scalar { abs(x - y) }
    public func derivatives(input x: Scalar, target y: Scalar) -> (input: Scalar, target: Scalar) {
        let s = signum(x - y)
        return (s, -s)
    }
}

/// Mean squared error, `torch.nn.functional.mse_loss`: `f(x, y) = (x - y)²`.
///
/// Gradient: `∂f/∂x = 2 (x - y)`, `∂f/∂y = -2 (x - y)`.
/// Reduction: `mean` divides by the number of elements.
///
/// With `weight` (PyTorch 2.15's `weight=`, a tensor of the input's shape, no
/// gradient): each element is `w_i (x_i - y_i)²`, and `mean` divides by `sum(w)`,
/// not by the count; gradients are scaled by `w_i` likewise.
public struct MSELoss<Scalar: KernelScalar>: ElementwiseLoss {
    /// Per-element weights of the input's shape (PyTorch 2.15's `weight=`, no gradient), or nil.
    public var weight: Tensor<Scalar>?
    /// PyTorch's `reduction`: `.mean` (the default), `.sum` or `.none`; the type's documentation says what
    /// `mean` divides by.
    public var reduction: Reduction
    /// Elements are split across up to this many threads; results do not depend on it.
    public var threads: Int
    /// A mean squared error; every default is PyTorch's.
    public init(weight: Tensor<Scalar>? = nil, reduction: Reduction = .mean, threads: Int = 1) {
        self.weight = weight
        self.reduction = reduction
        self.threads = threads
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        try validate(inputs)
        if let wide = try forwardInFloat(inputs) { return wide }
        if let weight { return try elementwiseForward(inputs, weight: weight, mean: .byWeightSum) }
        return try pointwiseForward(.squaredError, inputs, reduction, threads)
    }
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        try validate(inputs)
        if let wide = try backwardInFloat(inputs, upstream: upstream) { return wide }
        if let weight { return try elementwiseBackward(inputs, upstream: upstream, weight: weight, mean: .byWeightSum) }
        return try pointwiseBackward(.squaredError, inputs, upstream, reduction, threads)
    }

    public func value(input x: Scalar, target y: Scalar) -> Scalar { (x - y) * (x - y) }
    public func derivatives(input x: Scalar, target y: Scalar) -> (input: Scalar, target: Scalar) {
        let d = 2 * (x - y)
        return (d, -d)
    }
}

/// Root mean squared error: `sqrt(mean((x - y)²))`, always a scalar (the
/// tutorial's RMSE; PyTorch has no module for it, users write `sqrt(mse_loss)`).
///
/// Gradient: `∂/∂x_i = (x_i - y_i) / (n · rmse)`, and the negation for `y`.
/// At `rmse = 0` (input equals target exactly) PyTorch's `sqrt(mse_loss)`
/// gives NaN gradients (`0 · ∞`); LossKit deliberately returns 0 there, which
/// is a valid subgradient of this convex function at its minimum and does not
/// poison a training run. An empty input gives NaN, as the mean does.
public struct RMSELoss<Scalar: KernelScalar>: InputTargetLoss {
    /// The root mean squared error (it has no options: the result is always a scalar).
    public init() {}

    public var inputSpecs: [InputSpec] { [.values("input"), .values("target")] }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        try validate(inputs)
        if let wide = try forwardInFloat(inputs) { return wide }
        let mse = try MSELoss<Scalar>(reduction: .mean).forward(inputs)
        return Tensor(scalar: Scalar.sqrt(mse[flat: 0]))
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        try validate(inputs)
        if let wide = try backwardInFloat(inputs, upstream: upstream) { return wide }
        try checkUpstream(upstream, [])
        let rmse = try forward(inputs)[flat: 0]
        // d sqrt(m) = dm / (2 sqrt(m)); the MSE backward already carries the 2 and the 1/n.
        let scale: Scalar = rmse == 0 ? 0 : upstream[flat: 0] / (2 * rmse)
        return try MSELoss<Scalar>(reduction: .mean).backward(inputs, upstream: Tensor(scalar: scale))
    }
}

/// The tutorial's custom loss, mean absolute percentage error:
/// `f(x, y) = |(x - y) / y|`, written as a user would write their own loss —
/// through the public ``ElementwiseLoss`` protocol and nothing else — and
/// checked with ``GradientCheck`` in the test suite.
///
/// Gradient: `∂f/∂x = sign(x - y) / |y|`, `∂f/∂y = -sign(x - y) · x / (y |y|)`.
/// A zero target gives an infinite or NaN value, as the formula does in PyTorch.
public struct MAPELoss<Scalar: KernelScalar>: ElementwiseLoss {
    /// PyTorch's `reduction`: `.mean` (the default) divides by the number of elements, `.sum` adds, `.none`
    /// keeps one value per element.
    public var reduction: Reduction
    /// A mean absolute percentage error with the given reduction (`mean` by default).
    public init(reduction: Reduction = .mean) { self.reduction = reduction }

    public func value(input x: Scalar, target y: Scalar) -> Scalar { abs((x - y) / y) }
    public func derivatives(input x: Scalar, target y: Scalar) -> (input: Scalar, target: Scalar) {
        // r = (x - y) / y = x / y - 1;  d|r| = sign(r) dr;  dr/dx = 1 / y;  dr/dy = -x / y²
        let s = signum((x - y) / y)
        return (s / y, -s * x / (y * y))
    }
}

// MARK: - Fused kernel paths for L1 and MSE (value() and derivatives() above define
// the same math; the tests check the two agree).

func pointwiseForward<T: KernelScalar>(
    _ kind: PointwiseLossKind, _ inputs: LossInputs<T>, _ reduction: Reduction, _ threads: Int
) throws -> Tensor<T> {
    let x = try inputs.values("input"), y = try inputs.values("target")
    try checkSameShape(x, "input", y, "target")
    var values = reduction == .none ? [T](repeating: 0, count: x.count) : nil
    let total = try x.withUnsafeBufferPointer { xb in
        try y.withUnsafeBufferPointer { yb in
            try withOptionalMutableBuffer(&values) { vb in
                try pointwiseLoss(kind, input: xb, target: yb, values: vb, threads: threads)
            }
        }
    }
    switch reduction {
    case .none: return Tensor(uncheckedShape: x.shape, scalars: values!)
    case .sum: return Tensor(scalar: total)
    case .mean: return Tensor(scalar: x.count == 0 ? .nan : total / T(x.count))
    }
}

func pointwiseBackward<T: KernelScalar>(
    _ kind: PointwiseLossKind, _ inputs: LossInputs<T>, _ upstream: Tensor<T>, _ reduction: Reduction, _ threads: Int
) throws -> [String: Tensor<T>] {
    let x = try inputs.values("input"), y = try inputs.values("target")
    try checkSameShape(x, "input", y, "target")
    try checkUpstream(upstream, reducedShape(x.shape, reduction))
    var gradient = [T](repeating: 0, count: x.count)
    let scale: T = reduction == .none ? 1 : reduction == .sum ? upstream[flat: 0] : upstream[flat: 0] / T(x.count)
    _ = try x.withUnsafeBufferPointer { xb in
        try y.withUnsafeBufferPointer { yb in
            try gradient.withUnsafeMutableBufferPointer { gb in
                try withOptionalBuffer(reduction == .none ? upstream : nil) { ub in
                    try pointwiseLoss(kind, input: xb, target: yb, gradient: gb, gradientScale: scale, upstream: ub, threads: threads)
                }
            }
        }
    }
    return [
        "input": Tensor(uncheckedShape: x.shape, scalars: gradient),
        "target": Tensor(uncheckedShape: x.shape, scalars: gradient.map { -$0 }),
    ]
}
