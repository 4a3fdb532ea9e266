@_exported import RealModule

/// The element types LossKit computes in: `Float` and `Double`.
///
/// Elementary functions come from swift-numerics' `Real` (`Scalar.exp(x)`,
/// `Scalar.log(onePlus: x)`, `Scalar.expMinusOne(x)`, ...), which LossKit
/// re-exports, so generic loss code (a user's own loss included) is written
/// against the same protocol as other Swift numerics code. LossKit adds no
/// functions of its own to `Float` or `Double`.
///
/// Only LossKit's own conformances are supported. The kernels check the
/// scalar type at run time and throw ``LossError/unsupportedScalar(_:)`` for any
/// other conforming type, rather than reading its memory as a type it is not.
public protocol KernelScalar: BinaryFloatingPoint, Real, Sendable, LosslessStringConvertible {}

extension Float: KernelScalar {}
extension Double: KernelScalar {}
