#if canImport(Foundation)
import Foundation
#endif

/// How a row-major tensor is seen by a kernel that works along one axis:
/// `outer` blocks of `length` entries along the axis, each entry followed by
/// `inner` contiguous positions. Element `(o, c, i)` sits at
/// `(o * length + c) * inner + i`, and per-row results at `o * inner + i`.
///
/// A `(rows, columns)` matrix reduced along its columns is
/// `AxisLayout(outer: rows, length: columns, inner: 1)`; PyTorch's class axis
/// of an `(N, C, d1, ..., dk)` tensor is `AxisLayout(shape: shape, axis: 1)`.
public struct AxisLayout: Sendable, Equatable, CustomStringConvertible {
    /// The number of blocks before the axis: the product of the sizes in front of it.
    public var outer: Int
    /// The length of the axis the kernel works along (the class count, for cross-entropy).
    public var length: Int
    /// The number of contiguous positions after each entry of the axis: the product of the sizes behind it (1
    /// when the axis is last).
    public var inner: Int

    /// A layout of `outer` blocks of `length` entries along the axis, each followed by `inner` positions.
    /// Kernels check it with ``validate()`` before they read a buffer.
    public init(outer: Int, length: Int, inner: Int = 1) {
        self.outer = outer
        self.length = length
        self.inner = inner
    }

    /// The layout of `shape` along `axis`; a negative axis counts from the end, as in PyTorch.
    /// A 0-d tensor is treated as shape `[1]` (PyTorch allows `dim` 0 and -1 there).
    /// - Throws: ``LossError/invalidOption(name:value:expected:)`` for an axis out of
    ///   range, ``LossError/shapeMismatch(argument:expected:actual:)`` for a negative
    ///   size or a shape whose element count does not fit an `Int`.
    public init(shape: [Int], axis: Int) throws {
        _ = try checkedElementCount(shape)
        let dims = shape.isEmpty ? [1] : shape
        let rank = dims.count
        guard axis >= -rank && axis < rank else {
            throw LossError.invalidOption(
                name: "dim", value: String(axis), expected: "a dimension in [\(-rank), \(rank - 1)] for shape \(describeShape(shape))")
        }
        let a = axis < 0 ? axis + rank : axis
        outer = dims[..<a].reduce(1, *)
        length = dims[a]
        inner = dims[(a + 1)...].reduce(1, *)
    }

    /// Throws ``LossError/shapeMismatch(argument:expected:actual:)`` unless every
    /// field is non-negative and `count` and `rows` fit an `Int`. Every kernel
    /// calls this before it looks at a buffer, so a layout built by hand with a
    /// negative or huge field is an error, never a trap or an out-of-bounds access.
    public func validate() throws {
        // The error (and its message) is built only on failure: kernels call this on
        // every call and allocate nothing on success.
        func bad() -> LossError {
            .shapeMismatch(
                argument: "layout", expected: "non-negative outer, length and inner whose product fits an Int",
                actual: description)
        }
        guard outer >= 0, length >= 0, inner >= 0 else { throw bad() }
        let (block, o1) = length.multipliedReportingOverflow(by: inner)
        let (all, o2) = outer.multipliedReportingOverflow(by: block)
        let (rows, o3) = outer.multipliedReportingOverflow(by: inner)
        guard !o1, !o2, !o3, all >= 0, rows >= 0 else { throw bad() }
    }

    /// Number of elements: `outer * length * inner`.
    public var count: Int { outer * length * inner }
    /// Number of rows (results of a reduction along the axis): `outer * inner`.
    public var rows: Int { outer * inner }

    public var description: String { "(outer: \(outer), length: \(length), inner: \(inner))" }
}

/// The number of elements of `shape` (1 for `[]`).
///
/// A shape is valid when every size is non-negative and the product of its sizes,
/// **zero sizes aside**, fits an `Int`: every row count derived from it (`outer`,
/// `inner`, their product) is then representable. A shape with a zero size holds no
/// data, yet its other sizes still set how many per-row results a reduction over its
/// empty axis has (`sum` of a `(5, 0)` tensor along `dim=1` is five zeros, as in
/// PyTorch); such a shape may describe at most ``maximumEmptyShapeRows`` of them,
/// so that no result or scratch buffer sized by those rows can outgrow memory.
/// - Throws: ``LossError/shapeMismatch(argument:expected:actual:)`` for a negative
///   size, a product that does not fit an `Int` (instead of trapping), or a shape
///   without elements whose other sizes exceed ``maximumEmptyShapeRows``.
public func checkedElementCount(_ shape: [Int], argument: String = "shape") throws -> Int {
    guard shape.allSatisfy({ $0 >= 0 }) else {
        throw LossError.shapeMismatch(argument: argument, expected: "non-negative sizes", actual: describeShape(shape))
    }
    // The product of the sizes other than zero: a bound on every row count of the shape.
    var product = 1
    for d in shape where d != 0 {
        let (p, overflow) = product.multipliedReportingOverflow(by: d)
        guard !overflow else {
            throw LossError.shapeMismatch(
                argument: argument, expected: "sizes whose product fits an Int", actual: describeShape(shape))
        }
        product = p
    }
    guard shape.contains(0) else { return product }
    guard product <= maximumEmptyShapeRows else {
        throw LossError.shapeMismatch(
            argument: argument,
            expected: "a shape without elements whose other sizes multiply to at most \(maximumEmptyShapeRows)"
                + " (they set the number of per-row results)",
            actual: describeShape(shape))
    }
    return 0
}

/// The most rows a shape without elements may describe: its sizes other than zero
/// multiplied (see ``checkedElementCount(_:argument:)``), 2^24. A reduction over the
/// empty axis of such a shape has one result per row with no data behind it, so a
/// `.npy` header or reference file claiming `(2^62, 0)` must not size buffers or
/// loops: with this bound no such result exceeds 128 MiB (in Double) or takes more
/// than a few seconds. An empty batch of 4096 × 4096 images, `(0, 4096, 4096)`, is
/// within it; PyTorch has no such bound (it would run out of memory instead).
public let maximumEmptyShapeRows = 1 << 24

/// The most scalars of type `T` one result may hold: the machine's physical memory.
/// - Throws: ``LossError/shapeMismatch(argument:expected:actual:)`` when `count`
///   elements of `T` do not fit in it, before anything is allocated.
public func checkAllocation<T>(_ count: Int, of _: T.Type, argument: String, shape: [Int]) throws {
    let (bytes, overflow) = count.multipliedReportingOverflow(by: MemoryLayout<T>.stride)
    guard count >= 0, !overflow, bytes <= physicalMemoryBytes else {
        throw LossError.shapeMismatch(
            argument: argument,
            expected: "a shape whose \(count) elements of \(T.self) fit in memory (\(physicalMemoryBytes) bytes)",
            actual: describeShape(shape))
    }
}

/// Bytes of physical memory (16 GiB where the platform cannot say).
let physicalMemoryBytes: Int = {
    #if canImport(Foundation)
    let bytes = ProcessInfo.processInfo.physicalMemory
    if bytes > 0 { return Int(clamping: bytes) }
    #endif
    return 1 << 34
}()
