import Foundation
import Loss

/// A registry loss set up for training: which targets it takes and what output
/// head the network needs in front of it.
///
/// The loss itself — forward and backward — is always LossKit's, built by name
/// through `LossRegistry`, so a loss added to the registry trains without changes here.
struct TrainingLoss {
    enum Targets {
        /// The loss takes class indices (cross_entropy, nll_loss).
        case classIndices
        /// The loss takes a target of the input's shape: real values, or one-hot rows for classes.
        case values
    }

    /// A fixed function between the network's output and the loss's input.
    enum Head: String {
        case identity
        /// log_softmax over classes, for losses that take log-probabilities (nll_loss).
        case logSoftmax = "log_softmax"
        /// The logistic sigmoid, for losses that take probabilities (binary_cross_entropy).
        case sigmoid
    }

    let name: String
    let loss: any LossFunction<Float>
    let targets: Targets
    let head: Head

    init(name: String, options: [String: OptionValue]) throws {
        guard LossRegistry.functionNames.contains(name) else {
            throw ToolError.invalidArgument(
                "unknown loss '\(name)'; choose one of: \(TrainingLoss.trainableNames.joined(separator: ", "))")
        }
        let loss = try LossRegistry.make(name, options: options, as: Float.self)
        let specs = loss.inputSpecs
        guard specs.count == 2, specs[0].name == "input", specs[1].name == "target" else {
            throw ToolError.invalidArgument(
                "\(name) is not a loss of a prediction and a target (its inputs are "
                    + specs.map(\.name).joined(separator: ", ") + "); choose one of: "
                    + TrainingLoss.trainableNames.joined(separator: ", "))
        }
        self.name = name
        self.loss = loss
        self.targets = specs[1].kind == .values ? .values : .classIndices
        switch name {
        case "nll_loss": head = .logSoftmax
        case "binary_cross_entropy": head = .sigmoid
        default: head = .identity
        }
    }

    /// The registry's losses that `train` can use (a prediction and a target).
    static var trainableNames: [String] {
        LossRegistry.functionNames.filter { name in
            guard let l = try? LossRegistry.make(name, as: Float.self) else { return false }
            return l.inputSpecs.map(\.name) == ["input", "target"]
        }
    }

    /// The registry's losses that take real-valued targets (regression).
    static var regressionNames: [String] {
        trainableNames.filter { (try? TrainingLoss(name: $0, options: [:]))?.targets == .values && !["binary_cross_entropy", "binary_cross_entropy_with_logits"].contains($0) }
    }

    /// The loss of a batch of network outputs (rows x columns, row-major) and,
    /// when `wantGradient`, its gradient with respect to those outputs.
    func evaluate(
        output: [Float], rows: Int, columns: Int, target: BatchTarget, wantGradient: Bool
    ) throws -> (value: Double, gradient: [Float]?) {
        let shape = columns == 1 ? [rows] : [rows, columns]
        let raw = try Tensor(shape: shape, scalars: output)
        var input = raw
        switch head {
        case .identity: break
        case .logSoftmax:
            input = try AxisFunction<Float>(.logSoftmax, dim: -1).forward(LossInputs(["input": .values(raw)]))
        case .sigmoid:
            input = raw.map { 1 / (1 + Float.exp(-$0)) }
        }
        var inputs = LossInputs<Float>()
        inputs["input"] = .values(input)
        switch target {
        case .values(let v): inputs["target"] = .values(try Tensor(shape: shape, scalars: v))
        case .indices(let i): inputs["target"] = .indices(Tensor(i))
        }
        let value = try loss.forward(inputs)
        guard value.count == 1 else {
            throw ToolError.invalidArgument("training needs a loss that reduces to one number; drop the option reduction=none")
        }
        guard wantGradient else { return (Double(value[flat: 0]), nil) }
        guard var g = try loss.backward(inputs, upstream: Tensor(scalar: 1))["input"] else {
            throw ToolError.invalidArgument("\(name) returned no gradient for its input")
        }
        switch head {
        case .identity: break
        case .logSoftmax:
            g = try AxisFunction<Float>(.logSoftmax, dim: -1).backward(LossInputs(["input": .values(raw)]), upstream: g)["input"]!
        case .sigmoid:
            let p = input.scalars
            g = try Tensor(shape: shape, scalars: g.scalars.enumerated().map { $0.element * p[$0.offset] * (1 - p[$0.offset]) })
        }
        return (Double(value[flat: 0]), g.scalars)
    }
}

/// The targets of a batch in the form the loss takes.
enum BatchTarget {
    case values([Float])
    case indices([Int])
}
