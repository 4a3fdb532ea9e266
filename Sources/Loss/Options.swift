/// An option value as PyTorch spells it in a call (`reduction="sum"`,
/// `ignore_index=-100`, `label_smoothing=0.1`, `log_target=True`, `alpha=None`).
public enum OptionValue: Sendable, Equatable, CustomStringConvertible {
    case int(Int)
    case double(Double)
    case bool(Bool)
    case string(String)
    case null

    public var description: String {
        switch self {
        case .int(let v): return String(v)
        case .double(let v): return String(v)
        case .bool(let v): return v ? "True" : "False"
        case .string(let v): return "\"\(v)\""
        case .null: return "None"
        }
    }
}

/// PyTorch-named options and constant tensors (`weight`, `pos_weight`) for
/// building a loss by name. Every option read is marked used; ``finish()``
/// rejects the rest, so an option LossKit does not implement is never ignored silently.
public struct LossOptions<Scalar: KernelScalar>: Sendable {
    public let function: String
    private let values: [String: OptionValue]
    private let constants: [String: Tensor<Scalar>]
    private var used: Set<String> = []

    public init(function: String, options: [String: OptionValue], constants: [String: Tensor<Scalar>] = [:]) {
        self.function = function
        self.values = options
        self.constants = constants
    }

    private mutating func take(_ name: String) -> OptionValue? {
        used.insert(name)
        if let v = values[name], v != .null { return v }
        return nil
    }

    private func invalid(_ name: String, _ value: OptionValue, _ expected: String) -> LossError {
        .invalidOption(name: name, value: value.description, expected: expected)
    }

    public mutating func reduction(default value: Reduction = .mean) throws -> Reduction {
        guard let v = take("reduction") else { return value }
        guard case .string(let s) = v, let r = Reduction(rawValue: s) else {
            throw invalid("reduction", v, "\"none\", \"mean\" or \"sum\"")
        }
        return r
    }

    public mutating func string(_ name: String, default value: String? = nil) throws -> String? {
        guard let v = take(name) else { return value }
        guard case .string(let s) = v else { throw invalid(name, v, "a string") }
        return s
    }

    public mutating func int(_ name: String, default value: Int) throws -> Int {
        guard let v = take(name) else { return value }
        switch v {
        case .int(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 1e15: return Int(d)
        default: throw invalid(name, v, "an integer")
        }
    }

    public mutating func double(_ name: String, default value: Double) throws -> Double {
        try optionalDouble(name) ?? value
    }

    /// A number, or nil when absent or `None`.
    /// - Throws: ``LossError/invalidOption(name:value:expected:)`` for a value that is not a
    ///   number, or a finite one that `Scalar` cannot hold: one that rounds to 0 or to an
    ///   infinity (`delta=1e-320` in Float is a tiny delta, not the invalid 0 it rounds to).
    public mutating func optionalDouble(_ name: String) throws -> Double? {
        guard let v = take(name) else { return nil }
        let d: Double
        switch v {
        case .int(let i): d = Double(i)
        case .double(let x): d = x
        default: throw invalid(name, v, "a number")
        }
        let rounded = Scalar(d)
        if d.isFinite, !rounded.isFinite || (rounded == 0 && d != 0) {
            throw invalid(name, v, "a number \(Scalar.self) can hold (this one rounds to \(rounded))")
        }
        return d
    }

    public mutating func bool(_ name: String, default value: Bool) throws -> Bool {
        guard let v = take(name) else { return value }
        guard case .bool(let b) = v else { throw invalid(name, v, "True or False") }
        return b
    }

    /// A constant tensor input such as `weight` or `pos_weight`, or nil.
    public mutating func constant(_ name: String) -> Tensor<Scalar>? {
        used.insert(name)
        return constants[name]
    }

    /// Throws ``LossError/unsupportedOption(function:option:)`` for any option or constant not read.
    public func finish() throws {
        for name in values.keys.sorted() where !used.contains(name) {
            throw LossError.unsupportedOption(function: function, option: name)
        }
        for name in constants.keys.sorted() where !used.contains(name) {
            throw LossError.unsupportedOption(function: function, option: name)
        }
    }
}
