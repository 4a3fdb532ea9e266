/// The reductions of ``KLDivLoss``: the shared ``Reduction`` cases plus
/// `batchmean`, PyTorch's `reduction="batchmean"`.
public enum KLDivReduction: String, Sendable, CaseIterable, Equatable {
    /// One value per element.
    case none
    /// The sum over elements divided by the number of **elements** — not the KL
    /// divergence of the distributions (PyTorch warns about this).
    case mean
    /// The sum over elements.
    case sum
    /// The sum divided by `input.shape[0]` (the batch size): the mean KL
    /// divergence per sample when each row is a distribution. A 0-d input is not divided.
    case batchmean
}

/// Kullback–Leibler divergence, `torch.nn.functional.kl_div`, PyTorch's
/// argument order: `input` holds **log**-probabilities `x` of the model, `target`
/// the reference distribution `t` (probabilities, or log-probabilities `l` when
/// `logTarget`). Per element:
///
///     f = t (log t - x)          (logTarget = false; 0 where t = 0, as xlogy)
///     f = exp(l) (l - x)         (logTarget = true)
///
/// Gradients: `∂f/∂x = -t` (or `-exp(l)`); `∂f/∂t = log t + 1 - x`
/// (or `∂f/∂l = exp(l) (l - x + 1)`).
///
/// Surprises, all as in PyTorch:
/// - `mean` divides by the number of elements, so it is the KL divergence
///   divided by the number of classes; use `batchmean` for the mean KL per sample.
/// - `batchmean` divides the sum by `input.shape[0]` whatever the rank.
/// - where `t = 0` (logTarget = false) the value is 0 and the input gradient
///   is 0, but the target gradient is NaN: PyTorch differentiates `xlogy(t, t)`
///   and its second argument gives `0 / 0`. LossKit returns NaN there too (the
///   one-sided derivative is −∞).
///
/// Input and target of different shapes broadcast against each other, as PyTorch
/// does without a warning (each gradient summed over the dimensions its tensor was
/// broadcast along; `mean` divides by the broadcast element count, `batchmean` by
/// the given input's first dimension, as in PyTorch).
///
/// Deliberate difference: negative or NaN probability targets (logTarget = false) throw
/// ``/Kernels/LossError/invalidValue(argument:position:value:expected:)`` where PyTorch
/// silently returns NaN (the log of a negative number, or the NaN itself).
public struct KLDivLoss<Scalar: KernelScalar>: InputTargetLoss {
    /// PyTorch's `reduction`, `batchmean` included; `.mean` by default (which is not the mean KL divergence:
    /// see above).
    public var reduction: KLDivReduction
    /// Whether `target` holds log-probabilities rather than probabilities.
    public var logTarget: Bool

    /// A KL divergence loss; every default is PyTorch's.
    public init(reduction: KLDivReduction = .mean, logTarget: Bool = false) {
        self.reduction = reduction
        self.logTarget = logTarget
    }

    public var inputSpecs: [InputSpec] { [.values("input"), .values("target")] }

    /// Input and target broadcast to their common shape (the output's), after the domain check.
    private func operands(_ inputs: LossInputs<Scalar>) throws -> (Tensor<Scalar>, Tensor<Scalar>) {
        let input = try inputs.values("input"), target = try inputs.values("target")
        let shape = try broadcastShape([("input", input.shape), ("target", target.shape)])
        if !logTarget {
            try InputChecks.elements(target, "target", expected: "a probability >= 0") { $0 >= 0 }
        }
        return (input.broadcast(to: shape), target.broadcast(to: shape))
    }

    /// The shared reduction applied to the sum, and the extra divisor of `batchmean`
    /// (the size of the given input's first dimension, as PyTorch divides by it).
    private func baseReduction(_ inputShape: [Int]) -> (Reduction, Scalar) {
        switch reduction {
        case .none: return (.none, 1)
        case .mean: return (.mean, 1)
        case .sum: return (.sum, 1)
        case .batchmean: return (.sum, inputShape.isEmpty ? 1 : Scalar(inputShape[0]))
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        try validate(inputs)
        if let wide = try forwardInFloat(inputs) { return wide }
        let (input, target) = try operands(inputs)
        let values = generatedArray(count: input.count) { i -> Scalar in
            let x = input[flat: i], t = target[flat: i]
            if logTarget { return Scalar.exp(t) * (t - x) }
            return (t == 0 ? 0 : t * Scalar.log(t)) - t * x
        }
        let (base, divisor) = baseReduction(try inputs.values("input").shape)
        let reduced = try reduce(values, shape: input.shape, base)
        return divisor == 1 ? reduced : reduced.map { $0 / divisor }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        try validate(inputs)
        if let wide = try backwardInFloat(inputs, upstream: upstream) { return wide }
        let (input, target) = try operands(inputs)
        let (base, divisor) = baseReduction(try inputs.values("input").shape)
        let g = try ReductionGradient(upstream, reduction: base, shape: input.shape, count: input.count)
        var dx = [Scalar](repeating: 0, count: input.count), dt = dx
        for i in 0..<input.count {
            let x = input[flat: i], t = target[flat: i], gi = g[i] / divisor
            if logTarget {
                let e = Scalar.exp(t)
                dx[i] = -gi * e
                dt[i] = gi * e * (t - x + 1)
            } else {
                dx[i] = -gi * t
                dt[i] = t == 0 ? .nan : gi * (Scalar.log(t) + 1 - x)
            }
        }
        return [
            "input": Tensor(uncheckedShape: input.shape, scalars: dx).summed(to: try inputs.values("input").shape),
            "target": Tensor(uncheckedShape: input.shape, scalars: dt).summed(to: try inputs.values("target").shape),
        ]
    }
}

/// `kl_div` called with the legacy `size_average=`/`reduce=` and `reduction="batchmean"`
/// together: PyTorch reduces as the legacy keywords say, then still divides by the
/// input's first dimension because `reduction` is `"batchmean"` (`LossRegistry` builds
/// this; the typed API has no legacy keywords).
struct KLDivLegacyBatchmean<Scalar: KernelScalar>: LossFunction {
    var base: KLDivLoss<Scalar>

    var inputSpecs: [InputSpec] { base.inputSpecs }

    private func batch(_ inputs: LossInputs<Scalar>) throws -> Scalar {
        let shape = try inputs.values("input").shape
        return shape.isEmpty ? 1 : Scalar(shape[0])
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        try validate(inputs)
        let n = try batch(inputs)
        return try base.forward(inputs).map { $0 / n }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        try validate(inputs)
        let n = try batch(inputs)
        return try base.backward(inputs, upstream: upstream.map { $0 / n })
    }
}
