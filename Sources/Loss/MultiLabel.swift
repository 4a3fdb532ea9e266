/// Multi-label one-versus-all logistic loss, `torch.nn.functional.multilabel_soft_margin_loss`.
///
/// Input: logits with the classes on the **last** axis, `(C)`, `(N, C)` or
/// `(N, ..., C)`; target: the input's shape (0/1 labels, or soft labels).
/// With `sp(x) = log(1 + exp(x))` (computed without overflow), per sample:
///
///     loss = (1 / C) · sum_c w_c (y_c · sp(-x_c) + (1 - y_c) · sp(x_c))
///          = -(1 / C) · sum_c w_c (y_c log σ(x_c) + (1 - y_c) log σ(-x_c))
///
/// Gradients: `∂/∂x_c = w_c (σ(x_c) - y_c) / C` and `∂/∂y_c = -w_c x_c / C`
/// (PyTorch differentiates the target too).
///
/// Reduction: PyTorch first *averages over classes* within each sample (the
/// `1 / C` above, whatever the weights), then reduces over samples: `none`
/// gives the input's shape without the class axis (`()` for a 1-d input),
/// `mean` divides the sum by the number of samples.
///
/// `weight` is broadcast against the input as PyTorch broadcasts it: one weight per
/// class `(C)`, per sample `(N, 1)`, or per element `(N, C)`, for example (`w` above
/// is then that element's weight); a shape that does not broadcast to the input's
/// throws ``/Kernels/LossError/shapeMismatch(argument:expected:actual:)``. Targets are not
/// restricted to {0, 1}: the formula above is applied to any value, as in PyTorch.
///
/// Input and target of different shapes broadcast against each other, as PyTorch
/// does without a warning; PyTorch then sums over dimension `input.dim() - 1` of the
/// broadcast shape and divides by the input's last size, and so does LossKit (each
/// gradient summed over the dimensions its tensor was broadcast along). A weight
/// must broadcast to that shape (PyTorch would also let it enlarge it).
public struct MultiLabelSoftMarginLoss<Scalar: KernelScalar>: InputTargetLoss {
    /// Weights broadcast against the input (one per class, `(C)`, as a rule), or nil for all ones.
    public var weight: Tensor<Scalar>?
    /// How the per-sample values are combined: `.mean` (the default) divides by the number of samples, `.sum`
    /// adds, `.none` keeps them.
    public var reduction: Reduction

    /// A multi-label soft margin loss; every default is PyTorch's.
    public init(weight: Tensor<Scalar>? = nil, reduction: Reduction = .mean) {
        self.weight = weight
        self.reduction = reduction
    }

    public var inputSpecs: [InputSpec] { [.values("input"), .values("target")] }

    /// Input, target and per-element weights broadcast to one shape, and the axis summed over.
    private struct Prepared {
        var input, target: Tensor<Scalar>
        var weight: (Int) -> Scalar
        /// The broadcast shape along the class axis (`input.dim() - 1`, counted from the front).
        var layout: AxisLayout
        /// PyTorch's divisor: the input's number of classes (its last dimension).
        var classes: Int
        var outputShape: [Int]
    }

    private func prepare(_ inputs: LossInputs<Scalar>) throws -> Prepared {
        let input = try inputs.values("input"), target = try inputs.values("target")
        guard let classes = input.shape.last else {
            throw LossError.shapeMismatch(argument: "input", expected: "(C) or (N, ..., C)", actual: describeShape(input.shape))
        }
        guard classes > 0 else {
            throw LossError.emptyInput(argument: "input", reason: "multilabel_soft_margin_loss averages over classes; C is 0")
        }
        let shape = try broadcastShape([("input", input.shape), ("target", target.shape)])
        let w = try broadcastOrOne(weight, to: shape, argument: "weight")
        let classAxis = input.rank - 1
        var outputShape = shape
        outputShape.remove(at: classAxis)
        return Prepared(
            input: input.broadcast(to: shape), target: target.broadcast(to: shape), weight: w,
            layout: try AxisLayout(shape: shape, axis: classAxis), classes: classes, outputShape: outputShape)
    }

    /// `log(1 + exp(x))` without overflow.
    @inline(__always) private static func softplus(_ x: Scalar) -> Scalar {
        max(x, 0) + Scalar.log(onePlus: Scalar.exp(-abs(x)))
    }

    @inline(__always) private static func sigmoid(_ x: Scalar) -> Scalar {
        if x >= 0 { return 1 / (1 + Scalar.exp(-x)) }
        let e = Scalar.exp(x)
        return e / (1 + e)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        try validate(inputs)
        if let wide = try forwardInFloat(inputs) { return wide }
        let s = try prepare(inputs)
        var losses = [Scalar](repeating: 0, count: s.layout.rows)
        s.input.withUnsafeBufferPointer { x in
            s.target.withUnsafeBufferPointer { y in
                eachElement(s.layout) { i, r in
                    losses[r] += s.weight(i) * (y[i] * Self.softplus(-x[i]) + (1 - y[i]) * Self.softplus(x[i]))
                }
            }
        }
        let c = Scalar(s.classes)
        return try reduce(losses.map { $0 / c }, shape: s.outputShape, reduction)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        try validate(inputs)
        if let wide = try backwardInFloat(inputs, upstream: upstream) { return wide }
        let s = try prepare(inputs)
        let g = try ReductionGradient(upstream, reduction: reduction, shape: s.outputShape, count: s.layout.rows)
        var dx = [Scalar](repeating: 0, count: s.input.count), dy = dx
        let c = Scalar(s.classes)
        s.input.withUnsafeBufferPointer { x in
            s.target.withUnsafeBufferPointer { y in
                eachElement(s.layout) { i, r in
                    let scale = g[r] / c * s.weight(i)
                    dx[i] = scale * (Self.sigmoid(x[i]) - y[i])
                    dy[i] = -scale * x[i]
                }
            }
        }
        // Gradients of broadcast operands are summed back to the shapes given.
        return [
            "input": Tensor(uncheckedShape: s.input.shape, scalars: dx).summed(to: try inputs.values("input").shape),
            "target": Tensor(uncheckedShape: s.input.shape, scalars: dy).summed(to: try inputs.values("target").shape),
        ]
    }
}

/// Multi-label hinge loss, `torch.nn.functional.multilabel_margin_loss`.
///
/// Input: scores `(C)` or `(N, C)` (or `()`, one sample of one class, with a target
/// `()` or `(1)`, as PyTorch); target: `Int` tensor of the **same shape** holding, per sample, the indices of its target classes followed by `-1`:
/// the first `-1` ends the list and every entry after it is ignored (a full
/// row without `-1` uses all `C` entries). With `T` the set of target classes
/// and `j` running over the list (duplicates included), per sample:
///
///     loss = (1 / C) · sum_{j in list} sum_{i ∉ T} max(0, 1 - (x_j - x_i))
///
/// Gradient: every term with `1 - x_j + x_i > 0` adds `1 / C` to `∂/∂x_i` and
/// `-1 / C` to `∂/∂x_j` (0 at the kink, as PyTorch tests `> 0`).
///
/// Reduction: `none` gives `(N)` for a 2-d input and `()` for a 1-d or 0-d input;
/// `mean` divides the sum by `N`.
///
/// Surprises in PyTorch's behaviour, which LossKit reproduces: the
/// normalisation is by `C`, not by the number of (target, non-target) pairs;
/// an index listed twice counts twice; a sample with an empty list (first
/// entry `-1`) has loss 0. Every entry, including those after the first `-1`,
/// must lie in `[-1, C)` (PyTorch checks the whole target too); otherwise
/// ``/Kernels/LossError/indexOutOfRange(argument:position:index:validRange:)`` is thrown.
public struct MultiLabelMarginLoss<Scalar: KernelScalar>: ClassTargetLoss {
    /// How the per-sample values are combined: `.mean` (the default) divides by `N`, `.sum` adds, `.none`
    /// keeps them.
    public var reduction: Reduction

    /// A multi-label margin loss; every default is PyTorch's.
    public init(reduction: Reduction = .mean) {
        self.reduction = reduction
    }

    public var inputSpecs: [InputSpec] { [.values("input"), .indices("target")] }

    private struct Prepared {
        var input: Tensor<Scalar>
        /// Per sample, the listed target classes (up to the first -1).
        var lists: [[Int]]
        var classes: Int
        var outputShape: [Int]
    }

    private func prepare(_ inputs: LossInputs<Scalar>) throws -> Prepared {
        let input = try inputs.values("input"), target = try inputs.indices("target")
        guard input.rank <= 2 else {
            throw LossError.shapeMismatch(argument: "input", expected: "(), (C) or (N, C)", actual: describeShape(input.shape))
        }
        if input.rank == 0 {
            // One sample of one class, as PyTorch: the target is () or (1).
            guard target.shape == [] || target.shape == [1] else {
                throw LossError.shapeMismatch(
                    argument: "target", expected: "[] or [1] (one entry for a 0-d input)", actual: describeShape(target.shape))
            }
        } else {
            guard target.shape == input.shape else {
                throw LossError.shapeMismatch(
                    argument: "target", expected: "\(describeShape(input.shape)) (the shape of input)",
                    actual: describeShape(target.shape))
            }
        }
        let classes = input.rank == 0 ? 1 : input.shape[input.rank - 1]
        let samples = input.rank == 2 ? input.shape[0] : 1
        guard classes > 0 else {
            throw LossError.emptyInput(argument: "input", reason: "multilabel_margin_loss needs at least one class")
        }
        var lists: [[Int]] = []
        lists.reserveCapacity(samples)
        try target.withUnsafeBufferPointer { t in
            for (position, index) in t.enumerated() where index < -1 || index >= classes {
                throw LossError.indexOutOfRange(
                    argument: "target", position: position, index: index, validRange: "[-1, \(classes)) (-1 ends the list)")
            }
            for n in 0..<samples {
                let row = t[(n * classes)..<((n + 1) * classes)]
                lists.append(Array(row.prefix { $0 >= 0 }))
            }
        }
        return Prepared(input: input, lists: lists, classes: classes, outputShape: input.rank == 2 ? [samples] : [])
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        try validate(inputs)
        if let wide = try forwardInFloat(inputs) { return wide }
        let s = try prepare(inputs)
        let c = s.classes
        var losses = [Scalar](repeating: 0, count: s.lists.count)
        var isTarget = [Bool](repeating: false, count: c)
        s.input.withUnsafeBufferPointer { x in
            for (n, list) in s.lists.enumerated() {
                for k in 0..<c { isTarget[k] = false }
                for j in list { isTarget[j] = true }
                let row = n * c
                var total: Scalar = 0
                for j in list {
                    let xj = x[row + j]
                    for i in 0..<c where !isTarget[i] {
                        let z = 1 - xj + x[row + i]
                        if z > 0 { total += z }
                    }
                }
                losses[n] = total / Scalar(c)
            }
        }
        return try reduce(losses, shape: s.outputShape, reduction)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        try validate(inputs)
        if let wide = try backwardInFloat(inputs, upstream: upstream) { return wide }
        let s = try prepare(inputs)
        let c = s.classes
        let g = try ReductionGradient(upstream, reduction: reduction, shape: s.outputShape, count: s.lists.count)
        var grad = [Scalar](repeating: 0, count: s.input.count)
        var isTarget = [Bool](repeating: false, count: c)
        s.input.withUnsafeBufferPointer { x in
            for (n, list) in s.lists.enumerated() {
                for k in 0..<c { isTarget[k] = false }
                for j in list { isTarget[j] = true }
                let row = n * c
                let d = g[n] / Scalar(c)
                for j in list {
                    let xj = x[row + j]
                    for i in 0..<c where !isTarget[i] && 1 - xj + x[row + i] > 0 {
                        grad[row + i] += d
                        grad[row + j] -= d
                    }
                }
            }
        }
        return ["input": Tensor(uncheckedShape: s.input.shape, scalars: grad)]
    }
}
