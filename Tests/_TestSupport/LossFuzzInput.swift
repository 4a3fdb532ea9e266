import Loss

/// Turns arbitrary bytes into a loss evaluation: a function from
/// ``LossRegistry/functionNames``, options with fuzzed values (NaN, infinities,
/// wrong types included), constants, and inputs of fuzzed shapes, values and
/// indices, following the loss's ``LossFunction/inputSpecs``.
///
/// Shared by the libFuzzer target `Fuzz/` (via a symlink) and by the test suite,
/// which replays the crashers committed under `Tests/Fixtures/fuzz/loss/`.
public struct LossFuzzInput {
    public var function: String
    public var options: [String: OptionValue]
    public var constants: [String: [Double]]
    public var constantShapes: [String: [Int]]
    /// Per input name: shape, values (for value inputs) or indices.
    public var inputs: [(name: String, shape: [Int], values: [Double], indices: [Int])]
    /// Whether every value and option is finite and on the fuzz grid (exact in Float, |v| <= 8).
    public var onGrid: Bool

    /// The most elements any tensor gets, to keep executions fast.
    public static let maximumElements = 256

    /// Sizes set beside a size 0, as a lying `.npy` header or reference file would claim
    /// them: some within ``maximumEmptyShapeRows`` (evaluated, their rows fast), the rest
    /// beyond it or beyond an `Int` once multiplied (refused with a LossError).
    public static let hugeSizes = [3, 1 << 10, 1 << 16, maximumEmptyShapeRows + 1, 1 << 40, 1 << 62, Int.max]

    /// The element count of `shape`, or nil when it exceeds ``maximumElements`` (or an Int):
    /// such a shape gets no data, and building its tensor throws.
    static func smallCount(_ shape: [Int]) -> Int? {
        if shape.contains(0) { return 0 }
        var n = 1
        for d in shape {
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow, p <= maximumElements else { return nil }
            n = p
        }
        return n
    }

    struct Reader {
        let bytes: [UInt8]
        var i = 0
        mutating func byte() -> UInt8 {
            defer { i += 1 }
            return i < bytes.count ? bytes[i] : 0
        }
        mutating func int(_ range: ClosedRange<Int>) -> Int {
            range.lowerBound + Int(byte()) % (range.upperBound - range.lowerBound + 1)
        }
    }

    static let optionNames = [
        "reduction", "weight", "ignore_index", "label_smoothing", "beta", "delta", "margin", "alpha", "gamma", "eps",
        "log_target", "log_input", "full", "smooth", "dim", "p", "z_loss", "swap", "blank", "zero_infinity",
        "distance_function", "pos_weight",
    ]

    /// A value on a grid exact in Float (k/16 for k in [-128, 127]), or, rarely, a special value.
    static func value(_ r: inout Reader, specials: Bool) -> Double {
        let b = r.byte()
        if specials && b >= 250 {
            return [Double.nan, .infinity, -.infinity, 1e30, -0.0, 1e-30][Int(b - 250)]
        }
        return Double(Int8(bitPattern: b)) / 16
    }

    static func option(_ r: inout Reader, _ name: String) -> OptionValue {
        switch r.byte() % 8 {
        case 0: return .null
        case 1: return .int(r.int(-3...5))
        case 2: return .bool(r.byte() % 2 == 0)
        case 3:
            let strings = ["mean", "sum", "none", "batchmean", "cosine", "pairwise_distance", "bogus", ""]
            return .string(strings[r.int(0...strings.count - 1)])
        default:
            // Names with a restricted range get mostly sensible values.
            let v = value(&r, specials: true)
            return .double(name == "label_smoothing" || name == "alpha" ? abs(v) / 8 : v)
        }
    }

    public init(bytes: [UInt8]) {
        var r = Reader(bytes: bytes)
        let names = LossRegistry.functionNames
        function = names[Int(r.byte()) % names.count]
        options = [:]
        let optionCount = r.int(0...3)
        for _ in 0..<optionCount {
            let name = Self.optionNames[r.int(0...Self.optionNames.count - 1)]
            if name == "weight" || name == "pos_weight" { continue }
            options[name] = Self.option(&r, name)
        }
        // An option off the grid (NaN, ±inf, 1e30, 1e-30...) may overflow or underflow
        // in Float where Double does not.
        let optionsOnGrid = options.values.allSatisfy { v in
            if case .double(let d) = v { return d.isFinite && abs(d) <= 8 && (d * 64).rounded() == d * 64 }
            return true
        }
        // Dimensions shared by the inputs, so that shapes often agree.
        let specials = r.byte() < 32
        let rank = r.int(0...4)
        var dims = (0..<rank).map { _ in r.int(0...5) }
        if r.byte() < 200 { dims = dims.map { max($0, 1) } }  // mostly non-empty
        while dims.reduce(1, *) > Self.maximumElements { dims.removeLast() }
        // Now and then a shape without elements whose other sizes are huge: a size 0 and
        // one of hugeSizes (the same dimensions for every input, so that shapes agree).
        if dims.count >= 2, r.byte() < 40 {
            let zeroAt = r.int(0...dims.count - 1), hugeAt = r.int(0...dims.count - 1)
            dims[zeroAt] = 0
            if hugeAt != zeroAt { dims[hugeAt] = Self.hugeSizes[r.int(0...Self.hugeSizes.count - 1)] }
        }
        constants = [:]
        constantShapes = [:]
        for name in ["weight", "pos_weight"] where r.byte() < 24 {
            let shape = r.byte() % 2 == 0 ? Array(dims.suffix(1)) : dims
            constantShapes[name] = shape
            constants[name] = (0..<(Self.smallCount(shape) ?? 0)).map { _ in abs(Self.value(&r, specials: specials)) }
        }
        inputs = []
        onGrid = !specials && optionsOnGrid
        let specs: [InputSpec]
        if let loss = try? LossRegistry.make(function, options: [:], as: Double.self) { specs = loss.inputSpecs } else { specs = [] }
        for spec in specs {
            var shape = dims
            switch r.byte() % 8 {
            case 0: shape = Array(shape.dropFirst())  // one dimension fewer (class-index targets)
            case 1: shape = Array(shape.dropLast())
            case 2: shape = (0..<r.int(0...3)).map { _ in r.int(0...4) }  // unrelated
            default: break
            }
            if spec.name == "input_lengths" || spec.name == "target_lengths" { shape = Array(dims.dropFirst().prefix(1)) }
            let count = Self.smallCount(shape) ?? 0
            let classes = min(max(dims.count > 1 ? dims[1] : dims.first ?? 1, 1), Self.maximumElements)
            if spec.kind == .indices {
                let indices = (0..<count).map { _ -> Int in
                    let b = r.byte()
                    if b == 255 { return -100 }
                    if b == 254 { return Int.max }
                    return Int(b) % (classes + 3) - 1
                }
                inputs.append((spec.name, shape, [], indices))
            } else {
                let probability = ["binary_cross_entropy", "dice"].contains(function) && spec.name == "input"
                let values = (0..<count).map { _ -> Double in
                    let v = Self.value(&r, specials: specials)
                    return probability ? abs(v) / 8 : v
                }
                inputs.append((spec.name, shape, values, []))
            }
        }
    }

    /// The loss in precision `T`, or the error building it.
    public func make<T: KernelScalar>(_: T.Type) throws -> (any LossFunction<T>, LossInputs<T>) {
        var c: [String: Tensor<T>] = [:]
        for (name, values) in constants { c[name] = try Tensor(shape: constantShapes[name]!, scalars: values.map { T($0) }) }
        let loss = try LossRegistry.make(function, options: options, constants: c, as: T.self)
        var i = LossInputs<T>()
        for input in inputs {
            if input.values.isEmpty && !input.indices.isEmpty || loss.inputSpecs.first(where: { $0.name == input.name })?.kind == .indices {
                i[input.name] = .indices(try Tensor(shape: input.shape, scalars: input.indices))
            } else {
                i[input.name] = .values(try Tensor(shape: input.shape, scalars: input.values.map { T($0) }))
            }
        }
        return (loss, i)
    }

    /// Forward and backward (upstream all ones) in precision `T`: the output
    /// followed by each gradient in name order, or the LossError thrown.
    public func evaluate<T: KernelScalar>(_: T.Type) -> Result<[(String, [Double])], LossError> {
        do {
            let (loss, i) = try make(T.self)
            let y = try loss.forward(i)
            var out = [("output", y.scalars.map { Double($0) })]
            let upstream = try Tensor<T>(shape: y.shape, scalars: Array(repeating: 1, count: y.count))
            let g = try loss.backward(i, upstream: upstream)
            for name in g.keys.sorted() { out.append(("gradient of \(name)", g[name]!.scalars.map { Double($0) })) }
            return .success(out)
        } catch let e as LossError {
            return .failure(e)
        } catch {
            fatalError("\(function): a non-LossError escaped: \(error)")
        }
    }

    /// Functions whose Float result is ill-conditioned on the fuzz grid, where
    /// Float and Double may differ by more than rounding (documented in Guides/Reliability.md).
    static let illConditioned: Set<String> = [
        "mape",  // target near 0
        "multivariate_gaussian_nll",  // near-singular covariances
        "gaussian_nll_loss",  // var near 0 (clamped at eps = 1e-6)
        "cosine_embedding_loss", "triplet_margin_with_distance_loss",  // near-zero vectors
        "ctc_loss",  // log-space sums of tiny probabilities
        "binary_cross_entropy", "dice",  // probabilities at 0 or 1
        "kl_div", "poisson_nll_loss",  // log of targets near 0, exp of large inputs
    ]

    /// Runs Double and Float; returns a description of any disagreement: one
    /// precision throwing and the other not, different error kinds, or, for
    /// finite on-grid inputs of a well-conditioned function whose results are all
    /// finite and below 1e6, numbers that differ by more than
    /// `1e-3 · max(1, max|Double| over the output and every gradient)`. nil when they agree.
    public func floatDoubleMismatch() -> String? {
        let d = evaluate(Double.self), f = evaluate(Float.self)
        switch (d, f) {
        case (.failure(let a), .failure(let b)):
            return LossErrorMatch.kind(a) == LossErrorMatch.kind(b) ? nil : "\(function): Double threw \(a), Float threw \(b)"
        case (.failure(.notPositiveDefinite), .success), (.success, .failure(.notPositiveDefinite)):
            // A nearly singular covariance can factor in one precision and not the other.
            return nil
        case (.failure(let a), .success):
            // Domain checks see the same values: the grid is exact in Float.
            return "\(function): Double threw \(a), Float did not"
        case (.success, .failure(let b)):
            return "\(function): Float threw \(b), Double did not"
        case (.success(let a), .success(let b)):
            guard onGrid, !Self.illConditioned.contains(function) else { return nil }
            // The triplet loss's general p-norm raises differences as small as its eps
            // (1e-6, for equal rows) to the power p: that underflows in Float for p > ~6 and
            // cancels for p < 1, as in PyTorch's float32. p = 1, 2 and inf are exact paths.
            if function == "triplet_margin_loss", let p = options["p"], ![.int(1), .int(2), .double(1), .double(2), .null].contains(p) {
                return nil
            }
            // With p = 1 the distances are sums of |difference + eps|: on the grid, margin +
            // d(a, p) - d(a, n) can be exactly 0 (the eps terms cancel), where the hinge's
            // gradient jumps; Double's rounding puts z at 4e-16, Float's at 0, and one takes the
            // active side, the other the inactive one, as PyTorch's float64 and float32 do.
            // The loss itself is continuous there: it alone is compared.
            var a = a, b = b
            if function == "triplet_margin_loss", let p = options["p"], [.int(1), .double(1)].contains(p) {
                a = Array(a.prefix(1))
                b = Array(b.prefix(1))
            }
            // One scale for the whole evaluation: a gradient can be a difference of terms
            // as large as the largest number computed (the triplet loss with p < 1 gives
            // anchor = -(positive + negative), each about 1.5e6, summing to 0.49), and Float
            // rounds those terms, not the small result.
            let all = a.flatMap(\.1)
            guard all.allSatisfy({ $0.isFinite && abs($0) < 1e6 }) else { return nil }
            let scale = max(1, all.map(abs).max() ?? 0)
            for ((name, x), (_, y)) in zip(a, b) {
                guard x.count == y.count else { return "\(function): \(name) has \(x.count) values in Double, \(y.count) in Float" }
                for (k, (u, v)) in zip(x, y).enumerated() where !(abs(u - v) <= 1e-3 * scale) {
                    return "\(function) \(options): \(name)[\(k)] is \(u) in Double, \(v) in Float"
                }
            }
            return nil
        }
    }
}
