/// A constant tensor (a per-element `weight`, a `pos_weight`) broadcast against
/// a larger shape the way PyTorch broadcasts: its shape, after dropping leading
/// 1s, must be a suffix of the target shape with each size equal or 1.
struct Broadcast<T: KernelScalar> {
    private let values: [T]
    private let strides: [Int]  // per target dimension; 0 where broadcast
    private let shape: [Int]

    init(_ tensor: Tensor<T>, to target: [Int], argument: String) throws {
        var own = tensor.shape
        while own.count > target.count, own.first == 1 { own.removeFirst() }
        guard own.count <= target.count else {
            throw LossError.shapeMismatch(
                argument: argument, expected: "a shape broadcastable to \(describeShape(target))",
                actual: describeShape(tensor.shape))
        }
        let padded = Array(repeating: 1, count: target.count - own.count) + own
        var strides = Array(repeating: 0, count: target.count)
        var step = 1
        for d in stride(from: target.count - 1, through: 0, by: -1) {
            guard padded[d] == target[d] || padded[d] == 1 else {
                throw LossError.shapeMismatch(
                    argument: argument, expected: "a shape broadcastable to \(describeShape(target))",
                    actual: describeShape(tensor.shape))
            }
            strides[d] = padded[d] == 1 ? 0 : step
            step *= padded[d]
        }
        self.values = tensor.scalars
        self.strides = strides
        self.shape = target
    }

    /// The broadcast value at a flat row-major position of the target shape.
    subscript(flat index: Int) -> T {
        var rest = index, offset = 0
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            let size = shape[d]
            offset += (rest % size) * strides[d]
            rest /= size
        }
        return values[offset]
    }
}

/// An optional broadcast constant; 1 everywhere when absent.
func broadcastOrOne<T: KernelScalar>(_ t: Tensor<T>?, to shape: [Int], argument: String) throws -> (Int) -> T {
    guard let t else { return { _ in 1 } }
    let b = try Broadcast(t, to: shape, argument: argument)
    return { b[flat: $0] }
}
