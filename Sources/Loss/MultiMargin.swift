/// Multi-class hinge loss, `torch.nn.functional.multi_margin_loss`.
///
/// Input: scores of shape `(N, C)` or `(C)` (or `()`: one sample of one class, as
/// PyTorch); target: class indices of shape `(N)` (or `()` / `(1)` for a 1-d or 0-d input). With `z_i = margin - x_y + x_i`,
/// per sample:
///
///     loss = (1 / C) · sum_{i ≠ y} w_y · max(0, z_i)^p        (p ∈ {1, 2})
///
/// Gradient: for every `i ≠ y` with `z_i > 0`, `g_i = w_y · (p == 1 ? 1 : 2 z_i) / C`
/// is added to `∂/∂x_i` and subtracted from `∂/∂x_y`. At `z_i = 0` the
/// gradient is 0 (PyTorch tests `z > 0` strictly).
///
/// Reduction: `none` gives one value per sample; `mean` divides the sum over
/// samples by `N`. Since each sample is already divided by `C` (not by the
/// `C - 1` terms it sums), `mean` is the sum of all hinge terms over `N·C`.
///
/// Surprises in PyTorch's behaviour, which LossKit reproduces:
/// - the class weight multiplies *outside* the power: `w_y · max(0, z)^p`,
///   whereas PyTorch's documentation writes `max(0, w_y · z)^p` (the
///   implementation and the reference cases agree on the former);
/// - the weight is the target class's weight, for every term of that sample;
/// - for `none`, a 1-d or 0-d input gives an output shaped like its target (`()` or `(1)`).
///
/// Bad input throws: `p` other than 1 or 2 or a non-finite `margin`
/// (``/Kernels/LossError/invalidOption(name:value:expected:)``), shapes
/// (``/Kernels/LossError/shapeMismatch(argument:expected:actual:)``), a target outside
/// `[0, C)` (``/Kernels/LossError/indexOutOfRange(argument:position:index:validRange:)``).
public struct MultiMarginLoss<Scalar: KernelScalar>: ClassTargetLoss {
    /// The power of each hinge term: 1 (the default) or 2.
    public var p: Int
    /// How far the target's score must lead every other class's; finite, 1 by default.
    public var margin: Scalar
    /// One weight per class, or nil for all ones.
    public var weight: Tensor<Scalar>?
    /// How the per-sample values are combined: `.mean` (the default) divides by `N`, `.sum` adds, `.none`
    /// keeps them.
    public var reduction: Reduction

    /// A multi-class hinge loss; every default is PyTorch's.
    public init(p: Int = 1, margin: Scalar = 1, weight: Tensor<Scalar>? = nil, reduction: Reduction = .mean) {
        self.p = p
        self.margin = margin
        self.weight = weight
        self.reduction = reduction
    }

    public var inputSpecs: [InputSpec] { [.values("input"), .indices("target")] }

    private struct Prepared {
        var input: Tensor<Scalar>
        var target: Tensor<Int>
        var samples: Int
        var classes: Int
        var outputShape: [Int]
    }

    private func prepare(_ inputs: LossInputs<Scalar>) throws -> Prepared {
        guard p == 1 || p == 2 else {
            throw LossError.invalidOption(name: "p", value: String(p), expected: "1 or 2")
        }
        guard margin.isFinite else {
            throw LossError.invalidOption(name: "margin", value: "\(margin)", expected: "a finite number")
        }
        let input = try inputs.values("input"), target = try inputs.indices("target")
        let samples: Int, classes: Int, outputShape: [Int]
        switch input.rank {
        case 0, 1:
            // A 0-d input is one sample of one class, as in PyTorch.
            classes = input.rank == 0 ? 1 : input.shape[0]
            samples = 1
            guard target.shape == [] || target.shape == [1] else {
                throw LossError.shapeMismatch(
                    argument: "target", expected: "[] or [1] (one class index for a 0-d or 1-d input)",
                    actual: describeShape(target.shape))
            }
            outputShape = target.shape
        case 2:
            samples = input.shape[0]
            classes = input.shape[1]
            guard target.shape == [samples] else {
                throw LossError.shapeMismatch(
                    argument: "target", expected: "[\(samples)] (one class index per sample)",
                    actual: describeShape(target.shape))
            }
            outputShape = [samples]
        default:
            throw LossError.shapeMismatch(argument: "input", expected: "(), (C) or (N, C)", actual: describeShape(input.shape))
        }
        guard classes > 0 else {
            throw LossError.emptyInput(argument: "input", reason: "multi_margin_loss needs at least one class")
        }
        if let weight, weight.shape != [classes] {
            throw LossError.shapeMismatch(
                argument: "weight", expected: "[\(classes)] (one weight per class)", actual: describeShape(weight.shape))
        }
        try target.withUnsafeBufferPointer { t in
            for (position, index) in t.enumerated() where index < 0 || index >= classes {
                throw LossError.indexOutOfRange(
                    argument: "target", position: position, index: index, validRange: "[0, \(classes))")
            }
        }
        return Prepared(input: input, target: target, samples: samples, classes: classes, outputShape: outputShape)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        try validate(inputs)
        if let wide = try forwardInFloat(inputs) { return wide }
        let s = try prepare(inputs)
        let c = s.classes
        var losses = [Scalar](repeating: 0, count: s.samples)
        s.input.withUnsafeBufferPointer { x in
            for n in 0..<s.samples {
                let y = s.target[flat: n]
                let row = n * c, xy = x[row + y]
                var total: Scalar = 0
                for i in 0..<c where i != y {
                    let z = margin - xy + x[row + i]
                    if z > 0 { total += p == 1 ? z : z * z }
                }
                losses[n] = (weight?[flat: y] ?? 1) * total / Scalar(c)
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
        let g = try ReductionGradient(upstream, reduction: reduction, shape: s.outputShape, count: s.samples)
        var grad = [Scalar](repeating: 0, count: s.input.count)
        s.input.withUnsafeBufferPointer { x in
            for n in 0..<s.samples {
                let y = s.target[flat: n]
                let row = n * c, xy = x[row + y]
                let scale = g[n] * (weight?[flat: y] ?? 1) / Scalar(c)
                var targetGradient: Scalar = 0
                for i in 0..<c where i != y {
                    let z = margin - xy + x[row + i]
                    guard z > 0 else { continue }
                    let d = scale * (p == 1 ? 1 : 2 * z)
                    grad[row + i] = d
                    targetGradient -= d
                }
                grad[row + y] = targetGradient
            }
        }
        return ["input": Tensor(uncheckedShape: s.input.shape, scalars: grad)]
    }
}
