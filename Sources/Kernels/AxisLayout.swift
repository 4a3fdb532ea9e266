/// How a row-major tensor is seen by a kernel that works along one axis:
/// `outer` blocks of `length` entries along the axis, each entry followed by
/// `inner` contiguous positions. Element `(o, c, i)` sits at
/// `(o * length + c) * inner + i`, and per-row results at `o * inner + i`.
///
/// A `(rows, columns)` matrix reduced along its columns is
/// `AxisLayout(outer: rows, length: columns, inner: 1)`; PyTorch's class axis
/// of an `(N, C, d1, ..., dk)` tensor is `AxisLayout(shape: shape, axis: 1)`.
public struct AxisLayout: Sendable, Equatable, CustomStringConvertible {
    public var outer: Int
    public var length: Int
    public var inner: Int

    public init(outer: Int, length: Int, inner: Int = 1) {
        self.outer = outer
        self.length = length
        self.inner = inner
    }

    /// The layout of `shape` along `axis`; a negative axis counts from the end, as in PyTorch.
    /// A 0-d tensor is treated as shape `[1]` (PyTorch allows `dim` 0 and -1 there).
    public init(shape: [Int], axis: Int) throws {
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

    /// Number of elements: `outer * length * inner`.
    public var count: Int { outer * length * inner }
    /// Number of rows (results of a reduction along the axis): `outer * inner`.
    public var rows: Int { outer * inner }

    public var description: String { "(outer: \(outer), length: \(length), inner: \(inner))" }
}
