/// Differentiable functions along one axis (`dim`, negative counts from the
/// end), as `torch.softmax`, `torch.log_softmax`, `torch.logsumexp`,
/// `torch.sum`, `torch.mean` and `torch.amax` with `keepdim=False`. They conform
/// to ``LossFunction`` so that ``GradientCheck`` and `losskit verify` treat them
/// like losses; their single input is `input`.
public enum AxisOperation: String, Sendable, CaseIterable {
    /// `y = softmax(x)`; backward `dx = y (dy - sum(dy y))`.
    case softmax
    /// `y = x - logsumexp(x)`; backward `dx = dy - softmax(x) sum(dy)`.
    case logSoftmax = "log_softmax"
    /// `y = log sum exp(x)` (a row of `-inf` gives `-inf`); backward `dx = dy softmax(x)`,
    /// which is PyTorch's `dy exp(x - y)`, but for a row holding `+inf` (y = `+inf`):
    /// NaN at the `+inf` entries and 0 elsewhere, as PyTorch.
    case logSumExp = "logsumexp"
    /// `y = sum x`; backward `dx = dy`.
    case sum
    /// `y = mean x`; backward `dx = dy / n`.
    case mean
    /// `y = max x` (NaN propagates); backward splits `dy` evenly among the
    /// entries equal to the maximum, as PyTorch's `amax` does (a row whose max is
    /// NaN has no such entry: its gradient is NaN, `(dy / 0) · 0`, as in PyTorch).
    case amax
}

/// One ``AxisOperation`` along a `dim`.
public struct AxisFunction<Scalar: KernelScalar>: LossFunction {
    public var operation: AxisOperation
    public var dim: Int
    public var threads: Int

    public init(_ operation: AxisOperation, dim: Int, threads: Int = 1) {
        self.operation = operation
        self.dim = dim
        self.threads = threads
    }

    public var inputSpecs: [InputSpec] { [.values("input")] }

    private var keepsShape: Bool { operation == .softmax || operation == .logSoftmax }

    private func outputShape(_ shape: [Int]) throws -> [Int] {
        _ = try AxisLayout(shape: shape, axis: dim)  // validates dim
        if keepsShape || shape.isEmpty { return shape }
        var s = shape
        s.remove(at: dim < 0 ? dim + shape.count : dim)
        return s
    }

    public func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        try validate(inputs)
        let x = try inputs.values("input")
        let layout = try AxisLayout(shape: x.shape, axis: dim)
        let shape = try outputShape(x.shape)
        // amax's error for an empty axis comes before its rows are allocated.
        if operation == .amax { try checkMaxAxis(layout) }
        var out = [Scalar](repeating: 0, count: keepsShape ? layout.count : layout.rows)
        try x.withUnsafeBufferPointer { xb in
            try out.withUnsafeMutableBufferPointer { o in
                switch operation {
                case .softmax: try Kernels.softmax(xb, layout: layout, into: o, threads: threads)
                case .logSoftmax: try Kernels.logSoftmax(xb, layout: layout, into: o, threads: threads)
                case .logSumExp: try Kernels.logSumExp(xb, layout: layout, into: o, threads: threads)
                case .sum: try rowSum(xb, layout: layout, into: o, threads: threads)
                case .mean: try rowMean(xb, layout: layout, into: o, threads: threads)
                case .amax: try rowMax(xb, layout: layout, into: o, threads: threads)
                }
            }
        }
        return Tensor(uncheckedShape: shape, scalars: out)
    }

    public func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        try validate(inputs)
        let x = try inputs.values("input")
        let layout = try AxisLayout(shape: x.shape, axis: dim)
        try checkUpstream(upstream, try outputShape(x.shape))
        var dx = [Scalar](repeating: 0, count: layout.count)
        switch operation {
        case .softmax, .logSoftmax:
            let y = try forward(inputs)
            try y.withUnsafeBufferPointer { yb in
                try upstream.withUnsafeBufferPointer { db in
                    try dx.withUnsafeMutableBufferPointer { o in
                        if operation == .softmax {
                            try softmaxBackward(output: yb, upstream: db, layout: layout, into: o, threads: threads)
                        } else {
                            try logSoftmaxBackward(output: yb, upstream: db, layout: layout, into: o, threads: threads)
                        }
                    }
                }
            }
        case .logSumExp:
            try x.withUnsafeBufferPointer { xb in
                try dx.withUnsafeMutableBufferPointer { o in try Kernels.softmax(xb, layout: layout, into: o, threads: threads) }
            }
            // PyTorch's backward is dy · exp(x - lse). Where lse is +inf (a row holding +inf and
            // no NaN) that is NaN at the +inf entries and 0 elsewhere; softmax's row is all NaN there.
            let lse = try forward(inputs)
            eachElement(layout) { flat, row in
                if lse[flat: row] == .infinity { dx[flat] = x[flat: flat] == .infinity ? .nan : 0 }
                dx[flat] *= upstream[flat: row]
            }
        case .sum:
            eachElement(layout) { flat, row in dx[flat] = upstream[flat: row] }
        case .mean:
            let n = Scalar(layout.length)
            eachElement(layout) { flat, row in dx[flat] = upstream[flat: row] / n }
        case .amax:
            let m = try forward(inputs)
            var ties = [Int](repeating: 0, count: layout.rows)
            eachElement(layout) { flat, row in if x[flat: flat] == m[flat: row] { ties[row] += 1 } }
            // (dy / ties) · [x = max], as PyTorch: a row whose max is NaN has no entry equal to
            // it, so every entry is (dy / 0) · 0 = NaN.
            eachElement(layout) { flat, row in
                dx[flat] = upstream[flat: row] / Scalar(ties[row]) * (x[flat: flat] == m[flat: row] ? 1 : 0)
            }
        }
        return ["input": Tensor(uncheckedShape: x.shape, scalars: dx)]
    }
}

/// Visits every element of a layout with its flat index and its row (`o * inner + i`).
@inline(__always)
func eachElement(_ layout: AxisLayout, _ body: (_ flat: Int, _ row: Int) -> Void) {
    // No element: the empty rows of a shape without elements are not walked one by one.
    guard layout.count > 0 else { return }
    var flat = 0
    for o in 0..<layout.outer {
        for _ in 0..<layout.length {
            for i in 0..<layout.inner {
                body(flat, o * layout.inner + i)
                flat += 1
            }
        }
    }
}

extension AxisFunction {
    /// The function of `input` along ``dim``.
    public func callAsFunction(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        try typedValue([.values(input)])
    }

    /// The function of `input` and the gradient of the sum of its outputs.
    public func valueWithGradient(_ input: Tensor<Scalar>) throws -> ValueWithGradient<Scalar> {
        try typedValueWithGradient([.values(input)])
    }
}
