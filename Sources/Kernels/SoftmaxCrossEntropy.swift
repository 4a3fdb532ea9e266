import CLossKernels

/// Fused softmax cross-entropy with class-index targets, one pass structure per row.
///
/// For a row with logits `x`, target class `t`, class weights `w` (all 1 when
/// absent) and label smoothing `ε` over `C` classes, with `lse = log sum_c exp(x_c)`:
///
///     loss = (1 - ε) w_t (lse - x_t) + (ε / C) sum_c w_c (lse - x_c)
///     d loss / d x_c = p_c ((1 - ε) w_t + (ε / C) sum_k w_k) - (1 - ε) w_t [c = t] - (ε / C) w_c
///
/// where `p = softmax(x)`. This is `torch.nn.functional.cross_entropy` per row
/// (reduction `none`); rows whose target equals `ignoreIndex` get loss 0 and a
/// zero gradient. The gradient written is `gradientScale * upstream[row] * d loss / d x`,
/// so a caller reducing with `mean` passes `gradientScale = 1 / denominator` and
/// gets the final gradient without a second pass over the logits.
///
/// Everything is validated before anything is written: on a thrown error the
/// output buffers are untouched.
///
/// Float16 and BFloat16 compute in Float (the sums of exponentials in Double), as PyTorch
/// accumulates in float32 and returns the input's type; `labelSmoothing` and
/// `gradientScale` are taken at their 16-bit values. Each loss and gradient entry is the
/// Float kernel's result on the widened inputs, rounded once to nearest even. Contiguous
/// rows of 256 classes or more take fused 16-bit rows (three sweeps over each 16-bit row,
/// Float exps kept in a per-thread workspace), which give the Float kernel's in-cache
/// results; the target's entry of a row with `p_t >= 1 - 2^-8`, and rows of 16384 classes
/// or more beyond 8 MiB of Float logits (which the Float kernel reads once by chunks), can
/// differ from it by one unit in the last place of the 16-bit type.
/// - Parameters:
///   - logits: `layout.count` logits; the class axis is `layout.length`.
///   - targets: `layout.rows` class indices, each in `0..<C` or equal to `ignoreIndex`.
///   - layout: how the logits are seen along the class axis (`C = layout.length`).
///   - classWeights: `C` weights, or nil.
///   - ignoreIndex: the target value of rows that contribute nothing.
///   - labelSmoothing: `ε` in `[0, 1]`.
///   - losses: `layout.rows` outputs.
///   - gradient: `layout.count` outputs, or nil for the forward pass alone.
///   - gradientScale: a factor on every gradient entry (`1 / denominator` for `mean`).
///   - upstream: `layout.rows` upstream gradients, or nil for all ones.
///   - threads: rows are split across up to this many threads; results do not depend on it.
public func softmaxCrossEntropy<T: KernelScalar>(
    logits: UnsafeBufferPointer<T>, targets: UnsafeBufferPointer<Int>, layout: AxisLayout,
    classWeights: UnsafeBufferPointer<T>? = nil, ignoreIndex: Int = -100, labelSmoothing: T = 0,
    losses: UnsafeMutableBufferPointer<T>, gradient: UnsafeMutableBufferPointer<T>? = nil,
    gradientScale: T = 1, upstream: UnsafeBufferPointer<T>? = nil, threads: Int = 1
) throws {
    try checkIndexCrossEntropyArguments(
        logits: logits.count, targets: targets, layout: layout, classWeights: classWeights?.count, ignoreIndex: ignoreIndex,
        labelSmoothing: labelSmoothing, losses: losses.count, gradient: gradient?.count, upstream: upstream?.count,
        threads: threads)
    let classes = layout.length
    let xb = base(logits), tb = asI64(base(targets)), lb = base(losses), t = Int32(clamping: threads)
    let wb = classWeights.map { base($0) }, gb = gradient.map { base($0) }, ub = upstream.map { base($0) }
    if isSixteenBit(T.self) {
        if lk_ce_index_h16(
            asH(xb), tb, wb.map { asH($0) }, Int64(ignoreIndex), Float(labelSmoothing), layout.outer, classes,
            layout.inner, asH(lb), nil, gb.map { asH($0) }, ub.map { asH($0) }, Float(gradientScale), halfFormat(T.self), t)
            == 0 { return }
        var lf = floatOutput(losses), gf = floatOutput(gradient)
        try floatCopy(logits).withUnsafeBufferPointer { xf in
            try withFloatBuffer(floatCopy(optional: classWeights)) { wf in
                try withFloatBuffer(floatCopy(optional: upstream)) { uf in
                    try withFloatMutableBuffer(&lf) { lb in
                        try withFloatMutableBuffer(&gf) { gb in
                            try softmaxCrossEntropy(
                                logits: xf, targets: targets, layout: layout, classWeights: wf, ignoreIndex: ignoreIndex,
                                labelSmoothing: Float(labelSmoothing), losses: lb!, gradient: gb,
                                gradientScale: Float(gradientScale), upstream: uf, threads: threads)
                        }
                    }
                }
            }
        }
        storeRounded(lf, losses)
        return storeRounded(gf, gradient)
    }
    let precision = try requireCKernels(T.self)
    switch precision {
    case .single:
        lk_ce_index_f32(
            asF(xb), tb, wb.map { asF($0) }, Int64(ignoreIndex), Float(labelSmoothing), layout.outer, classes,
            layout.inner, asF(lb), gb.map { asF($0) }, ub.map { asF($0) }, Float(gradientScale), t)
    case .double:
        lk_ce_index_f64(
            asD(xb), tb, wb.map { asD($0) }, Int64(ignoreIndex), Double(labelSmoothing), layout.outer, classes,
            layout.inner, asD(lb), gb.map { asD($0) }, ub.map { asD($0) }, Double(gradientScale), t)
    }
}

/// The 16-bit cross-entropy with class indices of `softmaxCrossEntropy(logits:targets:...)`
/// with its per-row losses in Float, not rounded (for the loss layer, which reduces them in
/// Float), and its options in Float. Validates as that function does; false (nothing
/// written) when the native kernel's workspace cannot be allocated.
package func sixteenBitCrossEntropy<T: KernelScalar>(
    logits: UnsafeBufferPointer<T>, targets: UnsafeBufferPointer<Int>, layout: AxisLayout,
    classWeights: UnsafeBufferPointer<T>?, ignoreIndex: Int, labelSmoothing: Float,
    losses: UnsafeMutableBufferPointer<Float>, gradient: UnsafeMutableBufferPointer<T>?,
    gradientScale: Float, upstream: UnsafeBufferPointer<T>?, threads: Int
) throws -> Bool {
    precondition(isSixteenBit(T.self))
    try checkIndexCrossEntropyArguments(
        logits: logits.count, targets: targets, layout: layout, classWeights: classWeights?.count, ignoreIndex: ignoreIndex,
        labelSmoothing: labelSmoothing, losses: losses.count, gradient: gradient?.count, upstream: upstream?.count,
        threads: threads)
    let wb = classWeights.map { asH(base($0)) }, gb = gradient.map { asH(base($0)) }, ub = upstream.map { asH(base($0)) }
    return lk_ce_index_h16(
        asH(base(logits)), asI64(base(targets)), wb, Int64(ignoreIndex), labelSmoothing, layout.outer, layout.length,
        layout.inner, nil, base(losses), gb, ub, gradientScale, halfFormat(T.self), Int32(clamping: threads)) == 0
}

/// Fused softmax cross-entropy with probability targets `q` (same layout as the logits).
///
/// With smoothed targets `q' = (1 - ε) q + ε / C` and class weights `w`:
///
///     loss = sum_c w_c q'_c (lse - x_c)
///     d loss / d x_c = p_c sum_k w_k q'_k - w_c q'_c
///     d loss / d q_c = (1 - ε) w_c (lse - x_c)
///
/// as `torch.nn.functional.cross_entropy` with a floating-point target (reduction
/// `none`). Targets are not required to sum to one, as in PyTorch. Both gradients
/// are scaled by `gradientScale * upstream[row]`.
public func softmaxCrossEntropy<T: KernelScalar>(
    logits: UnsafeBufferPointer<T>, targets: UnsafeBufferPointer<T>, layout: AxisLayout,
    classWeights: UnsafeBufferPointer<T>? = nil, labelSmoothing: T = 0,
    losses: UnsafeMutableBufferPointer<T>, gradient: UnsafeMutableBufferPointer<T>? = nil,
    targetGradient: UnsafeMutableBufferPointer<T>? = nil,
    gradientScale: T = 1, upstream: UnsafeBufferPointer<T>? = nil, threads: Int = 1
) throws {
    try checkCrossEntropyArguments(
        logits: logits.count, layout: layout, classWeights: classWeights?.count, labelSmoothing: labelSmoothing,
        losses: losses.count, gradient: gradient?.count, upstream: upstream?.count, threads: threads)
    try checkCount("target", targets.count, layout.count, layout)
    if let targetGradient { try checkCount("target gradient", targetGradient.count, layout.count, layout) }
    let xb = base(logits), qb = base(targets), lb = base(losses), t = Int32(clamping: threads)
    let wb = classWeights.map { base($0) }, gb = gradient.map { base($0) }
    let gq = targetGradient.map { base($0) }, ub = upstream.map { base($0) }
    if isSixteenBit(T.self) {
        if lk_ce_prob_h16(
            asH(xb), asH(qb), wb.map { asH($0) }, Float(labelSmoothing), layout.outer, layout.length, layout.inner,
            asH(lb), gb.map { asH($0) }, gq.map { asH($0) }, ub.map { asH($0) }, Float(gradientScale),
            halfFormat(T.self), t) == 0 { return }
        var lf = floatOutput(losses), gf = floatOutput(gradient), qf = floatOutput(targetGradient)
        try floatCopy(logits).withUnsafeBufferPointer { xf in
            try floatCopy(targets).withUnsafeBufferPointer { tf in
                try withFloatBuffer(floatCopy(optional: classWeights)) { wf in
                    try withFloatBuffer(floatCopy(optional: upstream)) { uf in
                        try withFloatMutableBuffer(&lf) { lb in
                            try withFloatMutableBuffer(&gf) { gb in
                                try withFloatMutableBuffer(&qf) { qb in
                                    try softmaxCrossEntropy(
                                        logits: xf, targets: tf, layout: layout, classWeights: wf,
                                        labelSmoothing: Float(labelSmoothing), losses: lb!, gradient: gb, targetGradient: qb,
                                        gradientScale: Float(gradientScale), upstream: uf, threads: threads)
                                }
                            }
                        }
                    }
                }
            }
        }
        storeRounded(lf, losses)
        storeRounded(gf, gradient)
        return storeRounded(qf, targetGradient)
    }
    let precision = try requireCKernels(T.self)
    switch precision {
    case .single:
        lk_ce_prob_f32(
            asF(xb), asF(qb), wb.map { asF($0) }, Float(labelSmoothing), layout.outer, layout.length, layout.inner,
            asF(lb), gb.map { asF($0) }, gq.map { asF($0) }, ub.map { asF($0) }, Float(gradientScale), t)
    case .double:
        lk_ce_prob_f64(
            asD(xb), asD(qb), wb.map { asD($0) }, Double(labelSmoothing), layout.outer, layout.length, layout.inner,
            asD(lb), gb.map { asD($0) }, gq.map { asD($0) }, ub.map { asD($0) }, Double(gradientScale), t)
    }
}

/// Throws ``LossError/indexOutOfRange(argument:position:index:validRange:)`` for the
/// first target that is neither in `0..<classes` nor `ignoreIndex`. The common case,
/// no bad target, costs one sweep of vector compares in C (an unsigned compare catches
/// negatives too), at about the time of reading the targets. Only a bad batch pays for
/// the scan that finds the first.
package func checkClassIndices(_ targets: UnsafeBufferPointer<Int>, classes: Int, ignoreIndex: Int) throws {
    guard let first = targets.baseAddress,
        lk_targets_valid(asI64(first), targets.count, Int64(classes), Int64(ignoreIndex)) == 0
    else { return }
    for (position, t) in targets.enumerated() where t != ignoreIndex && (t < 0 || t >= classes) {
        throw LossError.indexOutOfRange(argument: "target", position: position, index: t, validRange: "[0, \(classes))")
    }
}

/// `checkCrossEntropyArguments` and the class-index targets: their count and each value.
func checkIndexCrossEntropyArguments<T: KernelScalar>(
    logits: Int, targets: UnsafeBufferPointer<Int>, layout: AxisLayout, classWeights: Int?, ignoreIndex: Int,
    labelSmoothing: T, losses: Int, gradient: Int?, upstream: Int?, threads: Int
) throws {
    try checkCrossEntropyArguments(
        logits: logits, layout: layout, classWeights: classWeights, labelSmoothing: labelSmoothing, losses: losses,
        gradient: gradient, upstream: upstream, threads: threads)
    try checkCount("target", targets.count, layout.rows, layout)
    try checkClassIndices(targets, classes: layout.length, ignoreIndex: ignoreIndex)
}

func checkCrossEntropyArguments<T: KernelScalar>(
    logits: Int, layout: AxisLayout, classWeights: Int?, labelSmoothing: T, losses: Int, gradient: Int?,
    upstream: Int?, threads: Int
) throws {
    try checkThreads(threads)
    try layout.validate()
    try checkCount("input", logits, layout.count, layout)
    guard layout.length > 0 || layout.rows == 0 else {
        throw LossError.emptyInput(argument: "input", reason: "cross-entropy needs at least one class")
    }
    if let classWeights, classWeights != layout.length {
        throw LossError.shapeMismatch(
            argument: "weight", expected: "[\(layout.length)] (one weight per class)", actual: "[\(classWeights)]")
    }
    guard labelSmoothing >= 0 && labelSmoothing <= 1 else {
        throw LossError.invalidOption(name: "label_smoothing", value: "\(labelSmoothing)", expected: "a value in [0, 1]")
    }
    try checkCount("losses", losses, layout.rows, layout)
    if let gradient { try checkCount("gradient", gradient, layout.count, layout) }
    if let upstream { try checkCount("upstream", upstream, layout.rows, layout) }
}
