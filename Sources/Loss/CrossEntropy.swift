/// Cross-entropy on logits, `torch.nn.functional.cross_entropy`, with a fused
/// softmax kernel: neither probabilities nor log-probabilities are materialized.
///
/// Input: logits of shape `(C)`, `(N, C)` or `(N, C, d1, ..., dk)` (classes on
/// axis 1). Targets are either class indices (shape `(N, d1, ..., dk)`, `Int`)
/// or class probabilities (the input's shape), as in PyTorch.
///
/// Per sample, with `lse = log sum_c exp(x_c)`, class weights `w` (all 1 when
/// absent) and label smoothing `ε`:
/// - class index `t`: `(1 - ε) w_t (lse - x_t) + (ε / C) sum_c w_c (lse - x_c)`,
///   gradient `p_c ((1 - ε) w_t + (ε / C) sum_k w_k) - (1 - ε) w_t [c = t] - (ε / C) w_c`;
/// - probabilities `q`: `sum_c w_c q'_c (lse - x_c)` with `q' = (1 - ε) q + ε / C`,
///   gradient `p_c sum_k w_k q'_k - w_c q'_c` for the logits and
///   `(1 - ε) w_c (lse - x_c)` for the targets (PyTorch differentiates soft targets too).
///
/// Reduction follows PyTorch, which surprises people:
/// - with class indices, `mean` divides by the **sum of the target classes'
///   weights** over samples not ignored (their count when unweighted); samples
///   whose target is `ignoreIndex` contribute 0, and if every sample is ignored
///   the mean is NaN (0/0);
/// - with probabilities, `mean` divides by the number of samples `N·d1···dk`,
///   whatever the weights.
public struct CrossEntropyLoss<Scalar: KernelScalar>: ClassTargetLoss {
    /// One weight per class `(C)` (PyTorch's `weight=`, no gradient), or nil for all ones.
    public var weight: Tensor<Scalar>?
    /// A class-index target equal to it contributes nothing (loss 0, zero gradient) and is left out of the
    /// mean; -100 by default.
    public var ignoreIndex: Int
    /// Label smoothing `ε` in `[0, 1]`: the target is mixed with the uniform distribution over the classes.
    public var labelSmoothing: Scalar
    /// PyTorch's `reduction`: `.mean` (the default), `.sum` or `.none`; the type's documentation says what
    /// `mean` divides by.
    public var reduction: Reduction
    /// Rows are split across up to this many threads; results do not depend on it.
    public var threads: Int

    /// A cross-entropy loss; every default is PyTorch's.
    public init(
        weight: Tensor<Scalar>? = nil, ignoreIndex: Int = -100, labelSmoothing: Scalar = 0,
        reduction: Reduction = .mean, threads: Int = 1
    ) {
        self.weight = weight
        self.ignoreIndex = ignoreIndex
        self.labelSmoothing = labelSmoothing
        self.reduction = reduction
        self.threads = threads
    }

    /// `target` holds class indices (an index tensor) or probabilities (a value
    /// tensor of the input's shape); the gradient for `target` is returned in the latter case.
    public var inputSpecs: [InputSpec] { [.values("input"), InputSpec("target", kind: .indicesOrValues)] }

    /// The loss of the logits `input` against the class indices `target`.
    public func callAsFunction(_ input: Tensor<Scalar>, _ target: Tensor<Int>) throws -> Tensor<Scalar> {
        return try inSwiftTerms { try evaluate(logits: input, targets: .indices(target), upstream: nil).value }
    }

    /// The loss of the logits `input` against class probabilities `target` (the input's shape).
    public func callAsFunction(_ input: Tensor<Scalar>, _ target: Tensor<Scalar>) throws -> Tensor<Scalar> {
        if isSixteenBit(Scalar.self) { return try typedValue([.values(input), .values(target)]) }
        return try inSwiftTerms { try evaluate(logits: input, targets: .values(target), upstream: nil).value }
    }

    /// The loss and its gradient with respect to the logits, in one fused pass.
    public func valueWithGradient(_ input: Tensor<Scalar>, _ target: Tensor<Int>) throws -> ValueWithGradient<Scalar> {
        try fusedValueWithGradient(input, .indices(target))
    }

    /// The loss against class probabilities and its gradients, in one fused pass:
    /// ``ValueWithGradient/gradient`` is the logits', `gradient(of: .target)` the probabilities'.
    public func valueWithGradient(_ input: Tensor<Scalar>, _ target: Tensor<Scalar>) throws -> ValueWithGradient<Scalar> {
        try fusedValueWithGradient(input, .values(target))
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    private func fusedValueWithGradient(_ input: Tensor<Scalar>, _ target: LossInput<Scalar>) throws
        -> ValueWithGradient<Scalar>
    {
        if isSixteenBit(Scalar.self), case .values = target { return try typedValueWithGradient([.values(input), target]) }
        return try inSwiftTerms {
            let axis = try ClassAxis(inputShape: input.shape)
            let shape = reducedShape(axis.sampleShape, reduction)
            let ones = Tensor<Scalar>(uncheckedShape: shape, scalars: Array(repeating: 1, count: reduction == .none ? axis.layout.rows : 1))
            let r = try evaluate(logits: input, targets: target, upstream: ones)
            var gradients = ["input": r.input!]
            if let t = r.target { gradients["target"] = t }
            return try collect(value: r.value, gradients: gradients)
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        try validate(inputs)
        if case .values = try target(inputs), let wide = try forwardInFloat(inputs) { return wide }
        return try evaluate(logits: inputs.values("input"), targets: target(inputs), upstream: nil).value
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        try validate(inputs)
        if case .values = try target(inputs), let wide = try backwardInFloat(inputs, upstream: upstream) { return wide }
        let r = try evaluate(logits: inputs.values("input"), targets: target(inputs), upstream: upstream)
        var grads = ["input": r.input!]
        if let t = r.target { grads["target"] = t }
        return grads
    }

    private func target(_ inputs: LossInputs<Scalar>) throws -> LossInput<Scalar> {
        guard let t = inputs["target"] else {
            throw LossError.missingInput(name: "target", expected: "class indices or class probabilities")
        }
        return t
    }

    struct Evaluation {
        var value: Tensor<Scalar>
        var input: Tensor<Scalar>?
        var target: Tensor<Scalar>?
    }

    /// Forward, and backward when `upstream` is given, in one kernel call.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func evaluate(logits: Tensor<Scalar>, targets: LossInput<Scalar>, upstream: Tensor<Scalar>?) throws -> Evaluation {
        let axis = try ClassAxis(inputShape: logits.shape)
        try axis.checkClassWeights(weight)
        guard labelSmoothing >= 0 && labelSmoothing <= 1 else {
            throw LossError.invalidOption(name: "label_smoothing", value: "\(labelSmoothing)", expected: "a value in [0, 1]")
        }
        let layout = axis.layout
        let outShape = reducedShape(axis.sampleShape, reduction)
        if let upstream { try checkUpstream(upstream, outShape) }
        // Every check before anything is allocated.
        switch targets {
        case .indices(let t):
            try axis.checkIndexTargets(t)
            try axis.checkIndices(t, ignoreIndex: ignoreIndex)
            if isSixteenBit(Scalar.self) {
                if let r = try sixteenBitEvaluation(logits: logits, targets: t, axis: axis, upstream: upstream) { return r }
                let wide = rebound(to: Float.self) as! CrossEntropyLoss<Float>
                let r = try wide.evaluate(
                    logits: logits.converted(to: Float.self), targets: .indices(t), upstream: upstream?.converted(to: Float.self))
                return Evaluation(value: r.value.converted(to: Scalar.self), input: r.input?.converted(to: Scalar.self))
            }
        case .values(let q):
            guard q.shape == logits.shape else {
                throw LossError.shapeMismatch(
                    argument: "target", expected: "\(describeShape(logits.shape)) (probabilities, the input's shape)",
                    actual: describeShape(q.shape))
            }
        }
        var losses = [Scalar](repeating: 0, count: layout.rows)
        var gradient = upstream == nil ? nil : [Scalar](repeating: 0, count: layout.count)
        var targetGradient: [Scalar]? = nil
        let denominator: Scalar
        switch targets {
        case .indices(let t):
            denominator = reduction == .mean ? axis.meanDenominator(t, weight: weight, ignoreIndex: ignoreIndex) : 1
            let (scale, perRow) = gradientScaling(upstream, denominator)
            try logits.withUnsafeBufferPointer { x in
                try t.withUnsafeBufferPointer { tb in
                    try withOptionalBuffer(weight) { w in
                        try withOptionalBuffer(perRow) { u in
                            try losses.withUnsafeMutableBufferPointer { l in
                                try withOptionalMutableBuffer(&gradient) { g in
                                    try softmaxCrossEntropy(
                                        logits: x, targets: tb, layout: layout, classWeights: w, ignoreIndex: ignoreIndex,
                                        labelSmoothing: labelSmoothing, losses: l, gradient: g, gradientScale: scale,
                                        upstream: u, threads: threads)
                                }
                            }
                        }
                    }
                }
            }
        case .values(let q):
            denominator = reduction == .mean ? Scalar(layout.rows) : 1
            if upstream != nil { targetGradient = [Scalar](repeating: 0, count: layout.count) }
            let (scale, perRow) = gradientScaling(upstream, denominator)
            try logits.withUnsafeBufferPointer { x in
                try q.withUnsafeBufferPointer { qb in
                    try withOptionalBuffer(weight) { w in
                        try withOptionalBuffer(perRow) { u in
                            try losses.withUnsafeMutableBufferPointer { l in
                                try withOptionalMutableBuffer(&gradient) { g in
                                    try withOptionalMutableBuffer(&targetGradient) { gq in
                                        try softmaxCrossEntropy(
                                            logits: x, targets: qb, layout: layout, classWeights: w,
                                            labelSmoothing: labelSmoothing, losses: l, gradient: g, targetGradient: gq,
                                            gradientScale: scale, upstream: u, threads: threads)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let value: Tensor<Scalar>
        switch reduction {
        case .none: value = Tensor(uncheckedShape: axis.sampleShape, scalars: losses)
        case .sum: value = Tensor(scalar: try losses.withUnsafeBufferPointer { try sum($0) })
        case .mean: value = Tensor(scalar: try losses.withUnsafeBufferPointer { try sum($0) } / denominator)
        }
        return Evaluation(
            value: value,
            input: gradient.map { Tensor(uncheckedShape: logits.shape, scalars: $0) },
            target: targetGradient.map { Tensor(uncheckedShape: logits.shape, scalars: $0) })
    }

    /// ``evaluate(logits:targets:upstream:)`` for Float16 and BFloat16 logits with class
    /// indices, after its checks: the native 16-bit kernel (the logits and the gradient move in 16 bits, the
    /// arithmetic is Float's), its per-row losses in Float, reduced as the Float loss reduces
    /// them and rounded once; the options and the mean's denominator in Float. nil when the
    /// kernel's per-thread workspace cannot be allocated: the caller computes in Float.
    @_specialize(where Scalar == Float16)
    @_specialize(where Scalar == BFloat16)
    private func sixteenBitEvaluation(
        logits: Tensor<Scalar>, targets t: Tensor<Int>, axis: ClassAxis, upstream: Tensor<Scalar>?
    ) throws -> Evaluation? {
        let layout = axis.layout
        let denominator: Float =
            reduction == .mean ? axis.meanDenominator(t, weight: weight?.converted(to: Float.self), ignoreIndex: ignoreIndex) : 1
        let (scale, perRow) = gradientScaling(upstream, denominator)
        var losses = [Float](repeating: 0, count: layout.rows)
        var gradient = upstream == nil ? nil : [Scalar](repeating: 0, count: layout.count)
        let computed = try logits.withUnsafeBufferPointer { x in
            try t.withUnsafeBufferPointer { tb in
                try withOptionalBuffer(weight) { w in
                    try withOptionalBuffer(perRow) { u in
                        try losses.withUnsafeMutableBufferPointer { l in
                            try withOptionalMutableBuffer(&gradient) { g in
                                try sixteenBitCrossEntropy(
                                    logits: x, targets: tb, layout: layout, classWeights: w, ignoreIndex: ignoreIndex,
                                    labelSmoothing: Float(labelSmoothing), losses: l, gradient: g, gradientScale: scale, upstream: u,
                                    threads: threads)
                            }
                        }
                    }
                }
            }
        }
        guard computed else { return nil }
        let value: Tensor<Scalar>
        switch reduction {
        case .none: value = Tensor(uncheckedShape: axis.sampleShape, scalars: convertedScalars(losses, to: Scalar.self))
        case .sum: value = Tensor(scalar: Scalar(try losses.withUnsafeBufferPointer { try sum($0) }))
        case .mean: value = Tensor(scalar: Scalar(try losses.withUnsafeBufferPointer { try sum($0) } / denominator))
        }
        return Evaluation(value: value, input: gradient.map { Tensor(uncheckedShape: logits.shape, scalars: $0) }, target: nil)
    }

    /// The kernel's gradient scaling: one factor for `mean`/`sum` (in `S`: `Float` for the
    /// 16-bit kernel), per-row upstream for `none`.
    private func gradientScaling<S: KernelScalar>(_ upstream: Tensor<Scalar>?, _ denominator: S) -> (S, Tensor<Scalar>?) {
        guard let upstream else { return (1, nil) }
        switch reduction {
        case .none: return (1, upstream)
        case .sum: return (S(upstream[flat: 0]), nil)
        case .mean: return (S(upstream[flat: 0]) / denominator, nil)
        }
    }
}

/// Negative log-likelihood on log-probabilities, `torch.nn.functional.nll_loss`.
///
/// Input: log-probabilities `(C)`, `(N, C)` or `(N, C, d1, ..., dk)`; target:
/// class indices of the input's shape without the class axis. Per sample:
/// `-w_t x_t` (0 when `t == ignoreIndex`). Gradient: `-w_t` at the target class
/// and 0 elsewhere. `mean` divides by the sum of the target classes' weights over
/// samples not ignored (NaN when all are ignored), as in PyTorch.
/// `nll_loss(log_softmax(x))` equals `cross_entropy(x)`.
public struct NLLLoss<Scalar: KernelScalar>: ClassTargetLoss {
    /// One weight per class `(C)` (PyTorch's `weight=`, no gradient), or nil for all ones.
    public var weight: Tensor<Scalar>?
    /// A target equal to it contributes nothing (loss 0, zero gradient) and is left out of the mean; -100 by
    /// default.
    public var ignoreIndex: Int
    /// PyTorch's `reduction`: `.mean` (the default), `.sum` or `.none`; the type's documentation says what
    /// `mean` divides by.
    public var reduction: Reduction

    /// A negative log-likelihood loss; every default is PyTorch's.
    public init(weight: Tensor<Scalar>? = nil, ignoreIndex: Int = -100, reduction: Reduction = .mean) {
        self.weight = weight
        self.ignoreIndex = ignoreIndex
        self.reduction = reduction
    }

    public var inputSpecs: [InputSpec] { [.values("input"), .indices("target")] }

    private func prepare(_ inputs: LossInputs<Scalar>) throws -> (Tensor<Scalar>, Tensor<Int>, ClassAxis) {
        let input = try inputs.values("input"), target = try inputs.indices("target")
        let axis = try ClassAxis(inputShape: input.shape)
        try axis.checkClassWeights(weight)
        try axis.checkIndexTargets(target)
        try axis.checkIndices(target, ignoreIndex: ignoreIndex)
        return (input, target, axis)
    }

    /// Flat index of (sample row, class) in the input.
    private func offset(_ row: Int, _ cls: Int, _ layout: AxisLayout) -> Int {
        let o = row / layout.inner, i = row % layout.inner
        return (o * layout.length + cls) * layout.inner + i
    }

    private func classWeight(_ t: Int) -> Scalar { weight?[flat: t] ?? 1 }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        try validate(inputs)
        if let wide = try forwardInFloat(inputs) { return wide }
        let (input, target, axis) = try prepare(inputs)
        var losses = [Scalar](repeating: 0, count: axis.layout.rows)
        for row in 0..<losses.count {
            let t = target[flat: row]
            if t != ignoreIndex { losses[row] = -classWeight(t) * input[flat: offset(row, t, axis.layout)] }
        }
        switch reduction {
        case .none: return Tensor(uncheckedShape: axis.sampleShape, scalars: losses)
        case .sum: return Tensor(scalar: try losses.withUnsafeBufferPointer { try sum($0) })
        case .mean:
            let d: Scalar = axis.meanDenominator(target, weight: weight, ignoreIndex: ignoreIndex)
            return Tensor(scalar: try losses.withUnsafeBufferPointer { try sum($0) } / d)
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        try validate(inputs)
        if let wide = try backwardInFloat(inputs, upstream: upstream) { return wide }
        let (input, target, axis) = try prepare(inputs)
        try checkUpstream(upstream, reducedShape(axis.sampleShape, reduction))
        var grad = [Scalar](repeating: 0, count: input.count)
        let d: Scalar = reduction == .mean ? axis.meanDenominator(target, weight: weight, ignoreIndex: ignoreIndex) : 1
        for row in 0..<axis.layout.rows {
            let t = target[flat: row]
            guard t != ignoreIndex else { continue }
            let g = reduction == .none ? upstream[flat: row] : upstream[flat: 0] / d
            grad[offset(row, t, axis.layout)] = -classWeight(t) * g
        }
        return ["input": Tensor(uncheckedShape: input.shape, scalars: grad)]
    }
}

func withOptionalMutableBuffer<T, R>(
    _ array: inout [T]?, _ body: (UnsafeMutableBufferPointer<T>?) throws -> R
) rethrows -> R {
    guard array != nil else { return try body(nil) }
    return try array!.withUnsafeMutableBufferPointer { try body($0) }
}
