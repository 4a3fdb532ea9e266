/// Describes one input of a loss, named as PyTorch's functional API names it
/// (`input`, `target`, `log_probs`, `input1`, ...).
public struct InputSpec: Sendable, Equatable {
    /// What an input holds.
    public enum Kind: Sendable, Equatable {
        /// Floating-point values.
        case values
        /// Integer indices (class indices, lengths).
        case indices
        /// Either: class indices, or class probabilities of the input's shape (cross-entropy's `target`).
        case indicesOrValues
    }

    /// The input's name in PyTorch (and in ``LossInputs``).
    public let name: String
    /// What the input holds: values, indices, or either.
    public let kind: Kind
    /// Whether ``LossFunction/backward(_:upstream:)`` returns a gradient for it
    /// (for ``Kind/indicesOrValues``: when it holds values).
    public let differentiable: Bool
    /// Whether the loss can be evaluated without it (a linear head's bias, say).
    public let isOptional: Bool

    /// An input named `name` (PyTorch's name); an index input is never differentiable.
    public init(_ name: String, kind: Kind = .values, differentiable: Bool = true, isOptional: Bool = false) {
        self.name = name
        self.kind = kind
        self.differentiable = kind != .indices && differentiable
        self.isOptional = isOptional
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
    /// A floating-point tensor.
    case values(Tensor<Scalar>)
    /// An integer tensor: class indices or lengths.
    case indices(Tensor<Int>)

    /// The shape of the tensor it holds.
    public var shape: [Int] {
        switch self {
        case .values(let t): return t.shape
        case .indices(let t): return t.shape
        }
    }
}

/// The named inputs of one loss evaluation, in positional order: what
/// ``LossFunction/forward(_:)`` and ``LossFunction/backward(_:upstream:)`` take.
///
/// Names are PyTorch's (``InputSpec/name``). A loss rejects a name it does not
/// declare with ``/Kernels/LossError/unknownInput(name:expected:)``, so a misspelled
/// `"wieght"` is an error, never an input silently left out.
public struct LossInputs<Scalar>: Sendable {
    /// The names present, in the order they were first set.
    public private(set) var names: [String] = []
    private var table: [String: LossInput<Scalar>] = [:]

    /// No inputs.
    public init() {}

    /// The inputs given as name and value pairs, in order: `["input": .values(x), "target": .indices(t)]`.
    public init(_ pairs: KeyValuePairs<String, LossInput<Scalar>>) {
        for (name, value) in pairs { self[name] = value }
    }

    /// The input named `name`, or nil; setting nil removes it.
    public subscript(name: String) -> LossInput<Scalar>? {
        get { table[name] }
        set {
            if table[name] == nil, newValue != nil { names.append(name) }
            if newValue == nil { names.removeAll { $0 == name } }
            table[name] = newValue
        }
    }

    /// The floating-point input `name`.
    /// - Throws: ``/Kernels/LossError/missingInput(name:expected:)`` when it is absent or holds indices.
    public func values(_ name: String) throws -> Tensor<Scalar> {
        guard case .values(let t)? = table[name] else {
            throw LossError.missingInput(name: name, expected: "a floating-point tensor")
        }
        return t
    }

    /// The integer input `name`.
    /// - Throws: ``/Kernels/LossError/missingInput(name:expected:)`` when it is absent or holds values.
    public func indices(_ name: String) throws -> Tensor<Int> {
        guard case .indices(let t)? = table[name] else {
            throw LossError.missingInput(name: name, expected: "an integer (index) tensor")
        }
        return t
    }

    /// The floating-point input `name`, or nil when it is absent.
    /// - Throws: ``/Kernels/LossError/missingInput(name:expected:)`` when it holds indices.
    public func optionalValues(_ name: String) throws -> Tensor<Scalar>? {
        switch table[name] {
        case nil: return nil
        case .values(let t)?: return t
        case .indices?: throw LossError.missingInput(name: name, expected: "a floating-point tensor")
        }
    }
}

/// A loss (or any differentiable function of named tensors) with a forward pass
/// and a hand-written backward pass.
///
/// Every loss LossKit ships is also callable with its tensors directly, in
/// PyTorch's positional order (`try MSELoss<Float>()(input, target)`), and has
/// `valueWithGradient` with the same arguments; this protocol is the named,
/// untyped form that ``LossRegistry``, `losskit verify` and ``GradientCheck`` use.
///
/// Conform to it to write your own loss: ``GradientCheck`` then checks your
/// backward pass against finite differences, exactly as it checks LossKit's own
/// losses. Call ``validate(_:)`` first in `forward` and `backward`, so that a
/// misspelled or missing input is an error.
// Every loss's `forward` and `backward` (and the fused passes they share) carry
// `@_specialize` for Float and Double. An application calls them from another module,
// where nothing of LossKit's generic code is specialized for its types: without the
// attribute every element goes through value witnesses and generic metadata (4194304
// elements of smooth L1, forward and backward: 2.2 s, against 13 ms specialized). A new
// loss adds the two attributes to each of its passes; a default pass in a protocol
// extension lists the conforming types (`where Self == ...`).
public protocol LossFunction<Scalar>: Sendable {
    /// The floating-point type the loss computes in: `Float` or `Double`.
    associatedtype Scalar: KernelScalar

    /// The inputs in positional order, named as in PyTorch.
    var inputSpecs: [InputSpec] { get }

    /// The value of the loss: a 0-d tensor for `mean`/`sum`, or per-element values for `none`.
    func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar>

    /// The gradient of `sum(forward(inputs) * upstream)` with respect to every
    /// differentiable input, keyed by input name. `upstream` has the output's shape.
    func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>]

    /// This loss with the same options in the scalar type `U`, or nil when it has none.
    ///
    /// LossKit's losses compute a `Float16` or `BFloat16` loss through their `Float` form
    /// and round the results once. The default is nil: a loss of your own computes in its
    /// own `Scalar`.
    func rebound<U: KernelScalar>(to: U.Type) -> (any LossFunction<U>)?
}

extension LossFunction {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? { nil }

    /// The names of the inputs that have gradients.
    public var differentiableInputs: [String] { inputSpecs.filter(\.differentiable).map(\.name) }

    /// Checks that every input the loss needs is present with the right kind and
    /// that `inputs` holds no name the loss does not declare.
    /// - Throws: ``/Kernels/LossError/missingInput(name:expected:)`` or ``/Kernels/LossError/unknownInput(name:expected:)``.
    public func validate(_ inputs: LossInputs<Scalar>) throws {
        let specs = inputSpecs
        for name in inputs.names where !specs.contains(where: { $0.name == name }) {
            throw LossError.unknownInput(name: name, expected: specs.map(\.name))
        }
        for spec in specs {
            switch (spec.kind, inputs[spec.name]) {
            case (.values, .values?), (.indices, .indices?), (.indicesOrValues, _?): continue
            case (_, nil) where spec.isOptional: continue
            case (.values, _): throw LossError.missingInput(name: spec.name, expected: "a floating-point tensor")
            case (.indices, _): throw LossError.missingInput(name: spec.name, expected: "an integer (index) tensor")
            case (.indicesOrValues, nil):
                throw LossError.missingInput(name: spec.name, expected: "class indices or class probabilities")
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
