/// Describes one positional input of a loss, named as PyTorch's functional API
/// names it (`input`, `target`, `log_probs`, `input1`, ...).
public struct InputSpec: Sendable, Equatable {
    /// Whether the input holds floating-point values or integer indices.
    public enum Kind: Sendable, Equatable {
        case values
        case indices
    }

    public let name: String
    public let kind: Kind
    /// Whether ``LossFunction/backward(_:upstream:)`` returns a gradient for it.
    public let differentiable: Bool

    public init(_ name: String, kind: Kind = .values, differentiable: Bool = true) {
        self.name = name
        self.kind = kind
        self.differentiable = kind == .values && differentiable
    }

    /// A floating-point input with a gradient.
    public static func values(_ name: String) -> InputSpec { InputSpec(name) }
    /// A floating-point input without a gradient (PyTorch does not differentiate it).
    public static func constant(_ name: String) -> InputSpec { InputSpec(name, differentiable: false) }
    /// An integer input (class indices, lengths).
    public static func indices(_ name: String) -> InputSpec { InputSpec(name, kind: .indices) }
}

/// One input value: floating-point values or integer indices.
public enum LossInput<Scalar>: Sendable {
    case values(Tensor<Scalar>)
    case indices(Tensor<Int>)

    public var shape: [Int] {
        switch self {
        case .values(let t): return t.shape
        case .indices(let t): return t.shape
        }
    }
}

/// The named inputs of one loss evaluation, in positional order.
public struct LossInputs<Scalar>: Sendable {
    public private(set) var names: [String] = []
    private var table: [String: LossInput<Scalar>] = [:]

    public init() {}

    public init(_ pairs: KeyValuePairs<String, LossInput<Scalar>>) {
        for (name, value) in pairs { self[name] = value }
    }

    public subscript(name: String) -> LossInput<Scalar>? {
        get { table[name] }
        set {
            if table[name] == nil, newValue != nil { names.append(name) }
            if newValue == nil { names.removeAll { $0 == name } }
            table[name] = newValue
        }
    }

    /// The floating-point input `name`.
    /// - Throws: ``LossError/missingInput(name:expected:)`` when it is absent or holds indices.
    public func values(_ name: String) throws -> Tensor<Scalar> {
        guard case .values(let t)? = table[name] else {
            throw LossError.missingInput(name: name, expected: "a floating-point tensor")
        }
        return t
    }

    /// The integer input `name`.
    public func indices(_ name: String) throws -> Tensor<Int> {
        guard case .indices(let t)? = table[name] else {
            throw LossError.missingInput(name: name, expected: "an integer (index) tensor")
        }
        return t
    }
}

/// A loss (or any differentiable function of named tensors) with a forward pass
/// and a hand-written backward pass.
///
/// Conform to this protocol to write your own loss: LossKit's ``GradientCheck``
/// then checks your backward pass against finite differences, exactly as it
/// checks LossKit's own losses. See `Guides/CustomLoss.md`.
public protocol LossFunction<Scalar>: Sendable {
    associatedtype Scalar: KernelScalar

    /// The inputs in positional order, named as in PyTorch.
    var inputSpecs: [InputSpec] { get }

    /// The value of the loss: a 0-d tensor for `mean`/`sum`, or per-element values for `none`.
    func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar>

    /// The gradient of `sum(forward(inputs) * upstream)` with respect to every
    /// differentiable input, keyed by input name. `upstream` has the output's shape.
    func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>]
}

extension LossFunction {
    /// The names of the inputs that have gradients.
    public var differentiableInputs: [String] { inputSpecs.filter(\.differentiable).map(\.name) }

    /// Checks that every input the loss declares is present with the right kind.
    public func validate(_ inputs: LossInputs<Scalar>) throws {
        for spec in inputSpecs {
            switch (spec.kind, inputs[spec.name]) {
            case (.values, .values?), (.indices, .indices?): continue
            case (.values, _): throw LossError.missingInput(name: spec.name, expected: "a floating-point tensor")
            case (.indices, _): throw LossError.missingInput(name: spec.name, expected: "an integer (index) tensor")
            }
        }
    }
}

/// Checks that `upstream` has the shape of the output.
func checkUpstream<T>(_ upstream: Tensor<T>, _ outputShape: [Int]) throws {
    guard upstream.shape == outputShape else {
        throw LossError.shapeMismatch(
            argument: "upstream", expected: describeShape(outputShape), actual: describeShape(upstream.shape))
    }
}

/// Checks that two inputs have the same shape (LossKit does not broadcast them; see the README).
func checkSameShape<A, B>(_ a: Tensor<A>, _ aName: String, _ b: Tensor<B>, _ bName: String) throws {
    guard a.shape == b.shape else {
        throw LossError.shapeMismatch(
            argument: bName, expected: "\(describeShape(a.shape)) (the shape of \(aName))", actual: describeShape(b.shape))
    }
}
