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

/// PyTorch's broadcast shape of several tensors: shapes aligned at their last
/// dimension, each size equal to the others' or 1 (a missing leading dimension counts as 1).
/// - Throws: ``/Kernels/LossError/shapeMismatch(argument:expected:actual:)`` naming the first
///   operand that does not broadcast against those before it.
func broadcastShape(_ operands: [(name: String, shape: [Int])]) throws -> [Int] {
    var result: [Int] = []
    for (k, operand) in operands.enumerated() {
        let shape = operand.shape
        let rank = max(result.count, shape.count)
        let a = Array(repeating: 1, count: rank - result.count) + result
        let b = Array(repeating: 1, count: rank - shape.count) + shape
        var merged: [Int] = []
        for d in 0..<rank {
            guard a[d] == b[d] || a[d] == 1 || b[d] == 1 else {
                let others = operands[..<k].map { "\($0.name) \(describeShape($0.shape))" }.joined(separator: ", ")
                throw LossError.shapeMismatch(
                    argument: operand.name, expected: "a shape that broadcasts with \(others)", actual: describeShape(shape))
            }
            merged.append(a[d] == 1 ? b[d] : a[d])
        }
        result = merged
    }
    _ = try checkedElementCount(result, argument: operands.last?.name ?? "shape")
    return result
}

/// The element count of a shape known to be valid (a tensor's, or checked by
/// ``broadcastShape(_:)``): 0 when a size is 0, whatever the others multiply to.
private func validCount(_ shape: [Int]) -> Int { shape.contains(0) ? 0 : shape.reduce(1, *) }

/// For each element of `target` (row-major), the flat index of the element of a
/// tensor of `shape` that broadcasts to it. `shape` must broadcast to `target`.
private func broadcastSourceIndices(_ shape: [Int], to target: [Int]) -> [Int] {
    let count = validCount(target)
    guard count > 0 else { return [] }
    let padded = Array(repeating: 1, count: target.count - shape.count) + shape
    var strides = [Int](repeating: 0, count: target.count)
    var step = 1
    for d in stride(from: target.count - 1, through: 0, by: -1) {
        strides[d] = padded[d] == 1 ? 0 : step
        step *= padded[d]
    }
    var out = [Int](repeating: 0, count: count)
    var index = [Int](repeating: 0, count: target.count)
    var offset = 0
    for flat in 0..<count {
        out[flat] = offset
        var d = target.count - 1
        while d >= 0 {
            index[d] += 1
            offset += strides[d]
            if index[d] < target[d] { break }
            offset -= strides[d] * target[d]
            index[d] = 0
            d -= 1
        }
    }
    return out
}

extension Tensor where Scalar: KernelScalar {
    /// The tensor repeated along broadcast dimensions to `shape` (itself when it has
    /// that shape already). `shape` comes from ``broadcastShape(_:)`` with this tensor's shape.
    func broadcast(to shape: [Int]) -> Tensor {
        guard self.shape != shape else { return self }
        let source = scalars
        return Tensor(uncheckedShape: shape, scalars: broadcastSourceIndices(self.shape, to: shape).map { source[$0] })
    }

    /// A gradient with respect to a broadcast copy, summed over the broadcast
    /// dimensions back to `shape` (accumulated in Double): the gradient with respect
    /// to the tensor of `shape` that was broadcast.
    func summed(to shape: [Int]) -> Tensor {
        guard self.shape != shape else { return self }
        var total = [Double](repeating: 0, count: validCount(shape))
        let indices = broadcastSourceIndices(shape, to: self.shape)
        withUnsafeBufferPointer { g in
            for (flat, k) in indices.enumerated() { total[k] += Double(g[flat]) }
        }
        return Tensor(uncheckedShape: shape, scalars: total.map { Scalar($0) })
    }
}
