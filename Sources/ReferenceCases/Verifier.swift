import Loss

/// The precision a reference case is evaluated in.
public enum Precision: String, Sendable, CaseIterable {
    case float
    case double

    /// The comparison rule: `|got - want| <= relative · |want| + absolute · max|want|`
    /// (the max over that tensor's finite values). Float's rule is the one
    /// `make_cases.py` documents; Double's is `losskit verify --precision double`'s.
    public var tolerance: (relative: Double, absolute: Double) {
        switch self {
        case .float: return (1e-4, 1e-5)
        case .double: return (1e-9, 1e-10)
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
        case .float: return run(c, as: Float.self, tolerance: precision.tolerance)
        case .double: return run(c, as: Double.self, tolerance: precision.tolerance)
        }
    }

    static func run<T: KernelScalar>(
        _ c: ReferenceCase, as _: T.Type, tolerance: (relative: Double, absolute: Double)
    ) -> CaseResult {
        var result = CaseResult(id: c.id, function: c.function, status: .fail, maxError: nil, message: nil)
        var inputs = LossInputs<T>()
        var constants: [String: Tensor<T>] = [:]
        let loss: any LossFunction<T>
        do {
            for (name, t) in c.inputs {
                if LossRegistry.constantInputNames.contains(name) {
                    constants[name] = try t.tensor(T.self)
                } else if t.dtype == .int64 {
                    inputs[name] = .indices(try t.indexTensor())
                } else {
                    inputs[name] = .values(try t.tensor(T.self))
                }
            }
            loss = try LossRegistry.make(c.function, options: c.options, constants: constants, as: T.self)
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
        do {
            let output = try loss.forward(inputs)
            compare(output, c.output, "output", tolerance, &worst, &problems)
            if !c.gradients.isEmpty {
                let upstream = try c.upstream.tensor(T.self)
                let gradients = try loss.backward(inputs, upstream: upstream)
                for name in c.gradients.keys.sorted() {
                    guard let got = gradients[name] else {
                        problems.append("no gradient for \(name)")
                        continue
                    }
                    compare(got, c.gradients[name]!, "gradient of \(name)", tolerance, &worst, &problems)
                }
            }
        } catch {
            result.message = "threw: \(error)"
            return result
        }
        result.maxError = worst
        if problems.isEmpty {
            result.status = .pass
        } else {
            result.message = problems.joined(separator: "; ")
        }
        return result
    }

    /// Compares one tensor with the rule of ``Precision/tolerance``; appends the worst mismatch to `problems`.
    static func compare<T: KernelScalar>(
        _ got: Tensor<T>, _ want: ReferenceTensor, _ what: String, _ tolerance: (relative: Double, absolute: Double),
        _ worst: inout Double, _ problems: inout [String]
    ) {
        guard got.shape == want.shape else {
            problems.append("\(what): shape \(describeShape(got.shape)), expected \(describeShape(want.shape))")
            worst = .infinity
            return
        }
        let scale = want.values.lazy.filter(\.isFinite).map(abs).max() ?? 0
        var failure: (index: Int, got: Double, want: Double, excess: Double)?
        for (k, w) in want.values.enumerated() {
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
                ok = diff <= tolerance.relative * abs(w) + tolerance.absolute * scale
            }
            worst = max(worst, diff)
            if !ok {
                let excess = diff.isFinite ? diff / (tolerance.relative * abs(w) + tolerance.absolute * scale + .leastNonzeroMagnitude) : .infinity
                if failure == nil || excess > failure!.excess { failure = (k, g, w, excess) }
            }
        }
        if let f = failure {
            problems.append("\(what)[\(f.index)]: got \(f.got), want \(f.want)")
        }
    }
}
