/// The name of one of a loss's inputs, for ``ValueWithGradient/gradient(of:)``.
///
/// `name` is PyTorch's (the key in ``LossInputs``, `"var"`); `label` is the Swift
/// argument label of the typed call (`variance`). The inputs of LossKit's own
/// losses are the static members; a loss of your own names its inputs with
/// ``init(_:label:)``.
public struct InputName: Hashable, Sendable, CustomStringConvertible {
    /// PyTorch's name of the input.
    public let name: String
    /// The Swift argument label (the first two tensors of a call are unlabelled,
    /// but still have one for gradients and error messages).
    public let label: String

    /// An input named `name` in PyTorch; `label` defaults to `name` in lower camel case.
    public init(_ name: String, label: String? = nil) {
        self.name = name
        self.label = label ?? swiftName(name)
    }

    public var description: String { label }

    /// `input`: the predictions, logits or scores.
    public static let input = InputName("input")
    /// `target`.
    public static let target = InputName("target")
    /// `input1`, the first of two inputs.
    public static let input1 = InputName("input1")
    /// `input2`, the second of two inputs.
    public static let input2 = InputName("input2")
    /// `gaussian_nll_loss`'s `var`.
    public static let variance = InputName("var", label: "variance")
    /// `multivariate_gaussian_nll`'s `covariance`.
    public static let covariance = InputName("covariance")
    /// The triplet losses' `anchor`.
    public static let anchor = InputName("anchor")
    /// The triplet losses' `positive`.
    public static let positive = InputName("positive")
    /// The triplet losses' `negative`.
    public static let negative = InputName("negative")
    /// `ctc_loss`'s `log_probs`.
    public static let logProbs = InputName("log_probs")
    /// `ctc_loss`'s `targets`.
    public static let targets = InputName("targets")
    /// `ctc_loss`'s `input_lengths`.
    public static let inputLengths = InputName("input_lengths")
    /// `ctc_loss`'s `target_lengths`.
    public static let targetLengths = InputName("target_lengths")
    /// `linear_cross_entropy`'s `linear_weight`, the `(V, D)` output layer.
    public static let linearWeight = InputName("linear_weight")
    /// `linear_cross_entropy`'s optional `linear_bias`.
    public static let linearBias = InputName("linear_bias")

    static let known: [String: InputName] = Dictionary(
        uniqueKeysWithValues: [
            input, target, input1, input2, variance, covariance, anchor, positive, negative, logProbs, targets,
            inputLengths, targetLengths, linearWeight, linearBias,
        ].map { ($0.name, $0) })

    /// The name for PyTorch's `name`: a static member's when there is one.
    static func named(_ name: String) -> InputName { known[name] ?? InputName(name) }
}

/// A loss's value together with its gradients, from one call of a typed
/// `valueWithGradient`.
///
/// The gradients are those of `sum(value)`: for `mean` and `sum` the gradient of
/// the scalar loss, for `none` the gradient of the sum of the per-element losses
/// (an upstream gradient of ones). For another upstream gradient, call
/// ``LossFunction/backward(_:upstream:)``.
public struct ValueWithGradient<Scalar>: Sendable {
    /// The loss: 0-d for `mean` and `sum`, per element (or per sample) for `none`.
    public let value: Tensor<Scalar>
    /// The gradient with respect to the first differentiable input (the
    /// predictions: `input`, `input1`, `anchor`, `log_probs`).
    public let gradient: Tensor<Scalar>
    /// Every gradient, by input.
    public let gradients: [InputName: Tensor<Scalar>]
    private let inputs: [InputName]
    private let first: InputName

    init(value: Tensor<Scalar>, gradients: [InputName: Tensor<Scalar>], inputs: [InputName], first: InputName) {
        self.value = value
        self.gradients = gradients
        self.inputs = inputs
        self.first = first
        self.gradient = gradients[first]!
    }

    /// The value and every gradient converted to `U` (a 16-bit loss's, from its Float form).
    func converted<U: KernelScalar>(to _: U.Type) -> ValueWithGradient<U> where Scalar: KernelScalar {
        ValueWithGradient<U>(
            value: value.converted(to: U.self), gradients: gradients.mapValues { $0.converted(to: U.self) }, inputs: inputs,
            first: first)
    }

    /// The gradient with respect to `input`.
    /// - Throws: ``/Kernels/LossError/unknownInput(name:expected:)`` when the loss has no
    ///   such input, ``/Kernels/LossError/noGradient(input:)`` when it does not
    ///   differentiate it (class indices, or a target PyTorch treats as constant).
    public func gradient(of input: InputName) throws -> Tensor<Scalar> {
        if let g = gradients[input] ?? gradients.first(where: { $0.key.name == input.name })?.value { return g }
        guard inputs.contains(where: { $0.name == input.name }) else {
            throw LossError.unknownInput(name: input.label, expected: inputs.map(\.label))
        }
        throw LossError.noGradient(input: input.label)
    }
}

/// PyTorch's `snake_case` name in Swift's lower camel case (`label_smoothing` →
/// `labelSmoothing`); the few options whose Swift name is another word are listed.
func swiftName(_ name: String) -> String {
    switch name {
    case "var": return "variance"
    case "pos_weight": return "positiveWeight"
    default: break
    }
    guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }), name.contains("_") else {
        return name
    }
    let parts = name.split(separator: "_")
    guard let first = parts.first else { return name }
    return String(first) + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
}

extension LossFunction {
    /// Runs `body`, reporting LossKit's errors with Swift's names for the inputs and options.
    func inSwiftTerms<R>(_ body: () throws -> R) throws -> R {
        do {
            return try body()
        } catch let error as LossError {
            throw error.renamingArguments { InputName.known[$0]?.label ?? swiftName($0) }
        }
    }

    /// The inputs in ``inputSpecs`` order, from tensors given in that order (nil: an optional input left out).
    func boundInputs(_ tensors: [LossInput<Scalar>?]) -> LossInputs<Scalar> {
        var inputs = LossInputs<Scalar>()
        for (spec, tensor) in zip(inputSpecs, tensors) {
            if let tensor { inputs[spec.name] = tensor }
        }
        return inputs
    }

    /// The typed call: the loss of `tensors`, given in ``inputSpecs`` order.
    func typedValue(_ tensors: [LossInput<Scalar>?]) throws -> Tensor<Scalar> {
        try inSwiftTerms { try forward(boundInputs(tensors)) }
    }

    /// The typed `valueWithGradient`: forward, then backward with an upstream gradient of ones.
    func typedValueWithGradient(_ tensors: [LossInput<Scalar>?]) throws -> ValueWithGradient<Scalar> {
        try inSwiftTerms {
            let inputs = boundInputs(tensors)
            let value = try forward(inputs)
            let ones = Tensor<Scalar>(uncheckedShape: value.shape, scalars: Array(repeating: 1, count: value.count))
            return try collect(value: value, gradients: backward(inputs, upstream: ones))
        }
    }

    /// Wraps a value and the gradients `backward` returned by name.
    func collect(value: Tensor<Scalar>, gradients: [String: Tensor<Scalar>]) throws
        -> ValueWithGradient<Scalar>
    {
        let names = inputSpecs.map { InputName.named($0.name) }
        var typed: [InputName: Tensor<Scalar>] = [:]
        for (name, g) in gradients { typed[InputName.named(name)] = g }
        guard let first = inputSpecs.first(where: { $0.differentiable && gradients[$0.name] != nil }) else {
            throw LossError.noGradient(input: names.first?.name ?? "input")
        }
        return ValueWithGradient(value: value, gradients: typed, inputs: names, first: InputName.named(first.name))
    }
}

/// A loss of two floating-point tensors, `input` (predictions) and `target`, of
/// the same shape: MSE, L1, Huber, BCE, KL divergence, Dice, ...
///
/// Conforming types get the typed call and `valueWithGradient`:
///
/// ```swift
/// let mse = MSELoss<Float>()
/// let loss = try mse(input, target)
/// let result = try mse.valueWithGradient(input, target)  // result.value, result.gradient
/// ```
public protocol InputTargetLoss<Scalar>: LossFunction {}

extension InputTargetLoss {
    /// The loss of `input` against `target`.
    public func callAsFunction(_ input: Tensor<Scalar>, _ target: Tensor<Scalar>) throws -> Tensor<Scalar> {
        try typedValue([.values(input), .values(target)])
    }

    /// The loss of `input` against `target` and its gradients (``ValueWithGradient/gradient``
    /// is the input's; the target's, where PyTorch differentiates it, is
    /// `gradient(of: .target)`).
    public func valueWithGradient(_ input: Tensor<Scalar>, _ target: Tensor<Scalar>) throws -> ValueWithGradient<Scalar> {
        try typedValueWithGradient([.values(input), .values(target)])
    }
}

/// A loss of floating-point scores `input` against integer class indices
/// `target`: cross-entropy, NLL, multi-margin, ...
///
/// ```swift
/// let ce = CrossEntropyLoss<Float>()
/// let loss = try ce(logits, classes)  // classes: Tensor<Int>
/// ```
public protocol ClassTargetLoss<Scalar>: LossFunction {}

extension ClassTargetLoss {
    /// The loss of `input` against the class indices `target`.
    public func callAsFunction(_ input: Tensor<Scalar>, _ target: Tensor<Int>) throws -> Tensor<Scalar> {
        try typedValue([.values(input), .indices(target)])
    }

    /// The loss of `input` against the class indices `target`, and its gradient with respect to `input`.
    public func valueWithGradient(_ input: Tensor<Scalar>, _ target: Tensor<Int>) throws -> ValueWithGradient<Scalar> {
        try typedValueWithGradient([.values(input), .indices(target)])
    }
}

/// A loss of two floating-point tensors, `input1` and `input2`, against a `target` of
/// labels: margin ranking, cosine embedding.
///
/// ```swift
/// let loss = try MarginRankingLoss<Float>(margin: 0.1)(scores1, scores2, target: labels)
/// ```
public protocol PairTargetLoss<Scalar>: LossFunction {}

extension PairTargetLoss {
    /// The loss of `input1` and `input2` against the labels `target`.
    public func callAsFunction(_ input1: Tensor<Scalar>, _ input2: Tensor<Scalar>, target: Tensor<Scalar>) throws
        -> Tensor<Scalar>
    {
        try typedValue([.values(input1), .values(input2), .values(target)])
    }

    /// The loss and its gradients: ``ValueWithGradient/gradient`` is `input1`'s, `gradient(of: .input2)` is `input2`'s.
    public func valueWithGradient(_ input1: Tensor<Scalar>, _ input2: Tensor<Scalar>, target: Tensor<Scalar>) throws
        -> ValueWithGradient<Scalar>
    {
        try typedValueWithGradient([.values(input1), .values(input2), .values(target)])
    }
}

/// A loss of triplets of embeddings: an `anchor`, a `positive` and a `negative`.
///
/// ```swift
/// let loss = try TripletMarginLoss<Float>(margin: 1)(anchor, positive, negative: negative)
/// ```
public protocol TripletLoss<Scalar>: LossFunction {}

extension TripletLoss {
    /// The loss of one batch of triplets.
    public func callAsFunction(_ anchor: Tensor<Scalar>, _ positive: Tensor<Scalar>, negative: Tensor<Scalar>) throws
        -> Tensor<Scalar>
    {
        try typedValue([.values(anchor), .values(positive), .values(negative)])
    }

    /// The loss and its gradients: ``ValueWithGradient/gradient`` is the anchor's;
    /// `gradient(of: .positive)` and `gradient(of: .negative)` are the others.
    public func valueWithGradient(_ anchor: Tensor<Scalar>, _ positive: Tensor<Scalar>, negative: Tensor<Scalar>) throws
        -> ValueWithGradient<Scalar>
    {
        try typedValueWithGradient([.values(anchor), .values(positive), .values(negative)])
    }
}
