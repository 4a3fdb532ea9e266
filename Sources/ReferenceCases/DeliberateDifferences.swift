import Foundation
import Loss

/// Where LossKit deliberately gives another value than PyTorch's autograd, and the
/// loss's documentation says so, the verifier reports the case as
/// ``CaseResult/Status/differs`` rather than as a failure — for exactly the entries
/// the rule explains. Any other mismatch in the case still fails it.
struct DeliberateDifference: Sendable {
    /// The reference function the rule is about.
    var function: String
    /// Printed with the case: what differs and where it is documented.
    var explanation: String
    /// Whether the mismatch of `got` against `want` at flat `index` of the gradient
    /// named `gradient` is the documented one.
    var explains: @Sendable (_ c: ReferenceCase, _ gradient: String, _ index: Int, _ got: Double, _ want: Double) -> Bool

    static let all: [DeliberateDifference] = [focalCrossEntropyAtCertainty, sigmoidFocalAtSaturation]

    static func rules(for function: String) -> [DeliberateDifference] { all.filter { $0.function == function } }

    /// `focal_cross_entropy` with `0 < γ < 1`, on a sample whose target probability
    /// is exactly 1 in float64 (a logit gap beyond ~37): autograd's backward of
    /// `(1 - p)^γ` is `γ · 0^(γ-1) = ∞`, and the sample's gradient is `0 · ∞ = NaN`;
    /// ``FocalCrossEntropyLoss`` gives the limit, 0 (its documentation says so). The
    /// rule holds only where PyTorch's value is NaN, LossKit's finite, and the
    /// sample's `exp(log_softmax(x)_t)` is 1 in float64.
    static let focalCrossEntropyAtCertainty = DeliberateDifference(
        function: "focal_cross_entropy",
        explanation: "PyTorch's gradient is NaN where a sample's target probability is exactly 1 and gamma < 1 "
            + "(0 · ∞ in the backward of (1 - p)^gamma); LossKit gives the limit, 0 (see FocalCrossEntropyLoss)",
        explains: { c, gradient, index, got, want in
            guard gradient == "input", want.isNaN, got.isFinite,
                case let gamma? = c.options["gamma"].flatMap(\.numericValue), gamma > 0, gamma < 1,
                let x = c.inputs.first(where: { $0.name == "input" })?.tensor, x.dtype.isFloatingPoint,
                let t = c.inputs.first(where: { $0.name == "target" })?.tensor, t.dtype == .int64,
                x.shape.count >= 2, x.values.count == x.shape.reduce(1, *), index >= 0, index < x.values.count
            else { return false }
            // Classes on axis 1: x[n, :, s] is the sample, t[n, s] its class.
            let classes = x.shape[1], inner = x.shape.dropFirst(2).reduce(1, *)
            let n = index / (classes * inner), s = index % inner
            guard n * inner + s < t.integers.count else { return false }
            let target = t.integers[n * inner + s]
            guard target >= 0, target < classes else { return false }
            let row = (0..<classes).map { x.values[(n * classes + $0) * inner + s] }
            guard let m = row.max(), m.isFinite else { return false }
            let logSumExp = m + Foundation.log(row.reduce(0) { $0 + Foundation.exp($1 - m) })
            return Foundation.exp(row[target] - logSumExp) == 1
        })

    /// `sigmoid_focal` (torchvision's `sigmoid_focal_loss`) with `0 < γ < 1`, on an
    /// element whose `1 - p_t` is exactly 0 in float64 (a logit beyond about 37 toward its
    /// target): autograd's backward of `(1 - p_t)^γ` is `γ · 0^(γ-1) = ∞`, and both
    /// gradients there are `0 · ∞ = NaN`; ``SigmoidFocalLoss`` forms `1 - p_t` as `σ(-x)`
    /// (or `σ(x)`), which is not 0, and gives the finite gradient (its documentation says
    /// so). The rule holds only where PyTorch's value is NaN, LossKit's finite, and
    /// `1 - p_t` computed as torchvision computes it is 0.
    static let sigmoidFocalAtSaturation = DeliberateDifference(
        function: "sigmoid_focal",
        explanation: "torchvision's gradient is NaN where 1 - p_t rounds to 0 and gamma < 1 "
            + "(0 · ∞ in the backward of (1 - p_t)^gamma); LossKit computes 1 - p_t without that rounding "
            + "and gives the finite gradient (see SigmoidFocalLoss)",
        explains: { c, gradient, index, got, want in
            guard gradient == "input" || gradient == "target", want.isNaN, got.isFinite,
                case let gamma? = c.options["gamma"].flatMap(\.numericValue), gamma > 0, gamma < 1,
                let x = c.inputs.first(where: { $0.name == "input" })?.tensor,
                let t = c.inputs.first(where: { $0.name == "target" })?.tensor,
                x.dtype.isFloatingPoint, t.dtype.isFloatingPoint, index >= 0, index < x.values.count, index < t.values.count
            else { return false }
            let p = 1 / (1 + Foundation.exp(-x.values[index])), target = t.values[index]
            let pt = p * target + (1 - p) * (1 - target)
            return 1 - pt == 0
        })
}

/// Where LossKit deliberately throws for an input PyTorch computes with (a value
/// outside the loss's domain, which PyTorch turns into NaN or into a number of a
/// formula the value was not meant for), and the loss's documentation says so, the
/// verifier reports the case as ``CaseResult/Status/differs`` with the reason, rather
/// than as a failure: only for that error, and only where the reference case's own
/// input really holds such a value at the position the error names.
struct DeliberateRefusal: Sendable {
    /// The reference function the rule is about.
    var function: String
    /// Printed with the case: what LossKit refuses, what PyTorch does, and why.
    var explanation: String
    /// The input the error must name.
    var argument: String
    /// Whether the rule applies to the case at all (an option that changes the domain).
    var applies: @Sendable (_ c: ReferenceCase) -> Bool = { _ in true }
    /// Whether a value of the case's input lies outside LossKit's domain.
    var outside: @Sendable (_ value: Double) -> Bool

    static let all: [DeliberateRefusal] = [
        DeliberateRefusal(
            function: "kl_div",
            explanation: "a negative or NaN probability target (log_target False): PyTorch returns NaN "
                + "(xlogy of a negative number); LossKit throws (see KLDivLoss)",
            argument: "target", applies: { $0.options["log_target"] != .bool(true) }, outside: { !($0 >= 0) }),
        DeliberateRefusal(
            function: "poisson_nll_loss",
            explanation: "a negative or NaN count target: PyTorch evaluates the formula with it "
                + "(exp(x) - t x, a number for a negative count); LossKit throws (see PoissonNLLLoss)",
            argument: "target", outside: { !($0 >= 0) }),
        DeliberateRefusal(
            function: "poisson_nll_loss",
            explanation: "a negative or NaN rate with log_input False: PyTorch returns the log of a negative number "
                + "(NaN); LossKit throws (see PoissonNLLLoss)",
            argument: "input", applies: { $0.options["log_input"] == .bool(false) }, outside: { !($0 >= 0) }),
        DeliberateRefusal(
            function: "hinge_embedding_loss",
            explanation: "a target other than 1 or -1: PyTorch adds both branches (x + max(0, margin - x)); "
                + "LossKit throws (see HingeEmbeddingLoss)",
            argument: "target", outside: { $0 != 1 && $0 != -1 }),
        DeliberateRefusal(
            function: "cosine_embedding_loss",
            explanation: "a target other than 1 or -1: PyTorch gives 0 for it; LossKit throws (see CosineEmbeddingLoss)",
            argument: "target", outside: { $0 != 1 && $0 != -1 }),
        DeliberateRefusal(
            function: "gaussian_nll_loss",
            explanation: "a NaN variance: PyTorch's check (var < 0) lets it through and the loss is NaN; "
                + "LossKit throws (see GaussianNLLLoss)",
            argument: "var", outside: { $0.isNaN }),
    ]

    /// The rule that explains `error` thrown for case `c`, if any.
    static func explaining(_ c: ReferenceCase, _ error: LossError) -> DeliberateRefusal? {
        guard case let .invalidValue(argument, position, value, _) = error else { return nil }
        return all.first { rule in
            guard rule.function == c.function, rule.argument == argument, rule.applies(c),
                let t = c.inputs.first(where: { $0.name == argument })?.tensor, position >= 0
            else { return false }
            let given: Double
            if t.dtype == .int64 {
                guard position < t.integers.count else { return false }
                given = Double(t.integers[position])
            } else {
                guard position < t.values.count else { return false }
                given = t.values[position]
            }
            // The value the error reports is the case's own, and outside the domain.
            return rule.outside(given) && (given == value || (given.isNaN && value.isNaN))
        }
    }
}

extension OptionValue {
    /// An `int` or `double` option as a Double.
    var numericValue: Double? {
        switch self {
        case .int(let v): return Double(v)
        case .double(let v): return v
        default: return nil
        }
    }
}
