import Foundation

/// An n-dimensional array read from or written to NumPy's `.npy` format
/// (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html).
///
/// Supported: format versions 1.0, 2.0 and 3.0; little-endian (or native `=`)
/// `float16`, `float32`, `float64`, `int32`, `int64`; C order. Everything else — big-endian
/// data, other dtypes, Fortran order, object arrays — is rejected with an
/// ``NPYError`` that says what was found. Parsing is bounds-checked: no input,
/// however malformed or truncated, makes the parser trap.
public struct NPYArray: Equatable, Sendable {
    /// The element types this reader and writer support.
    public enum DType: String, Sendable, CaseIterable {
        case float16 = "<f2"
        case float32 = "<f4"
        case float64 = "<f8"
        case int32 = "<i4"
        case int64 = "<i8"

        /// Bytes per element.
        public var size: Int {
            switch self {
            case .float16: return 2
            case .float32, .int32: return 4
            case .float64, .int64: return 8
            }
        }

        /// NumPy's name for the type.
        public var name: String {
            switch self {
            case .float16: return "float16"
            case .float32: return "float32"
            case .float64: return "float64"
            case .int32: return "int32"
            case .int64: return "int64"
            }
        }

        public var isInteger: Bool { self == .int32 || self == .int64 }
    }

    /// The elements in C (row-major) order.
    public enum Values: Equatable, Sendable {
        case float16([Float16])
        case float32([Float])
        case float64([Double])
        case int32([Int32])
        case int64([Int64])

        public var count: Int {
            switch self {
            case .float16(let a): return a.count
            case .float32(let a): return a.count
            case .float64(let a): return a.count
            case .int32(let a): return a.count
            case .int64(let a): return a.count
            }
        }

        public var dtype: DType {
            switch self {
            case .float16: return .float16
            case .float32: return .float32
            case .float64: return .float64
            case .int32: return .int32
            case .int64: return .int64
            }
        }
    }

    /// The sizes of the dimensions, outermost first; `[]` for a 0-d array.
    public let shape: [Int]
    public let values: Values

    public var dtype: DType { values.dtype }
    public var count: Int { values.count }

    /// An array of the given shape.
    /// - Throws: ``NPYError/shapeMismatch(shape:count:)`` when the element count is not the product of the shape.
    public init(shape: [Int], values: Values) throws(NPYError) {
        guard let n = NPYArray.elementCount(shape), n == values.count else {
            throw .shapeMismatch(shape: shape, count: values.count)
        }
        self.shape = shape
        self.values = values
    }

    /// The product of `shape`, or nil when a size is negative or the product overflows.
    static func elementCount(_ shape: [Int]) -> Int? {
        var n = 1
        for s in shape {
            guard s >= 0 else { return nil }
            let (p, overflow) = n.multipliedReportingOverflow(by: s)
            guard !overflow else { return nil }
            n = p
        }
        return n
    }

    /// The elements as `Double` (integers converted exactly up to 2^53).
    public var doubles: [Double] {
        switch values {
        case .float16(let a): return a.map(Double.init)
        case .float32(let a): return a.map(Double.init)
        case .float64(let a): return a
        case .int32(let a): return a.map(Double.init)
        case .int64(let a): return a.map(Double.init)
        }
    }

    /// The elements as `Int` for an integer array, nil for a floating-point one.
    public var integers: [Int]? {
        switch values {
        case .int32(let a): return a.map(Int.init)
        case .int64(let a): return a.map(Int.init)
        case .float16, .float32, .float64: return nil
        }
    }
}

/// Why a `.npy` file could not be read or written.
public enum NPYError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file does not start with NumPy's magic string `\x93NUMPY`.
    case notNumPy
    /// A format version other than 1.0, 2.0 or 3.0.
    case unsupportedVersion(major: Int, minor: Int)
    /// The file ends before the part named.
    case truncated(what: String, needed: Int, available: Int)
    /// The header is not the Python dictionary literal NumPy writes.
    case malformedHeader(String)
    /// A dtype this reader does not support.
    case unsupportedDType(String)
    /// The array is stored in Fortran (column-major) order.
    case fortranOrder
    /// The data section is longer than the header's shape and dtype say.
    case trailingBytes(Int)
    /// An element count that is not the product of the shape.
    case shapeMismatch(shape: [Int], count: Int)
    /// The file could not be read or written.
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case .notNumPy:
            return "not a NumPy .npy file (it does not start with \\x93NUMPY); save arrays with numpy.save"
        case let .unsupportedVersion(major, minor):
            return "unsupported .npy format version \(major).\(minor) (supported: 1.0, 2.0, 3.0)"
        case let .truncated(what, needed, available):
            return "truncated .npy file: the \(what) needs \(needed) bytes but only \(available) remain"
        case let .malformedHeader(reason):
            return "malformed .npy header: \(reason)"
        case let .unsupportedDType(descr):
            return "unsupported dtype '\(descr)': LossKit reads little-endian float16, float32, float64, int32 and int64"
                + " (convert with array.astype(numpy.float32))"
        case .fortranOrder:
            return "the array is in Fortran order; save a C-ordered copy (numpy.ascontiguousarray) instead"
        case let .trailingBytes(n):
            return "the file has \(n) bytes after the data its header describes"
        case let .shapeMismatch(shape, count):
            return "shape (\(shape.map(String.init).joined(separator: ", "))) does not hold \(count) elements"
        case let .io(path, reason):
            return "\(path): \(reason)"
        }
    }
}
