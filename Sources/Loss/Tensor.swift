/// A shape-carrying, row-major buffer of scalars: LossKit's currency for inputs,
/// outputs and gradients.
///
/// A tensor owns an array, or, inside ``withBorrowing(_:shape:_:)``, reads memory
/// the caller lends for the duration of a closure, without a copy. A 0-d tensor
/// (shape `[]`) holds one scalar.
///
/// `@unchecked Sendable`: an owned tensor holds an immutable array; a borrowing
/// one holds a read-only pointer into memory that stays alive and unchanged for
/// the closure that sees it, and LossKit never writes through it.
public struct Tensor<Scalar>: @unchecked Sendable {
    @usableFromInline enum Storage {
        case owned([Scalar])
        case borrowed(UnsafeBufferPointer<Scalar>)
    }

    /// The sizes of the dimensions, outermost first. `[]` is a scalar.
    public let shape: [Int]
    @usableFromInline let storage: Storage

    /// A tensor of the given shape holding `scalars` in row-major order.
    /// - Throws: ``/Kernels/LossError/shapeMismatch(argument:expected:actual:)`` when the
    ///   count is not the product of the shape, a dimension is negative, or the
    ///   product of the shape does not fit an `Int`.
    public init(shape: [Int], scalars: [Scalar]) throws {
        try Tensor.check(shape: shape, count: scalars.count)
        self.shape = shape
        self.storage = .owned(scalars)
    }

    /// A 1-d tensor.
    public init(_ scalars: [Scalar]) {
        self.shape = [scalars.count]
        self.storage = .owned(scalars)
    }

    /// A 0-d tensor holding one scalar.
    public init(scalar: Scalar) {
        self.shape = []
        self.storage = .owned([scalar])
    }

    /// A tensor reading `buffer` without copying it: internal, for scopes that end
    /// before the memory does (``withBorrowing(_:shape:_:)``).
    init(borrowing buffer: UnsafeBufferPointer<Scalar>, shape: [Int]) throws {
        try Tensor.check(shape: shape, count: buffer.count)
        self.shape = shape
        self.storage = .borrowed(buffer)
    }

    /// Calls `body` with a tensor of `shape` that reads `span`'s memory without
    /// copying it: a caller's buffer passed to a loss without a copy.
    ///
    /// ```swift
    /// let loss = try Tensor.withBorrowing(logits.span, shape: [64, 10]) { x in
    ///     try CrossEntropyLoss<Float>()(x, classes)
    /// }
    /// ```
    ///
    /// The tensor is a `borrowing` parameter: it cannot be stored or returned
    /// without an explicit `copy`, which would outlive the memory. Results the
    /// closure computes from it (losses, gradients) are owned tensors.
    /// - Throws: ``/Kernels/LossError/shapeMismatch(argument:expected:actual:)`` when the
    ///   span's count is not the product of `shape`, and whatever `body` throws.
    public static func withBorrowing<R>(
        _ span: Span<Scalar>, shape: [Int], _ body: (borrowing Tensor<Scalar>) throws -> R
    ) throws -> R {
        try span.withUnsafeBufferPointer { buffer in
            let tensor = try Tensor(borrowing: buffer, shape: shape)
            return try body(tensor)
        }
    }

    @usableFromInline init(uncheckedShape shape: [Int], scalars: [Scalar]) {
        self.shape = shape
        self.storage = .owned(scalars)
    }

    static func check(shape: [Int], count: Int) throws {
        let expected = try checkedElementCount(shape)
        guard expected == count else {
            throw LossError.shapeMismatch(
                argument: "scalars", expected: "\(expected) elements for shape \(describeShape(shape))",
                actual: "\(count) elements")
        }
    }

    /// The number of dimensions.
    public var rank: Int { shape.count }
    /// The number of scalars: the product of the shape.
    public var count: Int {
        switch storage {
        case .owned(let a): return a.count
        case .borrowed(let b): return b.count
        }
    }

    /// The scalars in row-major order (a copy when the storage is borrowed).
    public var scalars: [Scalar] {
        switch storage {
        case .owned(let a): return a
        case .borrowed(let b): return Array(b)
        }
    }

    /// The single scalar of a tensor with one element (a 0-d tensor, typically).
    public var scalar: Scalar? { count == 1 ? self[flat: 0] : nil }

    /// The scalar at a flat row-major position.
    public subscript(flat index: Int) -> Scalar {
        switch storage {
        case .owned(let a): return a[index]
        case .borrowed(let b): return b[index]
        }
    }

    /// Calls `body` with the scalars, without copying.
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Scalar>) throws -> R) rethrows -> R {
        switch storage {
        case .owned(let a): return try a.withUnsafeBufferPointer(body)
        case .borrowed(let b): return try body(b)
        }
    }

    /// The same scalars seen with another shape of the same element count.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        try Tensor.check(shape: newShape, count: count)
        return Tensor(uncheckedShape: newShape, scalars: scalars)
    }

    /// A new tensor with `transform` applied to each scalar.
    public func map<U>(_ transform: (Scalar) throws -> U) rethrows -> Tensor<U> {
        Tensor<U>(uncheckedShape: shape, scalars: try withUnsafeBufferPointer { try $0.map(transform) })
    }
}

extension Tensor: Equatable where Scalar: Equatable {
    public static func == (a: Tensor, b: Tensor) -> Bool { a.shape == b.shape && a.scalars == b.scalars }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let values = scalars.prefix(16).map { "\($0)" }.joined(separator: ", ")
        return "Tensor(shape: \(describeShape(shape)), [\(values)\(count > 16 ? ", ..." : "")])"
    }
}

extension Tensor where Scalar: KernelScalar {
    /// A tensor of zeros.
    /// - Throws: ``/Kernels/LossError/shapeMismatch(argument:expected:actual:)`` for a bad
    ///   shape (see ``/Kernels/checkedElementCount(_:argument:)``) or one whose zeros would
    ///   not fit in memory, before anything is allocated.
    public init(zeros shape: [Int]) throws {
        let count = try checkedElementCount(shape)
        try checkAllocation(count, of: Scalar.self, argument: "shape", shape: shape)
        self.init(uncheckedShape: shape, scalars: Array(repeating: 0, count: count))
    }

    /// The same values in another precision (16-bit to and from Float with vector conversions,
    /// the same values as `U.init`).
    public func converted<U: KernelScalar>(to: U.Type = U.self) -> Tensor<U> {
        Tensor<U>(uncheckedShape: shape, scalars: convertedScalars(scalars, to: U.self))
    }
}

/// `[body(0), body(1), ..., body(count - 1)]`, written in place by a plain loop that is
/// specialized with its caller (in the Float and Double loss passes, `(0..<count).map`
/// was left generic: a metadata lookup per element).
@inline(__always)
func generatedArray<Scalar>(count: Int, _ body: (Int) throws -> Scalar) rethrows -> [Scalar] {
    try [Scalar](unsafeUninitializedCapacity: count) { buffer, initialized in
        for i in 0..<count {
            (buffer.baseAddress! + i).initialize(to: try body(i))
            initialized = i + 1
        }
    }
}
