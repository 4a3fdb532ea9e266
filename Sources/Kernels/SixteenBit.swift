import CLossKernels

/// Float16 (IEEE binary16: 11 bits of precision, exponents to ±15, largest 65504) as a
/// LossKit scalar: stored in 16 bits, computed in Float.
extension Float16: KernelScalar {}

/// BFloat16 as a LossKit scalar: stored in 16 bits, computed in Float.
extension BFloat16: KernelScalar {}

// The softmax, log-softmax and their backward passes, the row reductions, the fused
// softmax cross-entropy and the pointwise losses run native 16-bit kernels (the `_h16`
// entry points of CLossKernels: rows widened to Float in a per-thread workspace that stays
// in cache, the Float kernel's arithmetic, each output rounded once). The functions below
// give the other kernels (linear algebra, the linear cross-entropy head) and a native
// kernel whose workspace cannot be allocated Float copies of their inputs, run the Float
// kernel and round its outputs once to the storage type: the same results, at the cost of
// the copies.

/// The C kernels' code for a 16-bit format: 0 float16, 1 bfloat16.
@inline(__always) func halfFormat<T>(_: T.Type) -> Int32 { T.self == BFloat16.self ? 1 : 0 }

/// A 16-bit buffer's elements as their bits, for the `_h16` kernels.
@inline(__always) func asH<T>(_ p: UnsafePointer<T>) -> UnsafePointer<UInt16> {
    UnsafeRawPointer(p).assumingMemoryBound(to: UInt16.self)
}
@inline(__always) func asH<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<UInt16> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: UInt16.self)
}

/// A Float copy of a 16-bit buffer (the vector conversions: no generic call per element).
func floatCopy<T: KernelScalar>(_ b: UnsafeBufferPointer<T>) -> [Float] {
    [Float](unsafeUninitializedCapacity: b.count) { out, count in
        if b.count > 0 { lk_half_widen(asH(base(b)), base(out), b.count, halfFormat(T.self)) }
        count = b.count
    }
}

/// A Float copy of an optional 16-bit buffer.
func floatCopy<T: KernelScalar>(optional b: UnsafeBufferPointer<T>?) -> [Float]? { b.map { floatCopy($0) } }

/// Float storage for an output of `count` elements (nil for nil).
func floatOutput<T>(_ b: UnsafeMutableBufferPointer<T>?) -> [Float]? { b.map { [Float](repeating: 0, count: $0.count) } }

/// `values` rounded to the 16-bit storage type into `out` (nothing for nil).
func storeRounded<T: KernelScalar>(_ values: [Float]?, _ out: UnsafeMutableBufferPointer<T>?) {
    guard let values, let out, out.count > 0 else { return }
    values.withUnsafeBufferPointer { lk_half_narrow(base($0), asH(base(out)), out.count, halfFormat(T.self)) }
}

/// Calls `body` with the optional array's buffer (nil for nil).
func withFloatBuffer<R>(_ a: [Float]?, _ body: (UnsafeBufferPointer<Float>?) throws -> R) rethrows -> R {
    guard let a else { return try body(nil) }
    return try a.withUnsafeBufferPointer { try body($0) }
}

/// Calls `body` with the optional array's mutable buffer (nil for nil).
func withFloatMutableBuffer<R>(_ a: inout [Float]?, _ body: (UnsafeMutableBufferPointer<Float>?) throws -> R) rethrows -> R {
    guard a != nil else { return try body(nil) }
    return try a!.withUnsafeMutableBufferPointer { try body($0) }
}

/// `values` converted element by element to `U`: exactly from 16 bits to Float, rounded to
/// nearest even (NaN kept NaN) from Float to 16 bits, with the kernels' vector conversions
/// (F16C, AVX-512); any other pair of types through `U.init`, which gives the same values.
package func convertedScalars<T: KernelScalar, U: KernelScalar>(_ values: [T], to _: U.Type) -> [U] {
    if isSixteenBit(T.self) && U.self == Float.self {
        return [U](unsafeUninitializedCapacity: values.count) { out, count in
            values.withUnsafeBufferPointer {
                lk_half_widen(asH(base($0)), asF(base(out)), values.count, halfFormat(T.self))
            }
            count = values.count
        }
    }
    if T.self == Float.self && isSixteenBit(U.self) {
        return [U](unsafeUninitializedCapacity: values.count) { out, count in
            values.withUnsafeBufferPointer {
                lk_half_narrow(asF(base($0)), asH(base(out)), values.count, halfFormat(U.self))
            }
            count = values.count
        }
    }
    return values.map { U($0) }
}
