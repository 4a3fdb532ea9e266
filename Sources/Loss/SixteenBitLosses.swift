// 16-bit losses: `MSELoss<Float16>`, `CrossEntropyLoss<BFloat16>`, ... compute in Float
// and round their outputs and gradients once to the storage type, as PyTorch does with
// its `opmath` type. A loss rebuilt in Float with the same options (`rebound(to:)`) does
// the computing, so accumulations, counts and denominators never live in 16 bits (Float16
// overflows past 65504; BFloat16 keeps 8 bits of precision).

extension LossInputs {
    /// The same inputs with every floating-point tensor converted to `U` (indices unchanged).
    public func converted<U: KernelScalar>(to _: U.Type) -> LossInputs<U> where Scalar: KernelScalar {
        var out = LossInputs<U>()
        for name in names {
            switch self[name]! {
            case .values(let t): out[name] = .values(t.converted(to: U.self))
            case .indices(let t): out[name] = .indices(t)
            }
        }
        return out
    }
}

extension LossFunction {
    /// For 16-bit storage: the value computed by ``rebound(to:)``'s Float loss and rounded
    /// once; nil when `Scalar` is not 16 bits wide or the loss has no Float form.
    func forwardInFloat(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar>? {
        guard isSixteenBit(Scalar.self), let wide = rebound(to: Float.self) else { return nil }
        return try wide.forward(inputs.converted(to: Float.self)).converted(to: Scalar.self)
    }

    /// For 16-bit storage: the gradients computed by ``rebound(to:)``'s Float loss and
    /// rounded once; nil as for ``forwardInFloat(_:)``.
    func backwardInFloat(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>]? {
        guard isSixteenBit(Scalar.self), let wide = rebound(to: Float.self) else { return nil }
        let gradients = try wide.backward(inputs.converted(to: Float.self), upstream: upstream.converted(to: Float.self))
        return gradients.mapValues { $0.converted(to: Scalar.self) }
    }
}

/// A loss built in Float for 16-bit tensors: ``LossRegistry`` builds a Float16 or
/// BFloat16 loss this way, so that its options (PyTorch's Python floats) keep Float's
/// precision instead of being rounded to 16 bits.
struct SixteenBitLoss<Scalar: KernelScalar>: LossFunction {
    let wide: any LossFunction<Float>

    var inputSpecs: [InputSpec] { wide.inputSpecs }

    func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        try wide.forward(inputs.converted(to: Float.self)).converted(to: Scalar.self)
    }

    func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        try wide.backward(inputs.converted(to: Float.self), upstream: upstream.converted(to: Float.self))
            .mapValues { $0.converted(to: Scalar.self) }
    }

    func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? {
        U.self == Float.self ? (wide as! any LossFunction<U>) : nil
    }
}

// MARK: - Each loss in another scalar type, with the same options

extension L1Loss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? {
        L1Loss<U>(weight: weight?.converted(), reduction: reduction, threads: threads)
    }
}

extension MSELoss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? {
        MSELoss<U>(weight: weight?.converted(), reduction: reduction, threads: threads)
    }
}

extension RMSELoss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? { RMSELoss<U>() }
}

extension MAPELoss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? { MAPELoss<U>(reduction: reduction) }
}

extension MSLELoss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? { MSLELoss<U>(reduction: reduction) }
}

extension LogCoshLoss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? { LogCoshLoss<U>(reduction: reduction) }
}

extension SmoothL1Loss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? {
        SmoothL1Loss<U>(beta: U(beta), reduction: reduction)
    }
}

extension HuberLoss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? {
        HuberLoss<U>(delta: U(delta), weight: weight?.converted(), reduction: reduction)
    }
}

extension CrossEntropyLoss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? {
        CrossEntropyLoss<U>(
            weight: weight?.converted(), ignoreIndex: ignoreIndex, labelSmoothing: U(labelSmoothing),
            reduction: reduction, threads: threads)
    }
}

extension NLLLoss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? {
        NLLLoss<U>(weight: weight?.converted(), ignoreIndex: ignoreIndex, reduction: reduction)
    }
}

extension BCELoss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? {
        BCELoss<U>(weight: weight?.converted(), reduction: reduction)
    }
}

extension BCEWithLogitsLoss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? {
        BCEWithLogitsLoss<U>(weight: weight?.converted(), positiveWeight: positiveWeight?.converted(), reduction: reduction)
    }
}

extension KLDivLoss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? {
        KLDivLoss<U>(reduction: reduction, logTarget: logTarget)
    }
}

extension PoissonNLLLoss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? {
        PoissonNLLLoss<U>(logInput: logInput, full: full, eps: U(eps), reduction: reduction)
    }
}

extension GaussianNLLLoss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? {
        GaussianNLLLoss<U>(full: full, eps: U(eps), reduction: reduction)
    }
}

extension MultivariateGaussianNLLLoss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? {
        MultivariateGaussianNLLLoss<U>(full: full, reduction: reduction)
    }
}

extension MarginRankingLoss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? {
        MarginRankingLoss<U>(margin: U(margin), reduction: reduction)
    }
}

extension HingeEmbeddingLoss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? {
        HingeEmbeddingLoss<U>(margin: U(margin), reduction: reduction)
    }
}

extension SoftMarginLoss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? { SoftMarginLoss<U>(reduction: reduction) }
}

extension HingeLoss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? { HingeLoss<U>(reduction: reduction) }
}

extension SquaredHingeLoss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? { SquaredHingeLoss<U>(reduction: reduction) }
}

extension MultiLabelSoftMarginLoss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? {
        MultiLabelSoftMarginLoss<U>(weight: weight?.converted(), reduction: reduction)
    }
}

extension MultiLabelMarginLoss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? {
        MultiLabelMarginLoss<U>(reduction: reduction)
    }
}

extension MultiMarginLoss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? {
        MultiMarginLoss<U>(p: p, margin: U(margin), weight: weight?.converted(), reduction: reduction)
    }
}

extension CosineEmbeddingLoss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? {
        CosineEmbeddingLoss<U>(margin: U(margin), reduction: reduction)
    }
}

extension TripletMarginLoss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? {
        TripletMarginLoss<U>(margin: U(margin), p: U(p), eps: U(eps), swap: swap, reduction: reduction)
    }
}

extension TripletMarginWithDistanceLoss {
    /// nil for a distance given by closures, which compute in `Scalar` itself.
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? {
        let distance: any TripletDistance<U>
        if let d = distanceFunction as? PairwiseDistance<Scalar> {
            distance = PairwiseDistance<U>(p: U(d.p), eps: U(d.eps))
        } else if let d = distanceFunction as? CosineDistance<Scalar> {
            distance = CosineDistance<U>(eps: U(d.eps))
        } else {
            return nil
        }
        return TripletMarginWithDistanceLoss<U>(distanceFunction: distance, margin: U(margin), swap: swap, reduction: reduction)
    }
}

extension CTCLoss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? {
        CTCLoss<U>(blank: blank, zeroInfinity: zeroInfinity, reduction: reduction)
    }
}

extension SigmoidFocalLoss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? {
        SigmoidFocalLoss<U>(alpha: U(alpha), gamma: U(gamma), reduction: reduction)
    }
}

extension FocalCrossEntropyLoss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? {
        FocalCrossEntropyLoss<U>(gamma: U(gamma), alpha: alpha.map { U($0) }, reduction: reduction)
    }
}

extension DiceLoss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? {
        DiceLoss<U>(smooth: U(smooth), reduction: reduction)
    }
}

extension CrossEntropyZLoss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? {
        CrossEntropyZLoss<U>(zLoss: U(zLoss), ignoreIndex: ignoreIndex, reduction: reduction)
    }
}

extension LinearCrossEntropyLoss {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? {
        LinearCrossEntropyLoss<U>(
            weight: weight?.converted(), ignoreIndex: ignoreIndex, labelSmoothing: U(labelSmoothing), zLoss: U(zLoss),
            softcap: softcap.map { U($0) }, reduction: reduction, memoryBudget: memoryBudget, chunkRows: chunkRows,
            threads: threads, blasThreads: blasThreads)
    }
}

extension AxisFunction {
    public func rebound<U: KernelScalar>(to _: U.Type) -> (any LossFunction<U>)? {
        AxisFunction<U>(operation, dims: dims, keepdim: keepdim, dtype: dtype, threads: threads)
    }
}
