/// Builds LossKit's losses by their PyTorch (or `make_cases.py`) names, with
/// PyTorch-named options: what `losskit verify` and `losskit eval` use.
public enum LossRegistry {
    /// Every function name this release implements.
    public static let functionNames: [String] = [
        "l1_loss", "mse_loss", "rmse", "mape", "cross_entropy", "nll_loss", "binary_cross_entropy",
        "binary_cross_entropy_with_logits", "softmax", "log_softmax", "logsumexp", "sum", "mean", "amax",
        // Margin, multi-label, focal, z-loss and cosine-embedding losses.
        "multi_margin_loss", "multilabel_soft_margin_loss", "multilabel_margin_loss", "focal_cross_entropy",
        "cross_entropy_z_loss", "cosine_embedding_loss",
        // Triplet, multivariate Gaussian NLL and CTC losses.
        "triplet_margin_loss", "triplet_margin_with_distance_loss", "multivariate_gaussian_nll", "ctc_loss",
        // Regression, margin, focal, distribution and Dice losses.
        "smooth_l1_loss", "huber_loss", "msle", "log_cosh", "soft_margin_loss", "hinge", "squared_hinge",
        "margin_ranking_loss", "hinge_embedding_loss", "sigmoid_focal", "kl_div", "poisson_nll_loss",
        "gaussian_nll_loss", "dice",
        // Fused linear head + cross-entropy.
        "linear_cross_entropy",
        "softmin",
    ]

    /// The functions that take PyTorch's deprecated `size_average=` and `reduce=`.
    public static let legacyReductionFunctions: Set<String> = [
        "l1_loss", "mse_loss", "cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
        "smooth_l1_loss", "kl_div", "poisson_nll_loss", "margin_ranking_loss", "hinge_embedding_loss",
        "soft_margin_loss", "multilabel_soft_margin_loss", "multilabel_margin_loss", "multi_margin_loss",
        "cosine_embedding_loss", "triplet_margin_loss",
    ]

    /// Input names that are passed as keyword constants (never differentiated), as in the reference format.
    public static let constantInputNames: Set<String> = ["weight", "pos_weight"]

    /// The loss `function` with `options` (PyTorch's keyword names and values)
    /// and constant tensors (`weight`, `pos_weight`).
    /// - Throws: ``/Kernels/LossError/unsupportedFunction(_:)`` for an unknown name,
    ///   ``/Kernels/LossError/unsupportedOption(function:option:)`` for an option the loss
    ///   does not take, ``/Kernels/LossError/invalidOption(name:value:expected:)`` for a bad value.
    public static func make<T: KernelScalar>(
        _ function: String, options: [String: OptionValue] = [:], constants: [String: Tensor<T>] = [:],
        as _: T.Type = T.self
    ) throws -> any LossFunction<T> {
        if isSixteenBit(T.self) {
            // Options keep Float's precision; the tensors are converted at each call.
            let wide = try make(function, options: options, constants: constants.mapValues { $0.converted(to: Float.self) }, as: Float.self)
            return SixteenBitLoss<T>(wide: wide)
        }
        var o = LossOptions<T>(function: function, options: options, constants: constants)
        let loss: any LossFunction<T>
        switch function {
        case "l1_loss": loss = L1Loss<T>(weight: o.constant("weight"), reduction: try o.reduction())
        case "mse_loss": loss = MSELoss<T>(weight: o.constant("weight"), reduction: try o.reduction())
        case "rmse": loss = RMSELoss<T>()
        case "mape": loss = MAPELoss<T>(reduction: try o.reduction())
        case "cross_entropy":
            loss = CrossEntropyLoss<T>(
                weight: o.constant("weight"), ignoreIndex: try o.int("ignore_index", default: -100),
                labelSmoothing: T(try o.double("label_smoothing", default: 0)), reduction: try o.reduction())
        case "nll_loss":
            loss = NLLLoss<T>(
                weight: o.constant("weight"), ignoreIndex: try o.int("ignore_index", default: -100),
                reduction: try o.reduction())
        case "binary_cross_entropy":
            loss = BCELoss<T>(weight: o.constant("weight"), reduction: try o.reduction())
        case "binary_cross_entropy_with_logits":
            loss = BCEWithLogitsLoss<T>(
                weight: o.constant("weight"), positiveWeight: o.constant("pos_weight"), reduction: try o.reduction())
        // Regression, margin, focal, distribution and Dice losses.
        case "smooth_l1_loss":
            loss = SmoothL1Loss<T>(beta: T(try o.double("beta", default: 1)), reduction: try o.reduction())
        case "huber_loss":
            loss = HuberLoss<T>(
                delta: T(try o.double("delta", default: 1)), weight: o.constant("weight"), reduction: try o.reduction())
        case "msle": loss = MSLELoss<T>(reduction: try o.reduction())
        case "log_cosh": loss = LogCoshLoss<T>(reduction: try o.reduction())
        case "soft_margin_loss": loss = SoftMarginLoss<T>(reduction: try o.reduction())
        case "hinge": loss = HingeLoss<T>(reduction: try o.reduction())
        case "squared_hinge": loss = SquaredHingeLoss<T>(reduction: try o.reduction())
        case "margin_ranking_loss":
            loss = MarginRankingLoss<T>(margin: T(try o.double("margin", default: 0)), reduction: try o.reduction())
        case "hinge_embedding_loss":
            loss = HingeEmbeddingLoss<T>(margin: T(try o.double("margin", default: 1)), reduction: try o.reduction())
        case "sigmoid_focal":
            loss = SigmoidFocalLoss<T>(
                alpha: T(try o.double("alpha", default: 0.25)), gamma: T(try o.double("gamma", default: 2)),
                reduction: try o.reduction())
        case "kl_div":
            let reduction: KLDivReduction
            if let legacy = try o.legacyReduction() {
                // PyTorch still divides by the batch size afterwards when reduction="batchmean" is also given.
                let batchmean = try o.string("reduction") == "batchmean"
                let kl = KLDivLoss<T>(
                    reduction: KLDivReduction(rawValue: legacy.rawValue)!, logTarget: try o.bool("log_target", default: false))
                try o.finish()
                return batchmean ? KLDivLegacyBatchmean(base: kl) : kl
            } else {
                let name = try o.string("reduction", default: "mean") ?? "mean"
                guard let r = KLDivReduction(rawValue: name) else {
                    throw LossError.invalidOption(
                        name: "reduction", value: "\"\(name)\"", expected: "\"none\", \"mean\", \"sum\" or \"batchmean\"")
                }
                reduction = r
            }
            loss = KLDivLoss<T>(reduction: reduction, logTarget: try o.bool("log_target", default: false))
        case "poisson_nll_loss":
            loss = PoissonNLLLoss<T>(
                logInput: try o.bool("log_input", default: true), full: try o.bool("full", default: false),
                eps: T(try o.double("eps", default: 1e-8)), reduction: try o.reduction())
        case "gaussian_nll_loss":
            loss = GaussianNLLLoss<T>(
                full: try o.bool("full", default: false), eps: T(try o.double("eps", default: 1e-6)),
                reduction: try o.reduction())
        case "dice":
            loss = DiceLoss<T>(smooth: T(try o.double("smooth", default: 1)), reduction: try o.reduction())
        // Functions along dimensions.
        case "softmax", "log_softmax", "softmin":
            // One dimension (an int, as PyTorch); absent or None: F.softmax's implicit choice.
            let dim = try o.optionalInt("dim")
            loss = AxisFunction<T>(
                AxisOperation(rawValue: function)!, dims: dim.map { [$0] }, dtype: try o.dtype())
        case "logsumexp", "sum", "mean", "amax":
            let operation = AxisOperation(rawValue: function)!
            let dims = try o.dims("dim"), keepdim = try o.bool("keepdim", default: false)
            let dtype = operation == .sum || operation == .mean ? try o.dtype() : nil
            loss = AxisFunction<T>(operation, dims: dims, keepdim: keepdim, dtype: dtype)
        // Margin, multi-label, focal, z-loss and cosine-embedding losses.
        case "multi_margin_loss":
            loss = MultiMarginLoss<T>(
                p: try o.int("p", default: 1), margin: T(try o.double("margin", default: 1)),
                weight: o.constant("weight"), reduction: try o.reduction())
        case "multilabel_soft_margin_loss":
            loss = MultiLabelSoftMarginLoss<T>(weight: o.constant("weight"), reduction: try o.reduction())
        case "multilabel_margin_loss":
            loss = MultiLabelMarginLoss<T>(reduction: try o.reduction())
        case "focal_cross_entropy":
            loss = FocalCrossEntropyLoss<T>(
                gamma: T(try o.double("gamma", default: 2)), alpha: try o.optionalDouble("alpha").map { T($0) },
                reduction: try o.reduction())
        case "cross_entropy_z_loss":
            loss = CrossEntropyZLoss<T>(
                zLoss: T(try o.double("z_loss", default: 1e-4)), ignoreIndex: try o.int("ignore_index", default: -100),
                reduction: try o.reduction())
        case "cosine_embedding_loss":
            loss = CosineEmbeddingLoss<T>(margin: T(try o.double("margin", default: 0)), reduction: try o.reduction())
        // Triplet, multivariate Gaussian NLL and CTC losses.
        case "triplet_margin_loss":
            loss = TripletMarginLoss<T>(
                margin: T(try o.double("margin", default: 1)), p: T(try o.double("p", default: 2)),
                eps: T(try o.double("eps", default: 1e-6)), swap: try o.bool("swap", default: false),
                reduction: try o.reduction())
        case "triplet_margin_with_distance_loss":
            let distance: any TripletDistance<T>
            switch try o.string("distance_function") {
            case nil, "pairwise_distance"?: distance = PairwiseDistance<T>()
            case "cosine"?: distance = CosineDistance<T>()
            case let other?:
                throw LossError.invalidOption(
                    name: "distance_function", value: "\"\(other)\"", expected: "\"cosine\", \"pairwise_distance\" or None")
            }
            loss = TripletMarginWithDistanceLoss<T>(
                distanceFunction: distance, margin: T(try o.double("margin", default: 1)),
                swap: try o.bool("swap", default: false), reduction: try o.reduction())
        case "multivariate_gaussian_nll":
            loss = MultivariateGaussianNLLLoss<T>(full: try o.bool("full", default: false), reduction: try o.reduction())
        case "ctc_loss":
            loss = CTCLoss<T>(
                blank: try o.int("blank", default: 0), zeroInfinity: try o.bool("zero_infinity", default: false),
                reduction: try o.reduction())
        case "linear_cross_entropy":
            // ignore_index defaults to None (PyTorch 2.15): -100 for class indices; probabilities take only None.
            loss = LinearCrossEntropyLoss<T>(
                weight: o.constant("weight"), ignoreIndex: try o.optionalInt("ignore_index"),
                labelSmoothing: T(try o.double("label_smoothing", default: 0)), reduction: try o.reduction())
        default:
            throw LossError.unsupportedFunction(function)
        }
        try o.finish()
        return loss
    }
}
