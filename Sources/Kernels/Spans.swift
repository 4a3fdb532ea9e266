// `Span` and `MutableSpan` forms of every public kernel: the same names, labels,
// semantics and errors as the unsafe-buffer forms, for callers that lend memory
// without unsafe pointers:
//
//     var y = [Float](repeating: 0, count: 6)
//     var ys = y.mutableSpan
//     try softmax(x.span, layout: AxisLayout(outer: 2, length: 3), into: &ys)
//
// An optional input is an optional `Span`; an optional output is a separate
// overload with or without its argument (an `inout` argument cannot default).

@inline(__always)
func withBuffer<T, R>(_ span: Span<T>?, _ body: (UnsafeBufferPointer<T>?) throws -> R) throws -> R {
    guard let span else { return try body(nil) }
    return try span.withUnsafeBufferPointer { try body($0) }
}

// MARK: - Softmax

/// ``softmax(_:layout:into:threads:)`` on spans.
public func softmax<T: KernelScalar>(
    _ x: Span<T>, layout: AxisLayout, into y: inout MutableSpan<T>, threads: Int = 1
) throws {
    try x.withUnsafeBufferPointer { xb in
        try y.withUnsafeMutableBufferPointer { try softmax(xb, layout: layout, into: $0, threads: threads) }
    }
}

/// ``logSoftmax(_:layout:into:threads:)`` on spans.
public func logSoftmax<T: KernelScalar>(
    _ x: Span<T>, layout: AxisLayout, into y: inout MutableSpan<T>, threads: Int = 1
) throws {
    try x.withUnsafeBufferPointer { xb in
        try y.withUnsafeMutableBufferPointer { try logSoftmax(xb, layout: layout, into: $0, threads: threads) }
    }
}

/// ``softmaxBackward(output:upstream:layout:into:threads:)`` on spans.
public func softmaxBackward<T: KernelScalar>(
    output y: Span<T>, upstream dy: Span<T>, layout: AxisLayout, into dx: inout MutableSpan<T>, threads: Int = 1
) throws {
    try y.withUnsafeBufferPointer { yb in
        try dy.withUnsafeBufferPointer { db in
            try dx.withUnsafeMutableBufferPointer {
                try softmaxBackward(output: yb, upstream: db, layout: layout, into: $0, threads: threads)
            }
        }
    }
}

/// ``logSoftmaxBackward(output:upstream:layout:into:threads:)`` on spans.
public func logSoftmaxBackward<T: KernelScalar>(
    output y: Span<T>, upstream dy: Span<T>, layout: AxisLayout, into dx: inout MutableSpan<T>, threads: Int = 1
) throws {
    try y.withUnsafeBufferPointer { yb in
        try dy.withUnsafeBufferPointer { db in
            try dx.withUnsafeMutableBufferPointer {
                try logSoftmaxBackward(output: yb, upstream: db, layout: layout, into: $0, threads: threads)
            }
        }
    }
}

// MARK: - Row reductions

/// ``logSumExp(_:layout:into:threads:)`` on spans.
public func logSumExp<T: KernelScalar>(
    _ x: Span<T>, layout: AxisLayout, into out: inout MutableSpan<T>, threads: Int = 1
) throws {
    try x.withUnsafeBufferPointer { xb in
        try out.withUnsafeMutableBufferPointer { try logSumExp(xb, layout: layout, into: $0, threads: threads) }
    }
}

/// ``rowSum(_:layout:into:threads:)`` on spans.
public func rowSum<T: KernelScalar>(
    _ x: Span<T>, layout: AxisLayout, into out: inout MutableSpan<T>, threads: Int = 1
) throws {
    try x.withUnsafeBufferPointer { xb in
        try out.withUnsafeMutableBufferPointer { try rowSum(xb, layout: layout, into: $0, threads: threads) }
    }
}

/// ``rowMean(_:layout:into:threads:)`` on spans.
public func rowMean<T: KernelScalar>(
    _ x: Span<T>, layout: AxisLayout, into out: inout MutableSpan<T>, threads: Int = 1
) throws {
    try x.withUnsafeBufferPointer { xb in
        try out.withUnsafeMutableBufferPointer { try rowMean(xb, layout: layout, into: $0, threads: threads) }
    }
}

/// ``sum(_:)`` on a span.
public func sum<T: KernelScalar>(_ x: Span<T>) throws -> T {
    try x.withUnsafeBufferPointer { try sum($0) }
}

/// ``rowNorm(_:layout:kind:into:threads:)`` on spans.
public func rowNorm<T: KernelScalar>(
    _ x: Span<T>, layout: AxisLayout, kind: NormKind, into out: inout MutableSpan<T>, threads: Int = 1
) throws {
    try x.withUnsafeBufferPointer { xb in
        try out.withUnsafeMutableBufferPointer { try rowNorm(xb, layout: layout, kind: kind, into: $0, threads: threads) }
    }
}

/// ``rowMax(_:layout:into:argmax:threads:)-(UnsafeBufferPointer<T>,_,_,_,_)`` on spans, without the indices.
public func rowMax<T: KernelScalar>(
    _ x: Span<T>, layout: AxisLayout, into out: inout MutableSpan<T>, threads: Int = 1
) throws {
    try x.withUnsafeBufferPointer { xb in
        try out.withUnsafeMutableBufferPointer { try rowMax(xb, layout: layout, into: $0, threads: threads) }
    }
}

/// ``rowMax(_:layout:into:argmax:threads:)`` on spans, with the index of each row's maximum.
public func rowMax<T: KernelScalar>(
    _ x: Span<T>, layout: AxisLayout, into out: inout MutableSpan<T>, argmax: inout MutableSpan<Int>, threads: Int = 1
) throws {
    try x.withUnsafeBufferPointer { xb in
        try out.withUnsafeMutableBufferPointer { ob in
            try argmax.withUnsafeMutableBufferPointer {
                try rowMax(xb, layout: layout, into: ob, argmax: $0, threads: threads)
            }
        }
    }
}

// MARK: - Pointwise losses

/// ``pointwiseLoss(_:input:target:values:gradient:gradientScale:upstream:threads:)-(_,UnsafeBufferPointer<T>,_,_,_,_,_,_)`` on
/// spans: the sum of the per-element losses alone.
public func pointwiseLoss<T: KernelScalar>(
    _ kind: PointwiseLossKind, input: Span<T>, target: Span<T>, threads: Int = 1
) throws -> T {
    try input.withUnsafeBufferPointer { xb in
        try target.withUnsafeBufferPointer { try pointwiseLoss(kind, input: xb, target: $0, threads: threads) }
    }
}

/// ``pointwiseLoss(_:input:target:values:gradient:gradientScale:upstream:threads:)-(_,UnsafeBufferPointer<T>,_,_,_,_,_,_)`` on
/// spans, writing the per-element losses.
public func pointwiseLoss<T: KernelScalar>(
    _ kind: PointwiseLossKind, input: Span<T>, target: Span<T>, values: inout MutableSpan<T>, threads: Int = 1
) throws -> T {
    try input.withUnsafeBufferPointer { xb in
        try target.withUnsafeBufferPointer { yb in
            try values.withUnsafeMutableBufferPointer {
                try pointwiseLoss(kind, input: xb, target: yb, values: $0, threads: threads)
            }
        }
    }
}

/// ``pointwiseLoss(_:input:target:values:gradient:gradientScale:upstream:threads:)-(_,UnsafeBufferPointer<T>,_,_,_,_,_,_)`` on
/// spans, writing the gradient.
public func pointwiseLoss<T: KernelScalar>(
    _ kind: PointwiseLossKind, input: Span<T>, target: Span<T>, gradient: inout MutableSpan<T>,
    gradientScale: T = 1, upstream: Span<T>? = nil, threads: Int = 1
) throws -> T {
    try input.withUnsafeBufferPointer { xb in
        try target.withUnsafeBufferPointer { yb in
            try withBuffer(upstream) { ub in
                try gradient.withUnsafeMutableBufferPointer {
                    try pointwiseLoss(
                        kind, input: xb, target: yb, gradient: $0, gradientScale: gradientScale, upstream: ub, threads: threads)
                }
            }
        }
    }
}

/// ``pointwiseLoss(_:input:target:values:gradient:gradientScale:upstream:threads:)`` on
/// spans, writing the per-element losses and the gradient.
public func pointwiseLoss<T: KernelScalar>(
    _ kind: PointwiseLossKind, input: Span<T>, target: Span<T>, values: inout MutableSpan<T>,
    gradient: inout MutableSpan<T>, gradientScale: T = 1, upstream: Span<T>? = nil, threads: Int = 1
) throws -> T {
    try input.withUnsafeBufferPointer { xb in
        try target.withUnsafeBufferPointer { yb in
            try withBuffer(upstream) { ub in
                try values.withUnsafeMutableBufferPointer { vb in
                    try gradient.withUnsafeMutableBufferPointer {
                        try pointwiseLoss(
                            kind, input: xb, target: yb, values: vb, gradient: $0, gradientScale: gradientScale,
                            upstream: ub, threads: threads)
                    }
                }
            }
        }
    }
}

// MARK: - Softmax cross-entropy

/// ``softmaxCrossEntropy(logits:targets:layout:classWeights:ignoreIndex:labelSmoothing:losses:gradient:gradientScale:upstream:threads:)-(UnsafeBufferPointer<T>,_,_,_,_,_,_,_,_,_,_)``
/// on spans, class-index targets, losses only.
public func softmaxCrossEntropy<T: KernelScalar>(
    logits: Span<T>, targets: Span<Int>, layout: AxisLayout, classWeights: Span<T>? = nil, ignoreIndex: Int = -100,
    labelSmoothing: T = 0, losses: inout MutableSpan<T>, threads: Int = 1
) throws {
    try logits.withUnsafeBufferPointer { xb in
        try targets.withUnsafeBufferPointer { tb in
            try withBuffer(classWeights) { wb in
                try losses.withUnsafeMutableBufferPointer {
                    try softmaxCrossEntropy(
                        logits: xb, targets: tb, layout: layout, classWeights: wb, ignoreIndex: ignoreIndex,
                        labelSmoothing: labelSmoothing, losses: $0, threads: threads)
                }
            }
        }
    }
}

/// ``softmaxCrossEntropy(logits:targets:layout:classWeights:ignoreIndex:labelSmoothing:losses:gradient:gradientScale:upstream:threads:)``
/// on spans, class-index targets, losses and gradient.
public func softmaxCrossEntropy<T: KernelScalar>(
    logits: Span<T>, targets: Span<Int>, layout: AxisLayout, classWeights: Span<T>? = nil, ignoreIndex: Int = -100,
    labelSmoothing: T = 0, losses: inout MutableSpan<T>, gradient: inout MutableSpan<T>, gradientScale: T = 1,
    upstream: Span<T>? = nil, threads: Int = 1
) throws {
    try logits.withUnsafeBufferPointer { xb in
        try targets.withUnsafeBufferPointer { tb in
            try withBuffer(classWeights) { wb in
                try withBuffer(upstream) { ub in
                    try losses.withUnsafeMutableBufferPointer { lb in
                        try gradient.withUnsafeMutableBufferPointer {
                            try softmaxCrossEntropy(
                                logits: xb, targets: tb, layout: layout, classWeights: wb, ignoreIndex: ignoreIndex,
                                labelSmoothing: labelSmoothing, losses: lb, gradient: $0, gradientScale: gradientScale,
                                upstream: ub, threads: threads)
                        }
                    }
                }
            }
        }
    }
}

/// ``softmaxCrossEntropy(logits:targets:layout:classWeights:labelSmoothing:losses:gradient:targetGradient:gradientScale:upstream:threads:)-(UnsafeBufferPointer<T>,_,_,_,_,_,_,_,_,_,_)``
/// on spans, probability targets, losses only.
public func softmaxCrossEntropy<T: KernelScalar>(
    logits: Span<T>, targets: Span<T>, layout: AxisLayout, classWeights: Span<T>? = nil, labelSmoothing: T = 0,
    losses: inout MutableSpan<T>, threads: Int = 1
) throws {
    try logits.withUnsafeBufferPointer { xb in
        try targets.withUnsafeBufferPointer { qb in
            try withBuffer(classWeights) { wb in
                try losses.withUnsafeMutableBufferPointer {
                    try softmaxCrossEntropy(
                        logits: xb, targets: qb, layout: layout, classWeights: wb, labelSmoothing: labelSmoothing,
                        losses: $0, threads: threads)
                }
            }
        }
    }
}

/// ``softmaxCrossEntropy(logits:targets:layout:classWeights:labelSmoothing:losses:gradient:targetGradient:gradientScale:upstream:threads:)-(UnsafeBufferPointer<T>,_,_,_,_,_,_,_,_,_,_)``
/// on spans, probability targets, losses and the logits' gradient.
public func softmaxCrossEntropy<T: KernelScalar>(
    logits: Span<T>, targets: Span<T>, layout: AxisLayout, classWeights: Span<T>? = nil, labelSmoothing: T = 0,
    losses: inout MutableSpan<T>, gradient: inout MutableSpan<T>, gradientScale: T = 1, upstream: Span<T>? = nil,
    threads: Int = 1
) throws {
    try logits.withUnsafeBufferPointer { xb in
        try targets.withUnsafeBufferPointer { qb in
            try withBuffer(classWeights) { wb in
                try withBuffer(upstream) { ub in
                    try losses.withUnsafeMutableBufferPointer { lb in
                        try gradient.withUnsafeMutableBufferPointer {
                            try softmaxCrossEntropy(
                                logits: xb, targets: qb, layout: layout, classWeights: wb, labelSmoothing: labelSmoothing,
                                losses: lb, gradient: $0, gradientScale: gradientScale, upstream: ub, threads: threads)
                        }
                    }
                }
            }
        }
    }
}

/// ``softmaxCrossEntropy(logits:targets:layout:classWeights:labelSmoothing:losses:gradient:targetGradient:gradientScale:upstream:threads:)``
/// on spans, probability targets, losses and both gradients.
public func softmaxCrossEntropy<T: KernelScalar>(
    logits: Span<T>, targets: Span<T>, layout: AxisLayout, classWeights: Span<T>? = nil, labelSmoothing: T = 0,
    losses: inout MutableSpan<T>, gradient: inout MutableSpan<T>, targetGradient: inout MutableSpan<T>,
    gradientScale: T = 1, upstream: Span<T>? = nil, threads: Int = 1
) throws {
    try logits.withUnsafeBufferPointer { xb in
        try targets.withUnsafeBufferPointer { qb in
            try withBuffer(classWeights) { wb in
                try withBuffer(upstream) { ub in
                    try losses.withUnsafeMutableBufferPointer { lb in
                        try gradient.withUnsafeMutableBufferPointer { gb in
                            try targetGradient.withUnsafeMutableBufferPointer {
                                try softmaxCrossEntropy(
                                    logits: xb, targets: qb, layout: layout, classWeights: wb,
                                    labelSmoothing: labelSmoothing, losses: lb, gradient: gb, targetGradient: $0,
                                    gradientScale: gradientScale, upstream: ub, threads: threads)
                            }
                        }
                    }
                }
            }
        }
    }
}

// MARK: - Linear algebra

/// ``matrixMultiply(_:_:rows:columns:inner:opA:opB:alpha:beta:into:)`` on spans.
public func matrixMultiply<T: KernelScalar>(
    _ a: Span<T>, _ b: Span<T>, rows: Int, columns: Int, inner: Int, opA: MatrixOperand = .normal,
    opB: MatrixOperand = .normal, alpha: T = 1, beta: T = 0, into c: inout MutableSpan<T>
) throws {
    try a.withUnsafeBufferPointer { ab in
        try b.withUnsafeBufferPointer { bb in
            try c.withUnsafeMutableBufferPointer {
                try matrixMultiply(
                    ab, bb, rows: rows, columns: columns, inner: inner, opA: opA, opB: opB, alpha: alpha, beta: beta,
                    into: $0)
            }
        }
    }
}

/// ``solveLeastSquares(_:rows:columns:_:rightHandSides:)`` on spans.
public func solveLeastSquares<T: KernelScalar>(
    _ a: inout MutableSpan<T>, rows: Int, columns: Int, _ b: inout MutableSpan<T>, rightHandSides: Int = 1
) throws {
    try a.withUnsafeMutableBufferPointer { ab in
        try b.withUnsafeMutableBufferPointer {
            try solveLeastSquares(ab, rows: rows, columns: columns, $0, rightHandSides: rightHandSides)
        }
    }
}

// MARK: - Linear head + cross-entropy

/// ``linearCrossEntropy(input:weight:bias:targets:classWeights:shape:options:losses:gradients:gradientScale:upstream:workspace:)``
/// on spans, the losses alone. The workspace (at least
/// ``linearCrossEntropyWorkspaceCount(chunkRows:vocabulary:)`` scalars) is the caller's.
public func linearCrossEntropy<T: KernelScalar>(
    input: Span<T>, weight: Span<T>, bias: Span<T>?, targets: Span<Int>, classWeights: Span<T>? = nil,
    shape: LinearHeadShape, options: LinearCrossEntropyOptions<T>, losses: inout MutableSpan<T>,
    workspace: inout MutableSpan<T>
) throws {
    try input.withUnsafeBufferPointer { xb in
        try weight.withUnsafeBufferPointer { wb in
            try withBuffer(bias) { bb in
                try targets.withUnsafeBufferPointer { tb in
                    try withBuffer(classWeights) { cw in
                        try losses.withUnsafeMutableBufferPointer { lb in
                            try workspace.withUnsafeMutableBufferPointer {
                                try linearCrossEntropy(
                                    input: xb, weight: wb, bias: bb, targets: tb, classWeights: cw, shape: shape,
                                    options: options, losses: lb, gradients: nil, workspace: $0)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// ``linearCrossEntropy(input:weight:bias:targets:classWeights:shape:options:losses:gradients:gradientScale:upstream:workspace:)``
/// on spans, with the gradients written to `inputGradient` (`N × D`), `weightGradient`
/// (`V × D`) and, with a bias, `biasGradient` (`V`).
public func linearCrossEntropy<T: KernelScalar>(
    input: Span<T>, weight: Span<T>, bias: Span<T>?, targets: Span<Int>, classWeights: Span<T>? = nil,
    shape: LinearHeadShape, options: LinearCrossEntropyOptions<T>, losses: inout MutableSpan<T>,
    inputGradient: inout MutableSpan<T>, weightGradient: inout MutableSpan<T>, biasGradient: inout MutableSpan<T>?,
    gradientScale: T = 1, upstream: Span<T>? = nil, workspace: inout MutableSpan<T>
) throws {
    func run(_ gb: UnsafeMutableBufferPointer<T>?) throws {
        try input.withUnsafeBufferPointer { xb in
            try weight.withUnsafeBufferPointer { wb in
                try withBuffer(bias) { bb in
                    try targets.withUnsafeBufferPointer { tb in
                        try withBuffer(classWeights) { cw in
                            try withBuffer(upstream) { ub in
                                try losses.withUnsafeMutableBufferPointer { lb in
                                    try inputGradient.withUnsafeMutableBufferPointer { gx in
                                        try weightGradient.withUnsafeMutableBufferPointer { gw in
                                            try workspace.withUnsafeMutableBufferPointer { ws in
                                                try linearCrossEntropy(
                                                    input: xb, weight: wb, bias: bb, targets: tb, classWeights: cw,
                                                    shape: shape, options: options, losses: lb,
                                                    gradients: LinearCrossEntropyGradients(input: gx, weight: gw, bias: gb),
                                                    gradientScale: gradientScale, upstream: ub, workspace: ws)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    guard var span = biasGradient.take() else { return try run(nil) }
    do {
        try span.withUnsafeMutableBufferPointer { try run($0) }
    } catch {
        biasGradient = consume span
        throw error
    }
    biasGradient = consume span
}
