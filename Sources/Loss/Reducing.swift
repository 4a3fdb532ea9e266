/// Applies a ``Reduction`` to per-element values: `none` keeps `shape`, `sum`
/// adds them (Double accumulation), `mean` divides the sum by the count (NaN
/// for an empty input, as PyTorch).
func reduce<T: KernelScalar>(_ values: [T], shape: [Int], _ reduction: Reduction) throws -> Tensor<T> {
    switch reduction {
    case .none:
        return Tensor(uncheckedShape: shape, scalars: values)
    case .sum:
        return Tensor(scalar: try values.withUnsafeBufferPointer { try sum($0) })
    case .mean:
        let total = try values.withUnsafeBufferPointer { try sum($0) }
        return Tensor(scalar: values.isEmpty ? .nan : total / T(values.count))
    }
}

/// The output shape of a reduced loss: the element shape for `none`, `[]` otherwise.
func reducedShape(_ shape: [Int], _ reduction: Reduction) -> [Int] {
    reduction == .none ? shape : []
}

/// The upstream gradient seen by element `i` of a reduced loss: `upstream[i]`
/// for `none`, `g` for `sum`, `g / count` (or another divisor) for `mean`.
struct ReductionGradient<T: KernelScalar> {
    let perElement: [T]?
    let uniform: T

    init(_ upstream: Tensor<T>, reduction: Reduction, shape: [Int], count: Int) throws {
        try self.init(upstream, reduction: reduction, shape: shape, divisor: T(count))
    }

    /// With `mean` dividing by `divisor` instead of a count (a weighted mean's sum of weights).
    init(_ upstream: Tensor<T>, reduction: Reduction, shape: [Int], divisor: T) throws {
        try checkUpstream(upstream, reducedShape(shape, reduction))
        switch reduction {
        case .none:
            perElement = upstream.scalars
            uniform = 0
        case .sum:
            perElement = nil
            uniform = upstream[flat: 0]
        case .mean:
            perElement = nil
            uniform = upstream[flat: 0] / divisor
        }
    }

    @inline(__always) subscript(i: Int) -> T { perElement?[i] ?? uniform }
}
