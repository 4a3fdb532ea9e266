import Loss
import Testing
import _TestSupport

// Bad inputs to the loss layer: every one must throw the named LossError (kind
// and arguments), never trap and never return a number. Losses return fresh
// tensors, so there is no caller storage to leave untouched here; the kernel
// buffer APIs are covered by KernelsTests/KernelBadInputTests.swift.

private func t(_ scalars: [Double], _ shape: [Int]? = nil) -> Tensor<Double> {
    try! Tensor(shape: shape ?? [scalars.count], scalars: scalars)
}

private func idx(_ scalars: [Int], _ shape: [Int]? = nil) -> Tensor<Int> {
    try! Tensor(shape: shape ?? [scalars.count], scalars: scalars)
}

/// Builds `function` through the registry and runs forward, then backward with ones.
private func run(
    _ function: String, _ options: [String: OptionValue], constants: [String: Tensor<Double>] = [:],
    _ inputs: KeyValuePairs<String, LossInput<Double>>
) throws {
    let loss = try LossRegistry.make(function, options: options, constants: constants, as: Double.self)
    let i = LossInputs(inputs)
    let y = try loss.forward(i)
    _ = try loss.backward(i, upstream: try Tensor(shape: y.shape, scalars: Array(repeating: 1, count: y.count)))
}

private func run(_ function: String, _ inputs: KeyValuePairs<String, LossInput<Double>>) throws {
    try run(function, [:], inputs)
}

private func run(
    _ function: String, constants: [String: Tensor<Double>], _ inputs: KeyValuePairs<String, LossInput<Double>>
) throws {
    try run(function, [:], constants: constants, inputs)
}

private let logits = t([0.1, 0.2, 0.3, 1, 2, 3], [2, 3])
private let pair = (t([0.2, 0.4]), t([0.5, 0.5]))

let lossBadInputs: [BadInput] = [
    // MARK: Tensor shapes
    BadInput("negative size", .shapeMismatch(argument: "shape", expected: "non-negative sizes", actual: "[-1]")) {
        _ = try Tensor<Double>(shape: [-1], scalars: [])
    },
    BadInput(
        "two negative sizes whose product matches the count",
        .shapeMismatch(argument: "shape", expected: "non-negative sizes", actual: "[-2, -3]")
    ) { _ = try Tensor<Double>(shape: [-2, -3], scalars: [1, 2, 3, 4, 5, 6]) },
    BadInput(
        "shape whose product overflows Int (was a trap)",
        .shapeMismatch(argument: "shape", expected: "sizes whose product fits an Int", actual: "[\(Int.max), 2]")
    ) { _ = try Tensor<Double>(shape: [Int.max, 2], scalars: []) },
    BadInput(
        "zeros of an overflowing shape (was a trap)",
        .shapeMismatch(argument: "shape", expected: "sizes whose product fits an Int", actual: "[\(1 << 62), 4]")
    ) { _ = try Tensor<Double>(zeros: [1 << 62, 4]) },
    BadInput(
        "borrowing with an overflowing shape (was a trap)",
        .shapeMismatch(argument: "shape", expected: "sizes whose product fits an Int", actual: "[\(1 << 40), \(1 << 40)]")
    ) {
        let storage: [Double] = [1]
        try Tensor.withBorrowing(storage.span, shape: [1 << 40, 1 << 40]) { _ in }
    },
    BadInput("reshape to a negative size", .shapeMismatch(argument: "shape", expected: "non-negative sizes", actual: "[3, -2]")) {
        _ = try t([1, 2, 3, 4, 5, 6]).reshaped([3, -2])
    },
    BadInput(
        "count not the product of the shape",
        .shapeMismatch(argument: "scalars", expected: "6 elements for shape [2, 3]", actual: "5 elements")
    ) { _ = try Tensor<Double>(shape: [2, 3], scalars: [1, 2, 3, 4, 5]) },
    BadInput(
        "axis layout of an overflowing shape (was a trap)",
        .shapeMismatch(argument: "shape", expected: "sizes whose product fits an Int", actual: "[\(Int.max), 3]")
    ) { _ = try AxisLayout(shape: [Int.max, 3], axis: 0) },
    BadInput(
        "axis layout of a negative shape",
        .shapeMismatch(argument: "shape", expected: "non-negative sizes", actual: "[4, -1]")
    ) { _ = try AxisLayout(shape: [4, -1], axis: 0) },

    // MARK: Registry and options
    BadInput("unknown function", .unsupportedFunction("cross_entropy_loss")) {
        _ = try LossRegistry.make("cross_entropy_loss", as: Double.self)
    },
    BadInput("option the loss does not take", .unsupportedOption(function: "mse_loss", option: "beta")) {
        _ = try LossRegistry.make("mse_loss", options: ["beta": .double(1)], as: Double.self)
    },
    BadInput("constant the loss does not take", .unsupportedOption(function: "smooth_l1_loss", option: "weight")) {
        _ = try LossRegistry.make("smooth_l1_loss", constants: ["weight": t([1])], as: Double.self)
    },
    BadInput(
        "unknown reduction",
        .invalidOption(name: "reduction", value: "\"avg\"", expected: "\"none\", \"mean\" or \"sum\"")
    ) { _ = try LossRegistry.make("l1_loss", options: ["reduction": .string("avg")], as: Double.self) },
    BadInput("NaN integer option", .invalidOption(name: "ignore_index", value: "nan", expected: "an integer")) {
        _ = try LossRegistry.make("cross_entropy", options: ["ignore_index": .double(.nan)], as: Double.self)
    },
    BadInput("boolean where an integer belongs", .invalidOption(name: "blank", value: "True", expected: "an integer")) {
        _ = try LossRegistry.make("ctc_loss", options: ["blank": .bool(true)], as: Double.self)
    },
    BadInput("string where a number belongs", .invalidOption(name: "beta", value: "\"1\"", expected: "a number")) {
        _ = try LossRegistry.make("smooth_l1_loss", options: ["beta": .string("1")], as: Double.self)
    },
    BadInput(
        "unknown KL reduction",
        .invalidOption(name: "reduction", value: "\"batchmeans\"", expected: "\"none\", \"mean\", \"sum\" or \"batchmean\"")
    ) { _ = try LossRegistry.make("kl_div", options: ["reduction": .string("batchmeans")], as: Double.self) },
    BadInput(
        "unknown triplet distance",
        .invalidOption(
            name: "distance_function", value: "\"manhattan\"", expected: "\"cosine\", \"pairwise_distance\" or None")
    ) {
        _ = try LossRegistry.make(
            "triplet_margin_with_distance_loss", options: ["distance_function": .string("manhattan")], as: Double.self)
    },

    // MARK: NaN and out-of-range options
    BadInput("NaN label smoothing", .invalidOption(name: "label_smoothing", value: "nan", expected: "a value in [0, 1]")) {
        try run("cross_entropy", ["label_smoothing": .double(.nan)], ["input": .values(logits), "target": .indices(idx([0, 1]))])
    },
    BadInput("label smoothing above 1", .invalidOption(name: "label_smoothing", value: "1.5", expected: "a value in [0, 1]")) {
        try run("cross_entropy", ["label_smoothing": .double(1.5)], ["input": .values(logits), "target": .indices(idx([0, 1]))])
    },
    BadInput("negative smooth L1 beta", .invalidOption(name: "beta", value: "-1.0", expected: "a finite number >= 0")) {
        try run("smooth_l1_loss", ["beta": .double(-1)], ["input": .values(pair.0), "target": .values(pair.1)])
    },
    BadInput("NaN Huber delta", .invalidOption(name: "delta", value: "nan", expected: "a finite number > 0")) {
        try run("huber_loss", ["delta": .double(.nan)], ["input": .values(pair.0), "target": .values(pair.1)])
    },
    BadInput("negative Gaussian NLL eps", .invalidOption(name: "eps", value: "-1e-06", expected: "a finite number >= 0")) {
        try run("gaussian_nll_loss", ["eps": .double(-1e-6)], ["input": .values(pair.0), "target": .values(pair.1), "var": .values(pair.1)])
    },
    BadInput("NaN ranking margin", .invalidOption(name: "margin", value: "nan", expected: "a finite number")) {
        try run(
            "margin_ranking_loss", ["margin": .double(.nan)],
            ["input1": .values(pair.0), "input2": .values(pair.1), "target": .values(t([1, -1]))])
    },
    BadInput("NaN triplet margin (was a NaN loss with a zero gradient)", .invalidOption(name: "margin", value: "nan", expected: "a finite number")) {
        try run(
            "triplet_margin_loss", ["margin": .double(.nan)],
            ["anchor": .values(logits), "positive": .values(logits), "negative": .values(logits)])
    },
    BadInput("infinite triplet margin", .invalidOption(name: "margin", value: "inf", expected: "a finite number")) {
        try run(
            "triplet_margin_with_distance_loss", ["margin": .double(.infinity)],
            ["anchor": .values(logits), "positive": .values(logits), "negative": .values(logits)])
    },
    BadInput("zero triplet norm degree", .invalidOption(name: "p", value: "0.0", expected: "a norm degree > 0")) {
        try run(
            "triplet_margin_loss", ["p": .double(0)],
            ["anchor": .values(logits), "positive": .values(logits), "negative": .values(logits)])
    },
    BadInput("negative sigmoid focal gamma", .invalidOption(name: "gamma", value: "-1.0", expected: "a finite number >= 0")) {
        try run("sigmoid_focal", ["gamma": .double(-1)], ["input": .values(pair.0), "target": .values(pair.1)])
    },
    BadInput("NaN focal alpha", .invalidOption(name: "alpha", value: "nan", expected: "None or a finite number >= 0")) {
        try run("focal_cross_entropy", ["alpha": .double(.nan)], ["input": .values(logits), "target": .indices(idx([0, 1]))])
    },
    BadInput("infinite z-loss", .invalidOption(name: "z_loss", value: "inf", expected: "a finite number >= 0")) {
        try run("cross_entropy_z_loss", ["z_loss": .double(.infinity)], ["input": .values(logits), "target": .indices(idx([0, 1]))])
    },
    BadInput("multi-margin p = 3", .invalidOption(name: "p", value: "3", expected: "1 or 2")) {
        try run("multi_margin_loss", ["p": .int(3)], ["input": .values(logits), "target": .indices(idx([0, 1]))])
    },
    BadInput("CTC blank equal to C", .invalidOption(name: "blank", value: "3", expected: "a class index in [0, 3)")) {
        try run(
            "ctc_loss", ["blank": .int(3)],
            ["log_probs": .values(t(Array(repeating: -1, count: 6), [2, 1, 3])), "targets": .indices(idx([1], [1, 1])),
             "input_lengths": .indices(idx([2])), "target_lengths": .indices(idx([1]))])
    },
    BadInput("softmax dim out of range", .invalidOption(name: "dim", value: "2", expected: "a dimension in [-2, 1] for shape [2, 3]")) {
        try run("softmax", ["dim": .int(2)], ["input": .values(logits)])
    },
    BadInput("zero threads", .invalidOption(name: "threads", value: "0", expected: "a thread count from 1 to \(maximumThreadCount)")) {
        _ = try CrossEntropyLoss<Double>(threads: 0)(logits, idx([0, 1]))
    },
    BadInput("more threads than the pool has", .invalidOption(name: "threads", value: "100000", expected: "a thread count from 1 to \(maximumThreadCount)")) {
        _ = try CrossEntropyLoss<Double>(threads: 100_000)(logits, idx([0, 1]))
    },
    BadInput("a delta Float rounds to 0", .invalidOption(name: "delta", value: "1e-320", expected: "a number Float can hold (this one rounds to 0.0)")) {
        _ = try LossRegistry.make("huber_loss", options: ["delta": .double(1e-320)], as: Float.self)
    },
    BadInput("a margin Float rounds to infinity", .invalidOption(name: "margin", value: "1e+39", expected: "a number Float can hold (this one rounds to inf)")) {
        _ = try LossRegistry.make("margin_ranking_loss", options: ["margin": .double(1e39)], as: Float.self)
    },
    BadInput("gradient check with step 0", .invalidOption(name: "step", value: "0.0", expected: "a finite step > 0")) {
        _ = try GradientCheck.check(MSELoss<Double>(), inputs: LossInputs(["input": .values(pair.0), "target": .values(pair.1)]), step: 0)
    },

    // MARK: Index targets out of range, in every loss that takes indices
    BadInput("cross_entropy target = C", .indexOutOfRange(argument: "target", position: 1, index: 3, validRange: "[0, 3)")) {
        try run("cross_entropy", ["input": .values(logits), "target": .indices(idx([0, 3]))])
    },
    BadInput("cross_entropy target -1 (not the ignore index)", .indexOutOfRange(argument: "target", position: 0, index: -1, validRange: "[0, 3)")) {
        try run("cross_entropy", ["input": .values(logits), "target": .indices(idx([-1, 0]))])
    },
    BadInput("nll_loss target Int.max", .indexOutOfRange(argument: "target", position: 0, index: Int.max, validRange: "[0, 3)")) {
        try run("nll_loss", ["input": .values(logits), "target": .indices(idx([Int.max, 0]))])
    },
    BadInput("multi_margin_loss target = C", .indexOutOfRange(argument: "target", position: 1, index: 3, validRange: "[0, 3)")) {
        try run("multi_margin_loss", ["input": .values(logits), "target": .indices(idx([0, 3]))])
    },
    BadInput(
        "multilabel_margin_loss target -2",
        .indexOutOfRange(argument: "target", position: 4, index: -2, validRange: "[-1, 3) (-1 ends the list)")
    ) { try run("multilabel_margin_loss", ["input": .values(logits), "target": .indices(idx([0, -1, 2, 1, -2, -1], [2, 3]))]) },
    BadInput("focal_cross_entropy target Int.min", .indexOutOfRange(argument: "target", position: 1, index: Int.min, validRange: "[0, 3)")) {
        try run("focal_cross_entropy", ["input": .values(logits), "target": .indices(idx([0, Int.min]))])
    },
    BadInput("focal_cross_entropy ignores nothing: -100 is out of range", .indexOutOfRange(argument: "target", position: 0, index: -100, validRange: "[0, 3)")) {
        try run("focal_cross_entropy", ["input": .values(logits), "target": .indices(idx([-100, 0]))])
    },
    BadInput("cross_entropy_z_loss target = C", .indexOutOfRange(argument: "target", position: 0, index: 3, validRange: "[0, 3)")) {
        try run("cross_entropy_z_loss", ["input": .values(logits), "target": .indices(idx([3, 0]))])
    },
    BadInput("ctc label equal to the blank", .indexOutOfRange(argument: "targets", position: 0, index: 0, validRange: "[0, 3) without the blank 0")) {
        try run(
            "ctc_loss",
            ["log_probs": .values(t(Array(repeating: -1, count: 6), [2, 1, 3])), "targets": .indices(idx([0], [1, 1])),
             "input_lengths": .indices(idx([2])), "target_lengths": .indices(idx([1]))])
    },
    BadInput("ctc input length beyond T", .indexOutOfRange(argument: "input_lengths", position: 0, index: 3, validRange: "[0, 2]")) {
        try run(
            "ctc_loss",
            ["log_probs": .values(t(Array(repeating: -1, count: 6), [2, 1, 3])), "targets": .indices(idx([1], [1, 1])),
             "input_lengths": .indices(idx([3])), "target_lengths": .indices(idx([1]))])
    },
    BadInput("ctc negative target length", .indexOutOfRange(argument: "target_lengths", position: 0, index: -1, validRange: "[0, 1]")) {
        try run(
            "ctc_loss",
            ["log_probs": .values(t(Array(repeating: -1, count: 6), [2, 1, 3])), "targets": .indices(idx([1], [1, 1])),
             "input_lengths": .indices(idx([2])), "target_lengths": .indices(idx([-1]))])
    },

    // MARK: Shapes
    BadInput("cross_entropy on a 0-d input", .shapeMismatch(argument: "input", expected: "(C), (N, C) or (N, C, d1, ..., dk)", actual: "[]")) {
        try run("cross_entropy", ["input": .values(Tensor(scalar: 1)), "target": .indices(Tensor(scalar: 0))])
    },
    BadInput(
        "cross_entropy target with the class axis kept",
        .shapeMismatch(argument: "target", expected: "[2] (the input's shape without the class axis)", actual: "[2, 1]")
    ) { try run("cross_entropy", ["input": .values(logits), "target": .indices(idx([0, 1], [2, 1]))]) },
    BadInput(
        "cross_entropy probabilities of another shape",
        .shapeMismatch(argument: "target", expected: "[2, 3] (probabilities, the input's shape)", actual: "[3, 2]")
    ) { try run("cross_entropy", ["input": .values(logits), "target": .values(t([1, 0, 0, 1, 0, 0], [3, 2]))]) },
    BadInput("class weights of the wrong length", .shapeMismatch(argument: "weight", expected: "[3] (one weight per class)", actual: "[2]")) {
        try run("nll_loss", constants: ["weight": t([1, 1])], ["input": .values(logits), "target": .indices(idx([0, 1]))])
    },
    BadInput("mse of (2) against (2, 1) (no silent broadcast)", .shapeMismatch(argument: "target", expected: "[2] (the shape of input)", actual: "[2, 1]")) {
        try run("mse_loss", ["input": .values(pair.0), "target": .values(t([0.5, 0.5], [2, 1]))])
    },
    BadInput("BCE weight not broadcastable", .shapeMismatch(argument: "weight", expected: "a shape broadcastable to [2]", actual: "[3]")) {
        try run("binary_cross_entropy", constants: ["weight": t([1, 1, 1])], ["input": .values(pair.0), "target": .values(pair.1)])
    },
    BadInput("pos_weight not broadcastable", .shapeMismatch(argument: "pos_weight", expected: "a shape broadcastable to [2, 3]", actual: "[2]")) {
        try run(
            "binary_cross_entropy_with_logits", constants: ["pos_weight": t([1, 2])],
            ["input": .values(logits), "target": .values(t([0, 1, 0, 1, 0, 1], [2, 3]))])
    },
    BadInput("upstream of the wrong shape", .shapeMismatch(argument: "upstream", expected: "[2]", actual: "[]")) {
        let i = LossInputs<Double>(["input": .values(pair.0), "target": .values(pair.1)])
        _ = try MSELoss<Double>(reduction: .none).backward(i, upstream: Tensor(scalar: 1))
    },
    BadInput("ctc log_probs of rank 2 with batched lengths", .shapeMismatch(
        argument: "input_lengths", expected: "() or [1] (for an unbatched (T, C) log_probs)", actual: "[2]")) {
        try run(
            "ctc_loss",
            ["log_probs": .values(logits), "targets": .indices(idx([1], [1, 1])), "input_lengths": .indices(idx([2, 2])),
             "target_lengths": .indices(idx([1]))])
    },
    BadInput(
        "multilabel_soft_margin weight of the wrong length",
        .shapeMismatch(argument: "weight", expected: "a shape broadcastable to [2, 3]", actual: "[6]")
    ) {
        try run("multilabel_soft_margin_loss", constants: ["weight": t([1, 1, 1, 1, 1, 1])], ["input": .values(logits), "target": .values(logits)])
    },

    // MARK: Values outside the domain
    BadInput("BCE probability 1.5", .invalidValue(argument: "input", position: 1, value: 1.5, expected: "a probability in [0, 1]")) {
        try run("binary_cross_entropy", ["input": .values(t([0.5, 1.5])), "target": .values(pair.1)])
    },
    BadInput("BCE probability NaN", .invalidValue(argument: "input", position: 0, value: .nan, expected: "a probability in [0, 1]")) {
        try run("binary_cross_entropy", ["input": .values(t([.nan, 0.5])), "target": .values(pair.1)])
    },
    BadInput("negative Gaussian variance", .invalidValue(argument: "var", position: 1, value: -1, expected: "a non-negative variance")) {
        try run("gaussian_nll_loss", ["input": .values(pair.0), "target": .values(pair.1), "var": .values(t([1, -1]))])
    },
    BadInput(
        "negative Poisson rate with log_input False",
        .invalidValue(argument: "input", position: 0, value: -0.5, expected: "a non-negative rate (log_input is False)")
    ) { try run("poisson_nll_loss", ["log_input": .bool(false)], ["input": .values(t([-0.5, 1])), "target": .values(pair.1)]) },
    BadInput("Dice input 2", .invalidValue(argument: "input", position: 1, value: 2, expected: "a probability in [0, 1]")) {
        try run("dice", ["input": .values(t([0.5, 2], [1, 2])), "target": .values(t([1, 0], [1, 2]))])
    },
    BadInput("hinge embedding target 0.5", .invalidValue(argument: "target", position: 0, value: 0.5, expected: "-1 or 1")) {
        try run("hinge_embedding_loss", ["input": .values(pair.0), "target": .values(t([0.5, 1]))])
    },
    BadInput("MSLE input -2", .invalidValue(argument: "input", position: 0, value: -2, expected: "a value > -1")) {
        try run("msle", ["input": .values(t([-2, 1])), "target": .values(pair.1)])
    },
    BadInput("covariance not positive definite", .notPositiveDefinite(argument: "covariance", sample: 1)) {
        try run(
            "multivariate_gaussian_nll",
            ["input": .values(t([0, 0, 0, 0], [2, 2])), "target": .values(t([1, 1, 1, 1], [2, 2])),
             "covariance": .values(t([1, 0, 0, 1, 1, 2, 2, 1], [2, 2, 2]))])
    },
    BadInput(
        "covariance not symmetric",
        .invalidValue(argument: "covariance", position: 2, value: 0.5, expected: "a symmetric matrix (the transposed entry is 0.0)")
    ) {
        try run(
            "multivariate_gaussian_nll",
            ["input": .values(t([0, 0], [1, 2])), "target": .values(t([1, 1], [1, 2])), "covariance": .values(t([1, 0, 0.5, 1], [2, 2]))])
    },

    // MARK: Empty inputs where PyTorch errors
    BadInput("amax over an empty axis", .emptyInput(argument: "input", reason: "max over an axis of length 0 is undefined")) {
        try run("amax", ["input": .values(t([], [2, 0]))])
    },
    BadInput("cross_entropy with no classes, every target ignored", .emptyInput(argument: "input", reason: "its class axis has length 0, so there is no class to predict")) {
        try run("cross_entropy", ["input": .values(t([], [2, 0])), "target": .indices(idx([-100, -100]))])
    },
    BadInput("cross_entropy with no classes is not reported as a target out of range", .emptyInput(argument: "input", reason: "its class axis has length 0, so there is no class to predict")) {
        try run("cross_entropy", ["input": .values(t([], [2, 0])), "target": .indices(idx([0, 0]))])
    },
    BadInput("multi_margin_loss with no classes", .emptyInput(argument: "input", reason: "multi_margin_loss needs at least one class")) {
        try run("multi_margin_loss", ["input": .values(t([], [2, 0])), "target": .indices(idx([0, 0]))])
    },

    // MARK: Missing inputs
    BadInput("mse without a target", .missingInput(name: "target", expected: "a floating-point tensor")) {
        try run("mse_loss", ["input": .values(pair.0)])
    },
    BadInput("nll_loss with float targets", .missingInput(name: "target", expected: "an integer (index) tensor")) {
        try run("nll_loss", ["input": .values(logits), "target": .values(t([0, 1]))])
    },
]

@Suite struct BadInputTests {
    @Test(arguments: lossBadInputs)
    func throwsTheNamedError(_ bad: BadInput) {
        #expect(bad.mismatch() == nil, "\(bad.name)")
    }

    @Test func theTableIsLargeAndDistinct() {
        #expect(lossBadInputs.count >= 40)
        #expect(Set(lossBadInputs.map(\.name)).count == lossBadInputs.count)
    }

    /// Float gives the same errors as Double (the checks are generic, but the
    /// option values print in the loss's precision).
    @Test func floatReportsTheSameKinds() throws {
        let x = try Tensor<Float>(shape: [2, 3], scalars: [0, 1, 2, 3, 4, 5])
        #expect(throws: LossError.indexOutOfRange(argument: "target", position: 0, index: 7, validRange: "[0, 3)")) {
            _ = try CrossEntropyLoss<Float>()(x, try Tensor(shape: [2], scalars: [7, 0]))
        }
        // The typed call names the Swift property.
        #expect(throws: LossError.invalidOption(name: "labelSmoothing", value: "-0.5", expected: "a value in [0, 1]")) {
            _ = try CrossEntropyLoss<Float>(labelSmoothing: -0.5)(x, try Tensor(shape: [2], scalars: [0, 0]))
        }
    }
}
