/// Binary cross-entropy on probabilities, `torch.nn.functional.binary_cross_entropy`.
///
/// `f(p, y) = -w (y · max(log p, -100) + (1 - y) · max(log(1 - p), -100))`: each
/// logarithm is clamped at -100 as in PyTorch, so `p = 0` or `1` gives a finite loss.
///
/// Gradients follow PyTorch's formulas exactly:
/// `∂f/∂p = w (p - y) / max(p (1 - p), ε)` with `ε` = Float(1e-12) and
/// `∂f/∂y = w (log(1 - p) - log p)` (= `-w logit(p)`, unclamped, so infinite at 0 and 1).
/// `weight` is broadcast to the input's shape. Probabilities outside `[0, 1]`
/// (or NaN) are rejected with ``/Kernels/LossError/invalidValue(argument:position:value:expected:)``,
/// as PyTorch rejects them. `mean` divides by the number of elements.
public struct BCELoss<Scalar: KernelScalar>: InputTargetLoss, ElementwiseWeightedLoss {
    /// Per-element weights broadcast to the input's shape (PyTorch's `weight=`, no gradient), or nil.
    public var weight: Tensor<Scalar>?
    /// PyTorch's `reduction`: `.mean` (the default) divides by the number of elements, `.sum` adds, `.none`
    /// keeps one value per element.
    public var reduction: Reduction

    /// A binary cross-entropy on probabilities; every default is PyTorch's.
    public init(weight: Tensor<Scalar>? = nil, reduction: Reduction = .mean) {
        self.weight = weight
        self.reduction = reduction
    }

    /// PyTorch's floor for `p (1 - p)` in the gradient: 1e-12 rounded to Float,
    /// as PyTorch stores it (the Double reference cases show the Float rounding).
    static var epsilon: Scalar { Scalar(Float(1e-12)) }

    func checkDomain(input: Tensor<Scalar>) throws {
        try input.withUnsafeBufferPointer { p in
            for (i, v) in p.enumerated() where !(v >= 0 && v <= 1) {
                throw LossError.invalidValue(
                    argument: "input", position: i, value: Double(v), expected: "a probability in [0, 1]")
            }
        }
    }

    func value(_ p: Scalar, _ y: Scalar, _ e: Scalar) -> Scalar {
        let logP = max(Scalar.log(p), -100), log1mP = max(Scalar.log(onePlus: -p), -100)
        return -(y * logP + (1 - y) * log1mP)
    }

    func derivatives(_ p: Scalar, _ y: Scalar, _ e: Scalar) -> (Scalar, Scalar) {
        let dp = (p - y) / max((1 - p) * p, Self.epsilon)
        let dy = Scalar.log(onePlus: -p) - Scalar.log(p)
        return (dp, dy)
    }
}

/// Binary cross-entropy on logits, `torch.nn.functional.binary_cross_entropy_with_logits`.
///
/// With `sp(x) = log(1 + exp(-x)) = max(-x, 0) + log1p(exp(-|x|))` (never
/// overflows, exact for |x| up to the largest finite value) and
/// `L = 1 + (pos_weight - 1) y`:
///
///     f(x, y) = w ((1 - y) x + L · sp(x))
///     ∂f/∂x  = w ((1 - y) - L (1 - σ(x)))
///     ∂f/∂y  = w (-x + (pos_weight - 1) sp(x))
///
/// `weight` is broadcast to the input's shape and `pos_weight` along the last
/// dimension (one weight per class), as in PyTorch. `mean` divides by the number of elements.
public struct BCEWithLogitsLoss<Scalar: KernelScalar>: InputTargetLoss, ElementwiseWeightedLoss {
    /// Per-element weights broadcast to the input's shape (PyTorch's `weight=`, no gradient), or nil.
    public var weight: Tensor<Scalar>?
    /// PyTorch's `pos_weight`: weights of the positive term, one per class, broadcast along the last
    /// dimension; nil for all ones.
    public var positiveWeight: Tensor<Scalar>?
    /// PyTorch's `reduction`: `.mean` (the default) divides by the number of elements, `.sum` adds, `.none`
    /// keeps one value per element.
    public var reduction: Reduction

    /// A binary cross-entropy on logits; every default is PyTorch's.
    public init(weight: Tensor<Scalar>? = nil, positiveWeight: Tensor<Scalar>? = nil, reduction: Reduction = .mean) {
        self.weight = weight
        self.positiveWeight = positiveWeight
        self.reduction = reduction
    }

    /// Without weights, the fused vectorized kernel; with them, the general path.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        try validate(inputs)
        if let wide = try forwardInFloat(inputs) { return wide }
        guard weight == nil && positiveWeight == nil else { return try weightedForward(inputs) }
        return try pointwiseForward(.logisticWithLogits, inputs, reduction, 1)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        try validate(inputs)
        if let wide = try backwardInFloat(inputs, upstream: upstream) { return wide }
        guard weight == nil && positiveWeight == nil else { return try weightedBackward(inputs, upstream: upstream) }
        var g = try pointwiseBackward(.logisticWithLogits, inputs, upstream, reduction, 1)
        // ∂f/∂y = -x (pos_weight = 1), times the upstream gradient seen by each element.
        let x = try inputs.values("input")
        let r = try ReductionGradient(upstream, reduction: reduction, shape: x.shape, count: x.count)
        g["target"] = Tensor(uncheckedShape: x.shape, scalars: generatedArray(count: x.count) { -x[flat: $0] * r[$0] })
        return g
    }

    func extraWeights(shape: [Int]) throws -> ((Int) -> Scalar)? {
        guard let positiveWeight else { return nil }
        return try broadcastOrOne(positiveWeight, to: shape, argument: "pos_weight")
    }

    @inline(__always) static func softplusNeg(_ x: Scalar) -> Scalar {
        max(-x, 0) + Scalar.log(onePlus: Scalar.exp(-abs(x)))
    }

    @inline(__always) static func sigmoid(_ x: Scalar) -> Scalar {
        if x >= 0 { return 1 / (1 + Scalar.exp(-x)) }
        let e = Scalar.exp(x)
        return e / (1 + e)
    }

    func value(_ x: Scalar, _ y: Scalar, _ pw: Scalar) -> Scalar {
        let l = 1 + (pw - 1) * y
        return (1 - y) * x + l * Self.softplusNeg(x)
    }

    func derivatives(_ x: Scalar, _ y: Scalar, _ pw: Scalar) -> (Scalar, Scalar) {
        let l = 1 + (pw - 1) * y
        // 1 - σ(x) = σ(-x), computed without cancellation
        return ((1 - y) - l * Self.sigmoid(-x), -x + (pw - 1) * Self.softplusNeg(x))
    }
}

/// Shared forward/backward for the two binary cross-entropies: an elementwise
/// loss with a broadcast `weight` and an optional second broadcast constant.
protocol ElementwiseWeightedLoss: LossFunction {
    var weight: Tensor<Scalar>? { get }
    var reduction: Reduction { get }
    func checkDomain(input: Tensor<Scalar>) throws
    func extraWeights(shape: [Int]) throws -> ((Int) -> Scalar)?
    /// f(x, y, e) where e is the extra constant at that element (or the element index's placeholder 1).
    func value(_ x: Scalar, _ y: Scalar, _ e: Scalar) -> Scalar
    func derivatives(_ x: Scalar, _ y: Scalar, _ e: Scalar) -> (Scalar, Scalar)
}

extension ElementwiseWeightedLoss {
    func checkDomain(input: Tensor<Scalar>) throws {}
    func extraWeights(shape: [Int]) throws -> ((Int) -> Scalar)? { nil }

    public var inputSpecs: [InputSpec] { [.values("input"), .values("target")] }

    private func prepare(_ inputs: LossInputs<Scalar>) throws -> (
        Tensor<Scalar>, Tensor<Scalar>, (Int) -> Scalar, (Int) -> Scalar
    ) {
        let input = try inputs.values("input"), target = try inputs.values("target")
        try checkSameShape(input, "input", target, "target")
        try checkDomain(input: input)
        let w = try broadcastOrOne(weight, to: input.shape, argument: "weight")
        let e = try extraWeights(shape: input.shape) ?? { _ in 1 }
        return (input, target, w, e)
    }

    @_specialize(where Self == BCELoss<Float>)
    @_specialize(where Self == BCELoss<Double>)
    public func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        try validate(inputs)
        if let wide = try forwardInFloat(inputs) { return wide }
        return try weightedForward(inputs)
    }

    @_specialize(where Self == BCELoss<Float>)
    @_specialize(where Self == BCELoss<Double>)
    public func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        try validate(inputs)
        if let wide = try backwardInFloat(inputs, upstream: upstream) { return wide }
        return try weightedBackward(inputs, upstream: upstream)
    }

    func weightedForward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        let (input, target, w, e) = try prepare(inputs)
        let values = generatedArray(count: input.count) { i in w(i) * value(input[flat: i], target[flat: i], e(i)) }
        return try reduce(values, shape: input.shape, reduction)
    }

    func weightedBackward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        let (input, target, w, e) = try prepare(inputs)
        let g = try ReductionGradient(upstream, reduction: reduction, shape: input.shape, count: input.count)
        var dx = [Scalar](repeating: 0, count: input.count), dy = dx
        for i in 0..<input.count {
            let (a, b) = derivatives(input[flat: i], target[flat: i], e(i))
            let s = g[i] * w(i)
            dx[i] = s * a
            dy[i] = s * b
        }
        return [
            "input": Tensor(uncheckedShape: input.shape, scalars: dx),
            "target": Tensor(uncheckedShape: input.shape, scalars: dy),
        ]
    }
}
