import Foundation
import Loss
import LossDistributed

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
    /// The same loss over a batch split across ranks (bitwise the single-process result).
    let dataParallel: DataParallelLoss<Float>
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
        self.dataParallel = try DataParallelLoss<Float>(name, options: options)
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
        let (raw, inputs) = try prepare(output: output, rows: rows, columns: columns, target: target)
        let value = try loss.forward(inputs)
        guard value.count == 1 else {
            throw ToolError.invalidArgument("training needs a loss that reduces to one number; drop the option reduction=none")
        }
        guard wantGradient else { return (Double(value[flat: 0]), nil) }
        guard let g = try loss.backward(inputs, upstream: Tensor(scalar: 1))["input"] else {
            throw ToolError.invalidArgument("\(name) returned no gradient for its input")
        }
        return (Double(value[flat: 0]), try headBackward(raw, inputs, g))
    }

    /// The loss of a batch whose rows are split across the ranks of `communicator`
    /// (this rank's `rows` outputs and targets, in rank order) and the gradient of
    /// this rank's outputs: the mean is over the whole batch, and the value and each
    /// row's gradient are bitwise those of one process evaluating the whole batch.
    func evaluate(
        output: [Float], rows: Int, columns: Int, target: BatchTarget, communicator: any Communicator
    ) throws -> (value: Double, gradient: [Float]) {
        let (raw, inputs) = try prepare(output: output, rows: rows, columns: columns, target: target)
        let r = try dataParallel.valueWithGradient(inputs, upstream: Tensor(scalar: 1), communicator: communicator)
        guard r.value.count == 1 else {
            throw ToolError.invalidArgument("training needs a loss that reduces to one number; drop the option reduction=none")
        }
        guard let g = r.gradients["input"] else {
            throw ToolError.invalidArgument("\(name) returned no gradient for its input")
        }
        return (Double(r.value[flat: 0]), try headBackward(raw, inputs, g))
    }

    /// The network's raw outputs as a tensor and the loss's inputs (after the head).
    private func prepare(output: [Float], rows: Int, columns: Int, target: BatchTarget) throws
        -> (Tensor<Float>, LossInputs<Float>)
    {
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
        return (raw, inputs)
    }

    /// The gradient with respect to the raw outputs, from the loss's gradient `g` with respect to its input.
    private func headBackward(_ raw: Tensor<Float>, _ inputs: LossInputs<Float>, _ g: Tensor<Float>) throws -> [Float] {
        switch head {
        case .identity:
            return g.scalars
        case .logSoftmax:
            return try AxisFunction<Float>(.logSoftmax, dim: -1).backward(LossInputs(["input": .values(raw)]), upstream: g)["input"]!
                .scalars
        case .sigmoid:
            let p = try inputs.values("input").scalars
            return g.scalars.enumerated().map { $0.element * p[$0.offset] * (1 - p[$0.offset]) }
        }
    }
}

/// The targets of a batch in the form the loss takes.
enum BatchTarget {
    case values([Float])
    case indices([Int])
}
