/// Checks a loss's hand-written backward pass against central finite
/// differences, in Double, for every differentiable input — LossKit's own
/// losses and yours alike.
///
/// With a random upstream gradient `u` (seeded), the objective is
/// `F = sum(forward(inputs) * u)`; for each element `x_k` of each input with a
/// gradient, the numeric derivative is `(F(x_k + h) - F(x_k - h)) / 2h` with
/// `h = step · max(1, |x_k|)`, and it is compared with `backward(inputs, u)`.
///
/// The error of one partial derivative is `|a - n| / max(|a|, |n|, floor)`,
/// where `floor = 1e-3 · max_k |n_k|` over that input (at least 1e-8), so that
/// entries that are essentially zero next to the others do not dominate. The
/// truncation error after extrapolation is `O(h⁴)` and the rounding error
/// `O(ε |F| / h)`; with the default `step = 1e-4` both stay near 1e-11 for smooth
/// losses. Keep inputs more than `h` away from kinks (|x - y| = 0 for L1, margins
/// for hinge losses), where no derivative exists.
public enum GradientCheck {
    /// The outcome of a check.
    public struct Report: Sendable, CustomStringConvertible {
        /// The largest error over every partial derivative compared.
        public var worstError: Double = 0
        /// Where it occurred: input name and flat index.
        public var worstInput: String?
        /// The flat index of the worst partial derivative in ``worstInput``.
        public var worstIndex: Int?
        /// The worst partial derivative as the loss's `backward` gave it.
        public var worstAnalytic: Double = 0
        /// The same partial derivative from finite differences.
        public var worstNumeric: Double = 0
        /// How many partial derivatives were compared.
        public var checked = 0
        /// Inputs given as values that the loss declares differentiable and for which
        /// backward returned no gradient (an optional input left out, or class indices
        /// where values could go, has none to return).
        public var missingGradients: [String] = []

        /// True when every gradient is present and the worst error is at most `tolerance`.
        public func passes(tolerance: Double = 1e-7) -> Bool {
            missingGradients.isEmpty && worstError <= tolerance
        }

        public var description: String {
            var s = "checked \(checked) partial derivatives, worst relative error \(worstError)"
            if let worstInput, let worstIndex {
                s += " at \(worstInput)[\(worstIndex)] (analytic \(worstAnalytic), numeric \(worstNumeric))"
            }
            if !missingGradients.isEmpty { s += "; missing gradients: \(missingGradients.joined(separator: ", "))" }
            return s
        }
    }

    /// Runs the check. `inputs` should lie inside the loss's domain.
    public static func check<L: LossFunction>(
        _ loss: L, inputs: LossInputs<Double>, step: Double = 1e-4, seed: UInt64 = 0x5EED
    ) throws -> Report where L.Scalar == Double {
        guard step > 0 && step.isFinite else {
            throw LossError.invalidOption(name: "step", value: "\(step)", expected: "a finite step > 0")
        }
        let output = try loss.forward(inputs)
        var g = SeededGenerator(seed: seed)
        let upstream = try Tensor<Double>.randomNormal(shape: output.shape, using: &g)
        let analytic = try loss.backward(inputs, upstream: upstream)

        // F(x + h) - F(x - h), differenced output by output before weighting, so
        // outputs that do not depend on the perturbed element cancel exactly.
        func objectiveDifference(_ plus: LossInputs<Double>, _ minus: LossInputs<Double>) throws -> Double {
            let a = try loss.forward(plus), b = try loss.forward(minus)
            // A custom loss whose output shape depends on the values is reported, not indexed out of range.
            for y in [a, b] where y.shape != output.shape {
                throw LossError.shapeMismatch(
                    argument: "output of forward", expected: describeShape(output.shape), actual: describeShape(y.shape))
            }
            var total = 0.0
            for i in 0..<a.count { total += (a[flat: i] - b[flat: i]) * upstream[flat: i] }
            return total
        }

        var report = Report()
        // Inputs given as values that the loss declares differentiable (an optional input left
        // out, or class indices where values are also allowed, have nothing to differentiate).
        report.missingGradients = loss.inputSpecs.filter { spec in
            guard spec.differentiable, analytic[spec.name] == nil, case .values? = inputs[spec.name] else { return false }
            return true
        }.map(\.name)
        for name in inputs.names {
            guard let gradient = analytic[name], case .values(let x)? = inputs[name] else { continue }
            guard gradient.shape == x.shape else {
                throw LossError.shapeMismatch(
                    argument: "gradient of \(name)", expected: describeShape(x.shape), actual: describeShape(gradient.shape))
            }
            var numeric = [Double](repeating: 0, count: x.count)
            var values = x.scalars
            // Central difference D(h) = (F(x + h) - F(x - h)) / 2h for one element.
            func centralDifference(_ k: Int, _ h: Double) throws -> Double {
                let original = values[k]
                var plus = inputs, minus = inputs
                values[k] = original + h
                plus[name] = .values(try Tensor(shape: x.shape, scalars: values))
                values[k] = original - h
                minus[name] = .values(try Tensor(shape: x.shape, scalars: values))
                values[k] = original
                return try objectiveDifference(plus, minus) / (2 * h)
            }
            for k in 0..<values.count {
                let h = step * max(1, abs(values[k]))
                // Richardson extrapolation cancels the h² term: (4 D(h/2) - D(h)) / 3.
                numeric[k] = (4 * (try centralDifference(k, h / 2)) - (try centralDifference(k, h))) / 3
            }
            let floor = max(1e-8, 1e-3 * (numeric.map(abs).max() ?? 0))
            for k in 0..<numeric.count {
                let a = gradient[flat: k], n = numeric[k]
                let error = a == n ? 0 : abs(a - n) / max(abs(a), abs(n), floor)
                report.checked += 1
                if error > report.worstError || error.isNaN {
                    report.worstError = error.isNaN ? .infinity : error
                    report.worstInput = name
                    report.worstIndex = k
                    report.worstAnalytic = a
                    report.worstNumeric = n
                }
            }
        }
        return report
    }
}
