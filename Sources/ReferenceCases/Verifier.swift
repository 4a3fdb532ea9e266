import Loss

/// The precision a reference case is evaluated in.
public enum Precision: String, Sendable, CaseIterable {
    case float
    case double
    /// `Float16`, computed in Float.
    case half
    /// `BFloat16`, computed in Float.
    case bfloat16

    /// The precision a reference file's `dtype` asks for.
    public init(_ dtype: ReferenceTensor.DType) {
        switch dtype {
        case .float16: self = .half
        case .bfloat16: self = .bfloat16
        case .float32, .int64: self = .float
        }
    }

    /// Whether results are stored in 16 bits, where the expected value is first rounded to
    /// the storage type (a value past its largest finite number expects the infinity).
    public var isSixteenBit: Bool { self == .half || self == .bfloat16 }

    /// The comparison rule: `|got - want| <= relative · |want| + absolute · max|want|`
    /// (the max over that tensor's finite values). Float's rule is the one
    /// `make_cases.py` documents; Double's is `losskit verify --precision double`'s,
    /// which adds ``roundoff``'s term.
    public var tolerance: (relative: Double, absolute: Double) {
        switch self {
        case .float: return (1e-4, 1e-5)
        case .double: return (1e-9, 1e-10)
        // make_cases.py's rule for 16-bit files: r and r / 10, r about four units in the last place.
        case .half: return (2e-3, 2e-4)
        case .bfloat16: return (1.6e-2, 1.6e-3)
        }
    }

    /// Double's third term: `roundoff · S` with `S = max(1, max|output|)` for the output
    /// and `S = max|upstream| · max(1, max|output|)` for gradients.
    ///
    /// A float64 reference is computed from terms of order one or more (probabilities,
    /// exps against the row's max, a log-sum-exp and a logit), so it is exact only to
    /// about 1e-16 of those, however small the result. Met in generated hard sets:
    /// softmax's gradient `p (dy - Σ dy·p)` with one `p` near 1 (`--seed 20`,
    /// `hard/softmax/2x1000/dim1`: every entry below 1.3e-9, PyTorch's 1.9e-16 from the
    /// exact value), and cross-entropy of a sample whose target logit leads by 24
    /// (`--seed 39`, `hard/cross_entropy/indices/2x5x3/none/ignore_index`: a loss of
    /// 1.95e-11 where PyTorch's is 1.0e-16, 5e-6 relative, below the exact value, and
    /// LossKit's within 1 ulp). `1e-10 · max|want|` cannot allow those; 1e-13 is about
    /// 450 units in the last place of a term of 1. Float's rule, `make_cases.py`'s, is
    /// unchanged (0).
    public var roundoff: Double {
        switch self {
        case .double: return 1e-13
        case .float, .half, .bfloat16: return 0
        }
    }
}

/// The outcome of one reference case.
public struct CaseResult: Sendable {
    public enum Status: String, Sendable {
        case pass
        case fail
        /// The function or one of its options is not implemented in this release.
        case unsupported
        /// Every mismatch is one that LossKit's documentation states as a deliberate
        /// difference from PyTorch (the message says which); nothing else differs. Or
        /// LossKit throws for an input outside its documented domain that PyTorch
        /// computes with (the rules in DeliberateDifferences.swift).
        case differs
    }

    public var id: String
    public var function: String
    public var status: Status
    /// The largest absolute difference over the output and every gradient (nil
    /// when nothing was compared, infinite when a NaN or infinity did not match).
    public var maxError: Double?
    /// What differed, or why the case is unsupported.
    public var message: String?
}

/// Evaluates reference cases through the public `Loss` API.
public enum Verifier {
    public static func run(_ c: ReferenceCase, precision: Precision) -> CaseResult {
        switch precision {
        case .float: return run(c, as: Float.self, storedAs: Float.self, precision: precision)
        case .double: return run(c, as: Double.self, storedAs: Double.self, precision: precision)
        case .half: return runSixteenBit(c, as: Float16.self, precision: precision)
        case .bfloat16: return runSixteenBit(c, as: BFloat16.self, precision: precision)
        }
    }

    /// A 16-bit case. make_cases.py draws every input of a 16-bit file in that type, but
    /// computes a few in float64 from such draws (log-probabilities: the log-softmax of
    /// 16-bit logits for `nll_loss`, `kl_div` and `ctc_loss`), so their values are not
    /// 16-bit numbers, and the reference answers for those exact values. Such a case is
    /// computed as a 16-bit loss computes (in Float) from the file's values, and every
    /// result is rounded to the 16-bit type before it is compared; every other case runs
    /// on 16-bit tensors.
    static func runSixteenBit<T: KernelScalar>(_ c: ReferenceCase, as _: T.Type, precision: Precision) -> CaseResult {
        let exact = c.inputs.allSatisfy { _, t in
            !t.dtype.isFloatingPoint || t.values.allSatisfy { v in v.isNaN || Double(T(v)) == v }
        }
        return exact ? run(c, as: T.self, storedAs: T.self, precision: precision) : run(c, as: Float.self, storedAs: T.self, precision: precision)
    }

    /// Evaluates in `T`; results are rounded to `S` before they are compared (`S` is `T`
    /// but for a 16-bit case computed in Float, see ``runSixteenBit(_:as:precision:)``).
    static func run<T: KernelScalar, S: KernelScalar>(
        _ c: ReferenceCase, as _: T.Type, storedAs _: S.Type, precision: Precision
    ) -> CaseResult {
        let (relative, absolute) = precision.tolerance
        var result = CaseResult(id: c.id, function: c.function, status: .fail, maxError: nil, message: nil)
        var inputs = LossInputs<T>()
        var constants: [String: Tensor<T>] = [:]
        let loss: any LossFunction<T>
        do {
            for (name, t) in c.inputs where LossRegistry.constantInputNames.contains(name) {
                constants[name] = try t.promotedTensor(T.self)
            }
            loss = try LossRegistry.make(c.function, options: c.options, constants: constants, as: T.self)
            let specs = loss.inputSpecs
            for (name, t) in c.inputs where !LossRegistry.constantInputNames.contains(name) {
                inputs[name] = try lossInput(t, kind: specs.first { $0.name == name }?.kind, as: T.self)
            }
        } catch let error as LossError {
            switch error {
            case .unsupportedFunction, .unsupportedOption: result.status = .unsupported
            default: break
            }
            result.message = "\(error)"
            return result
        } catch {
            result.message = "\(error)"
            return result
        }

        var worst = 0.0
        var problems: [String] = []
        var explained: [String] = []
        do {
            let output = try loss.forward(inputs)
            let outputScale = max(1, maxFinite(c.output.values))
            compare(output.converted(to: S.self), c.output, "output", (relative, absolute, precision.roundoff * outputScale), &worst, &problems)
            if !c.gradients.isEmpty {
                let upstream = try c.upstream.tensor(T.self)
                let gradients = try loss.backward(inputs, upstream: upstream)
                let termScale = outputScale * maxFinite(c.upstream.values)
                let rules = DeliberateDifference.rules(for: c.function)
                for name in c.gradients.keys.sorted() {
                    guard let got = gradients[name] else {
                        problems.append("no gradient for \(name)")
                        continue
                    }
                    var count = 0, why = ""
                    compare(got.converted(to: S.self), c.gradients[name]!, "gradient of \(name)",
                            (relative, absolute, precision.roundoff * termScale), &worst, &problems) { k, g, w in
                        guard let rule = rules.first(where: { $0.explains(c, name, k, g, w) }) else { return false }
                        count += 1
                        why = rule.explanation
                        return true
                    }
                    if count > 0 { explained.append("gradient of \(name): \(count) entries differ by design: \(why)") }
                }
            }
        } catch let error as LossError {
            if let rule = DeliberateRefusal.explaining(c, error) {
                result.status = .differs
                result.message = "refused by design: \(rule.explanation): \(error)"
            } else {
                result.message = "threw: \(error)"
            }
            return result
        } catch {
            result.message = "threw: \(error)"
            return result
        }
        result.maxError = worst
        if !problems.isEmpty {
            result.message = problems.joined(separator: "; ")
        } else if !explained.isEmpty {
            result.status = .differs
            result.message = explained.joined(separator: "; ")
        } else {
            result.status = .pass
        }
        return result
    }

    /// A reference tensor as the input of a loss whose spec is `kind`, converted as
    /// PyTorch promotes types: an int64 tensor where the loss takes values
    /// (``InputSpec/Kind/values``) becomes floating-point; where it takes indices, or
    /// either (``InputSpec/Kind/indicesOrValues``: an integer target is class indices),
    /// it stays integer. An input the loss does not declare (nil) keeps its dtype, so
    /// that the loss reports it by name.
    public static func lossInput<T: KernelScalar>(_ t: ReferenceTensor, kind: InputSpec.Kind?, as _: T.Type = T.self) throws
        -> LossInput<T>
    {
        guard t.dtype == .int64 else { return .values(try t.tensor(T.self)) }
        return kind == .values ? .values(try t.promotedTensor(T.self)) : .indices(try t.indexTensor())
    }

    static func maxFinite(_ values: [Double]) -> Double { values.lazy.filter(\.isFinite).map(abs).max() ?? 0 }

    /// Compares one tensor: `|got - want| <= relative · |want| + absolute · max|want| + floor`
    /// (``Precision/tolerance``, and in Double ``Precision/roundoff``'s term as `floor`);
    /// appends the worst mismatch to `problems`. A mismatch for which
    /// `explained` (flat index, got, want) returns true is a documented deliberate
    /// difference: neither a problem nor counted in `worst`.
    static func compare<T: KernelScalar>(
        _ got: Tensor<T>, _ want: ReferenceTensor, _ what: String,
        _ tolerance: (relative: Double, absolute: Double, floor: Double),
        _ worst: inout Double, _ problems: inout [String],
        explained: (Int, Double, Double) -> Bool = { _, _, _ in false }
    ) {
        guard got.shape == want.shape else {
            problems.append("\(what): shape \(describeShape(got.shape)), expected \(describeShape(want.shape))")
            worst = .infinity
            return
        }
        // In a 16-bit type the expected value is first rounded to that type (a value past its
        // largest finite number expects the infinity), as make_cases.py documents.
        let rounded = isSixteenBit(T.self) ? want.values.map { Double(T($0)) } : want.values
        let scale = maxFinite(rounded)
        let absolute = tolerance.absolute * scale + tolerance.floor
        var failure: (index: Int, got: Double, want: Double, excess: Double)?
        for (k, w) in rounded.enumerated() {
            let g = Double(got[flat: k])
            let diff: Double
            let ok: Bool
            if w.isNaN || g.isNaN {
                ok = w.isNaN && g.isNaN
                diff = ok ? 0 : .infinity
            } else if w.isInfinite || g.isInfinite {
                ok = w == g
                diff = ok ? 0 : .infinity
            } else {
                diff = abs(g - w)
                ok = diff <= tolerance.relative * abs(w) + absolute
            }
            if !ok && explained(k, g, w) { continue }
            worst = max(worst, diff)
            if !ok {
                let excess = diff.isFinite ? diff / (tolerance.relative * abs(w) + absolute + .leastNonzeroMagnitude) : .infinity
                if failure == nil || excess > failure!.excess { failure = (k, g, w, excess) }
            }
        }
        if let f = failure {
            problems.append("\(what)[\(f.index)]: got \(f.got), want \(f.want)")
        }
    }
}
