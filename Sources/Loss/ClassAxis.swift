/// PyTorch's class-axis conventions for `cross_entropy` and `nll_loss`: an input
/// of shape `(C)`, `(N, C)` or `(N, C, d1, ..., dk)` has its classes on axis 1
/// (axis 0 for a 1-d input), and per-sample results have the input's shape
/// without that axis.
struct ClassAxis {
    let layout: AxisLayout
    /// The shape of per-sample values (and of class-index targets).
    let sampleShape: [Int]

    init(inputShape: [Int], argument: String = "input") throws {
        guard !inputShape.isEmpty else {
            throw LossError.shapeMismatch(
                argument: argument, expected: "(C), (N, C) or (N, C, d1, ..., dk)", actual: describeShape(inputShape))
        }
        let axis = inputShape.count == 1 ? 0 : 1
        layout = try AxisLayout(shape: inputShape, axis: axis)
        var s = inputShape
        s.remove(at: axis)
        sampleShape = s
        guard layout.length > 0 || layout.rows == 0 else {
            throw LossError.emptyInput(
                argument: argument, reason: "its class axis has length 0, so there is no class to predict")
        }
    }

    var classes: Int { layout.length }

    func checkIndexTargets(_ target: Tensor<Int>) throws {
        guard target.shape == sampleShape else {
            throw LossError.shapeMismatch(
                argument: "target", expected: "\(describeShape(sampleShape)) (the input's shape without the class axis)",
                actual: describeShape(target.shape))
        }
    }

    func checkClassWeights<T>(_ weight: Tensor<T>?) throws {
        guard let weight else { return }
        guard weight.shape == [classes] else {
            throw LossError.shapeMismatch(
                argument: "weight", expected: "[\(classes)] (one weight per class)", actual: describeShape(weight.shape))
        }
    }

    /// Checks class indices before anything is computed.
    func checkIndices(_ target: Tensor<Int>, ignoreIndex: Int) throws {
        try target.withUnsafeBufferPointer { try checkClassIndices($0, classes: classes, ignoreIndex: ignoreIndex) }
    }

    /// PyTorch's mean denominator for class-index targets: the sum of the target
    /// classes' weights over samples not ignored (their count without weights).
    /// Zero when every sample is ignored, which makes the mean NaN, as in PyTorch.
    func meanDenominator<T: KernelScalar>(_ target: Tensor<Int>, weight: Tensor<T>?, ignoreIndex: Int) -> T {
        var total = 0.0
        target.withUnsafeBufferPointer { t in
            for index in t where index != ignoreIndex {
                total += weight.map { Double($0[flat: index]) } ?? 1
            }
        }
        return T(total)
    }
}

/// Calls `body` with the scalars of an optional tensor (nil when absent).
func withOptionalBuffer<T, R>(_ t: Tensor<T>?, _ body: (UnsafeBufferPointer<T>?) throws -> R) rethrows -> R {
    guard let t else { return try body(nil) }
    return try t.withUnsafeBufferPointer { try body($0) }
}
