/// Soft Dice loss (`dice` in `make_cases.py`) for segmentation: `input` holds
/// predicted probabilities `p`, `target` the (possibly soft) mask `t`, both of
/// shape `(N, d1, ..., dk)` with `k ≥ 1`. Per sample `n`, summing over every
/// non-batch element `j`:
///
///     A = 2 Σ p_j t_j + smooth,   B = Σ p_j + Σ t_j + smooth
///     f_n = 1 - A / B
///
/// Gradients: `∂f_n/∂p_j = (A - 2 t_j B) / B²`, `∂f_n/∂t_j = (A - 2 p_j B) / B²`.
/// Reduction: over the `N` per-sample values (`none` returns shape `(N)`),
/// `mean` divides by `N`.
///
/// Validation: input and target must have the same shape with at least 2
/// dimensions (a batch dimension and the elements of each sample; a 1-d input is
/// ambiguous and rejected), values in [0, 1], `smooth` finite and ≥ 0. With
/// `smooth = 0`, a sample whose input and target are all zero has `0 / 0` and
/// throws ``/Kernels/LossError/invalidValue(argument:position:value:expected:)``
/// (position = the sample) rather than returning NaN.
public struct DiceLoss<Scalar: KernelScalar>: InputTargetLoss {
    /// Added to the numerator and the denominator of each sample's ratio; finite and ≥ 0, 1 by default.
    public var smooth: Scalar
    /// How the per-sample values are combined: `.mean` (the default) divides by `N`, `.sum` adds, `.none`
    /// keeps them.
    public var reduction: Reduction

    /// A soft Dice loss with `smooth` 1 and reduction `mean` by default.
    public init(smooth: Scalar = 1, reduction: Reduction = .mean) {
        self.smooth = smooth
        self.reduction = reduction
    }

    public var inputSpecs: [InputSpec] { [.values("input"), .values("target")] }

    /// Per sample: `(A, B)`.
    private func prepare(_ inputs: LossInputs<Scalar>) throws -> (Tensor<Scalar>, Tensor<Scalar>, [(Scalar, Scalar)]) {
        let input = try inputs.values("input"), target = try inputs.values("target")
        try InputChecks.option("smooth", smooth, valid: smooth >= 0 && smooth.isFinite, expected: "a finite number >= 0")
        guard input.rank >= 2 else {
            throw LossError.shapeMismatch(
                argument: "input", expected: "at least 2 dimensions (N, d1, ...)", actual: describeShape(input.shape))
        }
        try checkSameShape(input, "input", target, "target")
        try InputChecks.elements(input, "input", expected: "a probability in [0, 1]") { $0 >= 0 && $0 <= 1 }
        try InputChecks.elements(target, "target", expected: "a value in [0, 1]") { $0 >= 0 && $0 <= 1 }
        let n = input.shape[0], size = n == 0 ? 0 : input.count / n
        var parts: [(Scalar, Scalar)] = []
        // Samples of no elements are all (smooth, smooth): filled at once, not summed one by one.
        if size == 0 && n > 0 {
            guard smooth > 0 else {
                throw LossError.invalidValue(
                    argument: "input", position: 0, value: 0,
                    expected: "a sample with a non-zero sum of input and target when smooth = 0")
            }
            return (input, target, Array(repeating: (smooth, smooth), count: n))
        }
        parts.reserveCapacity(n)
        for s in 0..<n {
            var inter = 0.0, total = 0.0
            for j in (s * size)..<((s + 1) * size) {
                let p = Double(input[flat: j]), t = Double(target[flat: j])
                inter += p * t
                total += p + t
            }
            let a = Scalar(2 * inter) + smooth, b = Scalar(total) + smooth
            guard b > 0 else {
                throw LossError.invalidValue(
                    argument: "input", position: s, value: 0,
                    expected: "a sample with a non-zero sum of input and target when smooth = 0")
            }
            parts.append((a, b))
        }
        return (input, target, parts)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        try validate(inputs)
        if let wide = try forwardInFloat(inputs) { return wide }
        let (input, _, parts) = try prepare(inputs)
        return try reduce(parts.map { 1 - $0.0 / $0.1 }, shape: [input.shape[0]], reduction)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        try validate(inputs)
        if let wide = try backwardInFloat(inputs, upstream: upstream) { return wide }
        let (input, target, parts) = try prepare(inputs)
        let n = input.shape[0], size = n == 0 ? 0 : input.count / n
        let g = try ReductionGradient(upstream, reduction: reduction, shape: [n], count: n)
        var dp = [Scalar](repeating: 0, count: input.count), dt = dp
        for s in 0..<n {
            let (a, b) = parts[s]
            let scale = g[s] / (b * b)
            for j in (s * size)..<((s + 1) * size) {
                dp[j] = scale * (a - 2 * target[flat: j] * b)
                dt[j] = scale * (a - 2 * input[flat: j] * b)
            }
        }
        return [
            "input": Tensor(uncheckedShape: input.shape, scalars: dp),
            "target": Tensor(uncheckedShape: input.shape, scalars: dt),
        ]
    }
}
