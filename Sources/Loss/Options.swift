/// An option value as PyTorch spells it in a call (`reduction="sum"`,
/// `ignore_index=-100`, `label_smoothing=0.1`, `log_target=True`, `alpha=None`,
/// `dim=[0, 1]`).
public enum OptionValue: Sendable, Equatable, CustomStringConvertible {
    /// An integer (`ignore_index=-100`).
    case int(Int)
    /// A number (`label_smoothing=0.1`).
    case double(Double)
    /// A Boolean (`log_target=True`).
    case bool(Bool)
    /// A string (`reduction="sum"`).
    case string(String)
    /// Python's `None`: the option's default.
    case null
    /// A list or tuple (`dim=[0, 1]`, `dim=()`).
    case list([OptionValue])

    public var description: String {
        switch self {
        case .int(let v): return String(v)
        case .double(let v): return String(v)
        case .bool(let v): return v ? "True" : "False"
        case .string(let v): return "\"\(v)\""
        case .null: return "None"
        case .list(let items): return "[" + items.map(\.description).joined(separator: ", ") + "]"
        }
    }
}

/// PyTorch-named options and constant tensors (`weight`, `pos_weight`) for
/// building a loss by name. Every option read is marked used; ``finish()``
/// rejects the rest, so an option LossKit does not implement is never ignored silently.
public struct LossOptions<Scalar: KernelScalar>: Sendable {
    /// The function being built, for error messages.
    public let function: String
    private let values: [String: OptionValue]
    private let constants: [String: Tensor<Scalar>]
    private var used: Set<String> = []

    /// The options and constants given for `function`.
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

    /// PyTorch's mapping of the deprecated `size_average=` and `reduce=` (functions
    /// in ``LossRegistry/legacyReductionFunctions`` only): when either is given and not None, it
    /// replaces `reduction` (which is then not read): `none` when `reduce` is false,
    /// else `sum` when `size_average` is false, else `mean` (a None counts as true).
    /// nil when neither is given. Values are read as Python truth values (True,
    /// False, or a number: 0 is false).
    public mutating func legacyReduction() throws -> Reduction? {
        guard LossRegistry.legacyReductionFunctions.contains(function) else { return nil }
        func truth(_ name: String) throws -> Bool? {
            guard let v = take(name) else { return nil }
            switch v {
            case .bool(let b): return b
            case .int(let i): return i != 0
            case .double(let d): return d != 0
            default: throw invalid(name, v, "True, False or None")
            }
        }
        let sizeAverage = try truth("size_average"), reduce = try truth("reduce")
        guard sizeAverage != nil || reduce != nil else { return nil }
        used.insert("reduction")
        if reduce == false { return Reduction.none }
        return sizeAverage == false ? .sum : .mean
    }

    /// `reduction`, or the reduction the legacy `size_average=`/`reduce=` map to (``legacyReduction()``).
    public mutating func reduction(default value: Reduction = .mean) throws -> Reduction {
        if let legacy = try legacyReduction() { return legacy }
        guard let v = take("reduction") else { return value }
        guard case .string(let s) = v, let r = Reduction(rawValue: s) else {
            throw invalid("reduction", v, "\"none\", \"mean\" or \"sum\"")
        }
        return r
    }

    /// The string option `name`, or `value` when absent or `None`.
    /// - Throws: ``/Kernels/LossError/invalidOption(name:value:expected:)`` for a value of another type.
    public mutating func string(_ name: String, default value: String? = nil) throws -> String? {
        guard let v = take(name) else { return value }
        guard case .string(let s) = v else { throw invalid(name, v, "a string") }
        return s
    }

    /// The integer option `name` (a number with no fractional part is accepted), or `value` when absent or
    /// `None`.
    /// - Throws: ``/Kernels/LossError/invalidOption(name:value:expected:)`` for anything else.
    public mutating func int(_ name: String, default value: Int) throws -> Int {
        guard let v = take(name) else { return value }
        switch v {
        case .int(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 1e15: return Int(d)
        default: throw invalid(name, v, "an integer")
        }
    }

    /// An integer, or nil when absent or `None`.
    public mutating func optionalInt(_ name: String) throws -> Int? {
        guard values[name].map({ $0 != .null }) ?? false else {
            used.insert(name)
            return nil
        }
        return try int(name, default: 0)
    }

    /// The numeric option `name`, or `value` when absent or `None`.
    /// - Throws: ``/Kernels/LossError/invalidOption(name:value:expected:)`` for a value that is not a number.
    public mutating func double(_ name: String, default value: Double) throws -> Double {
        try optionalDouble(name) ?? value
    }

    /// A number, or nil when absent or `None`.
    /// - Throws: ``/Kernels/LossError/invalidOption(name:value:expected:)`` for a value that is not a
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

    /// Dimensions: an integer, or a list of integers (`dim=[0, 1]`, `dim=[]`); nil when absent or None.
    public mutating func dims(_ name: String) throws -> [Int]? {
        guard let v = take(name) else { return nil }
        func integer(_ v: OptionValue) -> Int? {
            switch v {
            case .int(let i): return i
            case .double(let d) where d.rounded() == d && abs(d) < 1e15: return Int(d)
            default: return nil
            }
        }
        if let i = integer(v) { return [i] }
        if case .list(let items) = v {
            let ints = items.compactMap(integer)
            if ints.count == items.count { return ints }
        }
        throw invalid(name, v, "an integer or a list of integers")
    }

    /// A floating-point `dtype=` as PyTorch names it (`torch.float64`); nil when absent or None.
    public mutating func dtype(_ name: String = "dtype") throws -> DType? {
        guard let v = take(name) else { return nil }
        guard case .string(let s) = v, let t = DType(pytorchName: s) else {
            throw invalid(name, v, "torch.float32 or torch.float64")
        }
        return t
    }

    /// The Boolean option `name`, or `value` when absent or `None`.
    /// - Throws: ``/Kernels/LossError/invalidOption(name:value:expected:)`` for a value that is not `True` or
    /// `False`.
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

    /// Throws ``/Kernels/LossError/unsupportedOption(function:option:)`` for any option or constant not read.
    public func finish() throws {
        for name in values.keys.sorted() where !used.contains(name) {
            throw LossError.unsupportedOption(function: function, option: name)
        }
        for name in constants.keys.sorted() where !used.contains(name) {
            throw LossError.unsupportedOption(function: function, option: name)
        }
    }
}
