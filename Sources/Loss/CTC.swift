/// Connectionist temporal classification loss, `torch.nn.functional.ctc_loss`.
///
/// Inputs (PyTorch's names):
/// - `log_probs` `(T, N, C)`: log-probabilities over `C` classes (blank included)
///   for `T` time steps of `N` sequences, normally a `log_softmax` output;
/// - `targets` `(N, S)`: label sequences padded to `S` (integers), or `(Σ target_lengths)`:
///   the sequences concatenated, as PyTorch also accepts;
/// - `input_lengths` `(N)`: the time steps used per sequence, each in `[0, T]`;
/// - `target_lengths` `(N)`: the labels used per sequence, each in `[0, S]`.
///
/// Per sequence, the loss is `−log Σ_π Π_t y_t(π_t)` over the alignments π of
/// length `input_length` that collapse (merge repeats, drop blanks) to the target:
/// the forward–backward algorithm of Graves et al. on the target extended with
/// blanks, `l' = (b, l₁, b, l₂, …, b)`, in log space (accumulated in Double in
/// either precision). An impossible alignment (the input is too short for the
/// target and its repeated labels) gives `+∞`, or `0` with `zeroInfinity`.
///
/// Gradient, for `log_probs` only, with `α`, `β` the forward and backward
/// variables (both including `y_t`), `nll` the loss and `g` the upstream gradient
/// of the sequence, for `t < input_length`:
/// `g · (exp(lp[t, c]) − exp(log Σ_{s: l'_s = c} α_t(s) β_t(s) + nll − lp[t, c]))`,
/// and 0 for the padding steps `t ≥ input_length`.
///
/// Surprising in PyTorch, and kept for compatibility:
/// - the gradient is **not** the derivative of the loss with respect to
///   `log_probs`: it carries the extra term `exp(lp)`. It is the true gradient
///   with respect to the logits *before* a `log_softmax` (the two agree after
///   `log_softmax`'s backward, because the rows of `exp(lp)` sum to 1), so
///   feed it through `log_softmax`'s backward as PyTorch users do;
/// - an infinite loss without `zeroInfinity` has a NaN gradient (for every
///   `t < input_length` of that sequence); with `zeroInfinity` both are 0;
/// - `mean` divides each sequence's loss by its target length (clamped below at
///   1), then averages over the batch; `sum` adds the raw losses.
///
/// Bad input throws before anything is computed: `blank` outside `[0, C)` is
/// ``/Kernels/LossError/invalidOption(name:value:expected:)``; a length outside its range,
/// or a label (within the target length) outside `[0, C)` or equal to the blank,
/// is ``/Kernels/LossError/indexOutOfRange(argument:position:index:validRange:)``; wrong
/// shapes are ``/Kernels/LossError/shapeMismatch(argument:expected:actual:)``.
/// Unbatched input, as PyTorch: `log_probs` `(T, C)` with `targets` `(S)` (all `S`
/// labels used: PyTorch requires `target_length = S`) or `(1, S)`, and lengths `()` or
/// `(1)`; it is one sequence, and `none` gives a 0-d loss. Concatenated targets must
/// hold exactly `Σ target_lengths` labels, as in PyTorch.
public struct CTCLoss<Scalar: KernelScalar>: LossFunction {
    /// The class index of the blank label, in `[0, C)`.
    public var blank: Int
    /// Whether an impossible alignment gives a loss of 0 and a zero gradient instead of `+∞` and NaN.
    public var zeroInfinity: Bool
    /// PyTorch's `reduction`: `.mean` (the default) divides each sequence's loss by its target length, then
    /// averages; `.sum` adds the raw losses; `.none` keeps one per sequence.
    public var reduction: Reduction

    /// A CTC loss; every default is PyTorch's.
    public init(blank: Int = 0, zeroInfinity: Bool = false, reduction: Reduction = .mean) {
        self.blank = blank
        self.zeroInfinity = zeroInfinity
        self.reduction = reduction
    }

    public var inputSpecs: [InputSpec] {
        [.values("log_probs"), .indices("targets"), .indices("input_lengths"), .indices("target_lengths")]
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        try validate(inputs)
        if let wide = try forwardInFloat(inputs) { return wide }
        return try evaluate(inputs, upstream: nil).value
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        try validate(inputs)
        if let wide = try backwardInFloat(inputs, upstream: upstream) { return wide }
        guard let gradient = try evaluate(inputs, upstream: upstream).gradient else { return [:] }
        return ["log_probs": gradient]
    }

    private struct Problem {
        var logProbs: Tensor<Scalar>
        var targets: Tensor<Int>
        var inputLengths: Tensor<Int>
        var targetLengths: Tensor<Int>
        /// Where each sequence's labels start in `targets`' flat storage.
        var offsets: [Int]
        var steps: Int, batch: Int, classes: Int
    }

    /// Checks shapes, lengths, labels and the blank.
    private func validated(_ inputs: LossInputs<Scalar>) throws -> Problem {
        let lp = try inputs.values("log_probs")
        let targets = try inputs.indices("targets")
        let inputLengths = try inputs.indices("input_lengths")
        let targetLengths = try inputs.indices("target_lengths")
        guard lp.rank == 3 else {
            throw LossError.shapeMismatch(argument: "log_probs", expected: "(T, N, C) or (T, C)", actual: describeShape(lp.shape))
        }
        let (t, n, c) = (lp.shape[0], lp.shape[1], lp.shape[2])
        guard blank >= 0 && blank < c else {
            throw LossError.invalidOption(name: "blank", value: "\(blank)", expected: "a class index in [0, \(c))")
        }
        let concatenated = targets.rank == 1
        guard concatenated || (targets.rank == 2 && targets.shape[0] == n) else {
            throw LossError.shapeMismatch(
                argument: "targets", expected: "(N, S) with N = \(n) (padded targets), or (sum of target_lengths) (concatenated)",
                actual: describeShape(targets.shape))
        }
        guard inputLengths.shape == [n] else {
            throw LossError.shapeMismatch(argument: "input_lengths", expected: describeShape([n]), actual: describeShape(inputLengths.shape))
        }
        guard targetLengths.shape == [n] else {
            throw LossError.shapeMismatch(argument: "target_lengths", expected: describeShape([n]), actual: describeShape(targetLengths.shape))
        }
        for i in 0..<n {
            let length = inputLengths[flat: i]
            guard length >= 0 && length <= t else {
                throw LossError.indexOutOfRange(argument: "input_lengths", position: i, index: length, validRange: "[0, \(t)]")
            }
        }
        // Padded: sequence i starts at i * S and holds at most S labels. Concatenated: it
        // starts where the previous one ends, and the lengths add up to the count.
        let s = concatenated ? Int.max : targets.shape[1]
        var offsets = [Int](repeating: 0, count: n), next = 0, overflow = false
        for i in 0..<n {
            let length = targetLengths[flat: i]
            guard length >= 0 && length <= s else {
                throw LossError.indexOutOfRange(
                    argument: "target_lengths", position: i, index: length, validRange: concatenated ? "[0, ∞)" : "[0, \(s)]")
            }
            offsets[i] = concatenated ? next : i * s
            if concatenated {
                let (sum, o) = next.addingReportingOverflow(length)
                (next, overflow) = (sum, overflow || o)
            }
        }
        if concatenated && (overflow || next != targets.count) {
            throw LossError.shapeMismatch(
                argument: "targets",
                expected: overflow ? "the sum of target_lengths, which overflows" : "[\(next)] (the sum of target_lengths, concatenated)",
                actual: describeShape(targets.shape))
        }
        for i in 0..<n {
            for k in 0..<targetLengths[flat: i] {
                let label = targets[flat: offsets[i] + k]
                guard label >= 0 && label < c && label != blank else {
                    throw LossError.indexOutOfRange(
                        argument: "targets", position: offsets[i] + k, index: label,
                        validRange: "[0, \(c)) without the blank \(blank)")
                }
            }
        }
        return Problem(
            logProbs: lp, targets: targets, inputLengths: inputLengths, targetLengths: targetLengths, offsets: offsets,
            steps: t, batch: n, classes: c)
    }

    /// PyTorch's unbatched form, `log_probs` `(T, C)` and 0-d lengths, as a batch of one.
    private func batched(_ inputs: LossInputs<Scalar>) throws -> (inputs: LossInputs<Scalar>, unbatched: Bool) {
        let lp = try inputs.values("log_probs")
        guard lp.rank == 2 else { return (inputs, false) }
        var one = inputs
        one["log_probs"] = .values(try lp.reshaped([lp.shape[0], 1, lp.shape[1]]))
        for name in ["input_lengths", "target_lengths"] {
            let lengths = try inputs.indices(name)
            guard lengths.rank == 0 || lengths.shape == [1] else {
                throw LossError.shapeMismatch(
                    argument: name, expected: "() or [1] (for an unbatched (T, C) log_probs)", actual: describeShape(lengths.shape))
            }
            one[name] = .indices(try lengths.reshaped([1]))
        }
        return (one, true)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    private func evaluate(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>?) throws -> (
        value: Tensor<Scalar>, gradient: Tensor<Scalar>?
    ) {
        let (inputs, unbatched) = try batched(inputs)
        let upstream = try upstream.map { u -> Tensor<Scalar> in
            guard unbatched && reduction == .none else { return u }
            try checkUpstream(u, [])  // the 0-d loss's
            return try u.reshaped([1])
        }
        let problem = try validated(inputs)
        let n = problem.batch
        let weights = try upstream.map { try ReductionGradient($0, reduction: reduction, shape: [n], count: n) }
        var losses = [Double](repeating: 0, count: n)
        var gradient = weights == nil ? nil : [Scalar](repeating: 0, count: problem.logProbs.count)
        for i in 0..<n {
            let scale: Double? = weights.map { w in
                let g = Double(w[i])
                return reduction == .mean ? g / Double(max(problem.targetLengths[flat: i], 1)) : g
            }
            losses[i] = sequenceLoss(problem, i, gradientScale: scale, gradient: &gradient)
        }
        let value: Tensor<Scalar>
        switch reduction {
        case .none: value = Tensor(uncheckedShape: [n], scalars: losses.map { Scalar($0) })
        case .sum: value = Tensor(scalar: Scalar(losses.reduce(0, +)))
        case .mean:
            var total = 0.0
            for i in 0..<n { total += losses[i] / Double(max(problem.targetLengths[flat: i], 1)) }
            value = Tensor(scalar: n == 0 ? .nan : Scalar(total / Double(n)))
        }
        let shape = unbatched ? [problem.steps, problem.classes] : problem.logProbs.shape
        return (unbatched && reduction == .none ? try value.reshaped([]) : value,
                gradient.map { Tensor(uncheckedShape: shape, scalars: $0) })
    }

    /// The loss of sequence `i`; with `gradientScale`, also writes its gradient.
    private func sequenceLoss(_ p: Problem, _ i: Int, gradientScale: Double?, gradient: inout [Scalar]?) -> Double {
        let steps = p.inputLengths[flat: i], labels = p.targetLengths[flat: i]
        let n = p.batch, c = p.classes
        let width = 2 * labels + 1
        // l'_s: blank at even s, the label (s - 1) / 2 at odd s.
        let extended = (0..<width).map { s in s % 2 == 0 ? blank : p.targets[flat: p.offsets[i] + (s - 1) / 2] }
        @inline(__always) func lp(_ t: Int, _ k: Int) -> Double { Double(p.logProbs[flat: (t * n + i) * c + k]) }
        /// May s be reached from s - 2 (a label different from the one before the blank)?
        @inline(__always) func skips(_ s: Int) -> Bool { s >= 2 && extended[s] != blank && extended[s] != extended[s - 2] }

        guard steps > 0 else {
            // No time steps: only the empty target has an alignment (probability 1).
            if labels == 0 { return 0 }
            return zeroInfinity ? 0 : .infinity
        }
        var alpha = [Double](repeating: -.infinity, count: steps * width)
        alpha[0] = lp(0, blank)
        if width > 1 { alpha[1] = lp(0, extended[1]) }
        for t in 1..<max(steps, 1) {
            let row = t * width, previous = (t - 1) * width
            // Only states from which the end is still reachable could matter, but all are kept: widths are small.
            for s in 0..<width {
                var a = alpha[previous + s]
                if s >= 1 { a = logAdd(a, alpha[previous + s - 1]) }
                if skips(s) { a = logAdd(a, alpha[previous + s - 2]) }
                alpha[row + s] = a == -.infinity ? a : a + lp(t, extended[s])
            }
        }
        let last = (steps - 1) * width
        var logLikelihood = alpha[last + width - 1]
        if width > 1 { logLikelihood = logAdd(logLikelihood, alpha[last + width - 2]) }
        let nll = -logLikelihood
        let infinite = nll == .infinity
        guard let scale = gradientScale else { return infinite && zeroInfinity ? 0 : nll }
        if infinite && zeroInfinity { return 0 }

        var beta = [Double](repeating: -.infinity, count: steps * width)
        beta[last + width - 1] = lp(steps - 1, blank)
        if width > 1 { beta[last + width - 2] = lp(steps - 1, extended[width - 2]) }
        for t in stride(from: steps - 2, through: 0, by: -1) {
            let row = t * width, next = (t + 1) * width
            for s in 0..<width {
                var b = beta[next + s]
                if s + 1 < width { b = logAdd(b, beta[next + s + 1]) }
                if s + 2 < width && skips(s + 2) { b = logAdd(b, beta[next + s + 2]) }
                beta[row + s] = b == -.infinity ? b : b + lp(t, extended[s])
            }
        }
        var collected = [Double](repeating: -.infinity, count: c)
        for t in 0..<steps {
            for k in 0..<c { collected[k] = -.infinity }
            for s in 0..<width {
                collected[extended[s]] = logAdd(collected[extended[s]], alpha[t * width + s] + beta[t * width + s])
            }
            for k in 0..<c {
                let l = lp(t, k)
                // For an infinite loss, -inf + inf is NaN, as in PyTorch.
                let g = (Double.exp(l) - Double.exp(collected[k] + nll - l)) * scale
                gradient?[(t * n + i) * c + k] = Scalar(g)
            }
        }
        return nll
    }
}

/// `log(exp(a) + exp(b))`, exact for infinite arguments.
@inline(__always) private func logAdd(_ a: Double, _ b: Double) -> Double {
    if a == -.infinity { return b }
    if b == -.infinity { return a }
    let m = max(a, b)
    return m + Double.log(onePlus: Double.exp(-abs(a - b)))
}

extension CTCLoss {
    /// The loss of `logProbs` `(T, N, C)` (or `(T, C)`) against padded `targets` `(N, S)`
    /// or concatenated `targets` `(Σ targetLengths)`.
    public func callAsFunction(
        _ logProbs: Tensor<Scalar>, _ targets: Tensor<Int>, inputLengths: Tensor<Int>, targetLengths: Tensor<Int>
    ) throws -> Tensor<Scalar> {
        try typedValue([.values(logProbs), .indices(targets), .indices(inputLengths), .indices(targetLengths)])
    }

    /// The loss and its gradient with respect to `logProbs`.
    public func valueWithGradient(
        _ logProbs: Tensor<Scalar>, _ targets: Tensor<Int>, inputLengths: Tensor<Int>, targetLengths: Tensor<Int>
    ) throws -> ValueWithGradient<Scalar> {
        try typedValueWithGradient([.values(logProbs), .indices(targets), .indices(inputLengths), .indices(targetLengths)])
    }
}
