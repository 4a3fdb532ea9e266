import CLossKernels

// Thin bridges from generic Swift buffers to the C kernels' float/double entry
// points. `T` is Float or Double (checked by `requireCKernels`).

@inline(__always) func asF<T>(_ p: UnsafePointer<T>) -> UnsafePointer<Float> {
    UnsafeRawPointer(p).assumingMemoryBound(to: Float.self)
}
@inline(__always) func asD<T>(_ p: UnsafePointer<T>) -> UnsafePointer<Double> {
    UnsafeRawPointer(p).assumingMemoryBound(to: Double.self)
}
@inline(__always) func asF<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Float> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
}
@inline(__always) func asD<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Double> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: Double.self)
}
@inline(__always) func asI64(_ p: UnsafePointer<Int>) -> UnsafePointer<Int64> {
    UnsafeRawPointer(p).assumingMemoryBound(to: Int64.self)
}
@inline(__always) func asI64(_ p: UnsafeMutablePointer<Int>) -> UnsafeMutablePointer<Int64> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: Int64.self)
}

package enum CPrecision { case single, double }

/// The C kernels exist for Float and Double: any other scalar type is an error, never
/// memory read as a type it is not. (Float16 and BFloat16 are computed in Float before
/// this is asked: see ``isSixteenBit(_:)``.)
package func requireCKernels<T: KernelScalar>(_: T.Type) throws -> CPrecision {
    if T.self == Float.self { return .single }
    if T.self == Double.self { return .double }
    throw LossError.unsupportedScalar(String(describing: T.self))
}

/// Whether `T` is one of LossKit's 16-bit storage types (Float16, BFloat16), which compute in Float.
package func isSixteenBit<T>(_: T.Type) -> Bool { T.self == Float16.self || T.self == BFloat16.self }

/// The base address of a buffer; an empty buffer gives a valid dummy address
/// (kernels never read it, since every count is zero then).
@inline(__always) func base<T>(_ b: UnsafeBufferPointer<T>) -> UnsafePointer<T> {
    b.baseAddress ?? UnsafePointer(bitPattern: MemoryLayout<T>.alignment)!
}
@inline(__always) func base<T>(_ b: UnsafeMutableBufferPointer<T>) -> UnsafeMutablePointer<T> {
    b.baseAddress ?? UnsafeMutablePointer(bitPattern: MemoryLayout<T>.alignment)!
}

@usableFromInline
func checkCount(_ argument: String, _ actual: Int, _ expected: Int, _ layout: AxisLayout) throws {
    guard actual == expected else {
        throw LossError.shapeMismatch(
            argument: argument, expected: "\(expected) elements for layout \(layout)", actual: "\(actual) elements")
    }
}
