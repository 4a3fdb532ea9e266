#if canImport(Foundation)
import Foundation
#endif

/// The bfloat16 format ("brain floating point"): the upper 16 bits of a `Float` —
/// 1 sign bit, 8 exponent bits (Float's range) and 7 stored significand bits
/// (8 bits of precision, about 2.4 decimal digits).
///
/// It is a storage type: models keep weights, activations and logits in it to move
/// half the bytes of `Float`. Arithmetic and elementary functions compute in `Float`
/// and round the result to bfloat16, which is correctly rounded for `+ − × ÷` and
/// `squareRoot` (Float's 24 bits are more than twice bfloat16's 8 plus 2, so rounding
/// twice gives the same result as rounding once).
///
/// Conversion from `Float` rounds to nearest, ties to even, as PyTorch's
/// `tensor.to(torch.bfloat16)` does; NaN stays NaN (a quiet NaN with the sign kept),
/// values beyond the largest finite bfloat16 round to infinity, and subnormals are
/// kept. Conversion to `Float` is exact.
@frozen
public struct BFloat16: Sendable, Hashable {
    /// The 16 bits: the upper half of the `Float` with the same value.
    public var bitPattern: UInt16

    /// The value whose bits are `bitPattern`.
    @inlinable
    public init(bitPattern: UInt16) { self.bitPattern = bitPattern }

    /// `value` rounded to the nearest bfloat16, ties to even; NaN stays NaN.
    @inlinable
    public init(_ value: Float) {
        let bits = value.bitPattern
        if value.isNaN {
            // Keep the sign and set the quiet bit, so that no NaN payload rounds to infinity.
            bitPattern = UInt16(truncatingIfNeeded: bits >> 16) | 0x0040
        } else {
            let lsb = (bits >> 16) & 1
            bitPattern = UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ lsb) >> 16)
        }
    }

    /// The exact value as a `Float`.
    @inlinable
    public var float: Float { Float(bitPattern: UInt32(bitPattern) << 16) }
}

extension Float {
    /// The exact value of a bfloat16.
    @inlinable
    public init(_ value: BFloat16) { self = value.float }
}

extension BFloat16: CustomStringConvertible, CustomDebugStringConvertible, LosslessStringConvertible {
    /// The shortest decimal that reads back as this value (`BFloat16(0.1)` prints
    /// `0.1`, although its exact value is 0.10009765625), as `Float16` prints.
    public var description: String {
        guard isFinite, !isZero else { return float.description }
        #if canImport(Foundation)
        for digits in 1...9 {
            let text = String(format: "%.\(digits)g", Double(float))
            if BFloat16(text) == self { return Double(text).map { $0.description } ?? text }
        }
        #endif
        return float.description
    }
    public var debugDescription: String { description }

    /// The bfloat16 nearest the decimal `description`, or nil when it is not a number.
    public init?(_ description: String) {
        // Parse in Double: rounding a decimal to Float first, then to bfloat16, could round twice.
        guard let value = Double(description) else { return nil }
        self.init(value)
    }
}

extension BFloat16: ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral {
    public init(floatLiteral value: Double) { self.init(value) }
    public init(integerLiteral value: Int) { self.init(Float(value)) }
}

extension BFloat16: BinaryFloatingPoint {
    public typealias RawSignificand = UInt16
    public typealias RawExponent = UInt
    public typealias Exponent = Int
    public typealias Magnitude = BFloat16

    public static var exponentBitCount: Int { 8 }
    public static var significandBitCount: Int { 7 }

    public var exponentBitPattern: UInt { UInt((bitPattern >> 7) & 0xFF) }
    public var significandBitPattern: UInt16 { bitPattern & 0x7F }

    public init(sign: FloatingPointSign, exponentBitPattern: UInt, significandBitPattern: UInt16) {
        let s: UInt16 = sign == .minus ? 0x8000 : 0
        bitPattern = s | UInt16(truncatingIfNeeded: (exponentBitPattern & 0xFF) << 7) | (significandBitPattern & 0x7F)
    }

    /// `value` rounded to the nearest bfloat16, ties to even, in one rounding.
    public init(_ value: Double) {
        let f = Float(value)
        if value.isNaN || value.isInfinite || Double(f) == value {
            self.init(f)
            return
        }
        // Round to Float towards zero and mark the result inexact in its last bit
        // ("round to odd"): the rounding to bfloat16 that follows is then exact RNE.
        var truncated = f
        if abs(Double(f)) > abs(value) { truncated = f > 0 ? f.nextDown : f.nextUp }
        self.init(Float(bitPattern: truncated.bitPattern | 1))
    }

    public init(_ value: Float16) { self.init(Float(value)) }

    public init(sign: FloatingPointSign, exponent: Int, significand: BFloat16) {
        self.init(Float(sign: sign, exponent: exponent, significand: significand.float))
    }

    public init(signOf: BFloat16, magnitudeOf: BFloat16) {
        bitPattern = (signOf.bitPattern & 0x8000) | (magnitudeOf.bitPattern & 0x7FFF)
    }

    public init<Source: BinaryInteger>(_ value: Source) {
        self.init(Double(value))
    }

    public static var nan: BFloat16 { BFloat16(bitPattern: 0x7FC0) }
    public static var signalingNaN: BFloat16 { BFloat16(bitPattern: 0x7FA0) }
    public static var infinity: BFloat16 { BFloat16(bitPattern: 0x7F80) }
    public static var greatestFiniteMagnitude: BFloat16 { BFloat16(bitPattern: 0x7F7F) }
    public static var pi: BFloat16 { BFloat16(bitPattern: 0x4049) }  // 3.140625, rounded towards zero as FloatingPoint asks
    public static var leastNormalMagnitude: BFloat16 { BFloat16(bitPattern: 0x0080) }
    public static var leastNonzeroMagnitude: BFloat16 { BFloat16(bitPattern: 0x0001) }
    public static var ulpOfOne: BFloat16 { BFloat16(bitPattern: 0x3C00) }  // 2^-7

    public var sign: FloatingPointSign { bitPattern & 0x8000 != 0 ? .minus : .plus }
    public var exponent: Int { float.exponent }
    public var significand: BFloat16 { BFloat16(float.significand) }
    public var magnitude: BFloat16 { BFloat16(bitPattern: bitPattern & 0x7FFF) }
    public var ulp: BFloat16 {
        guard isFinite else { return .nan }
        if exponentBitPattern > 7 { return BFloat16(sign: .plus, exponentBitPattern: exponentBitPattern - 7, significandBitPattern: 0) }
        return BFloat16(bitPattern: exponentBitPattern == 0 ? 1 : UInt16(1) << (exponentBitPattern - 1))
    }
    public var nextUp: BFloat16 {
        if isNaN || self == .infinity { return self }
        if bitPattern == 0x8000 { return .leastNonzeroMagnitude }  // -0
        return sign == .plus ? BFloat16(bitPattern: bitPattern + 1) : BFloat16(bitPattern: bitPattern - 1)
    }
    public var binade: BFloat16 { BFloat16(float.binade) }
    public var significandWidth: Int { float.significandWidth }  // same significand bits

    public var isNormal: Bool { exponentBitPattern != 0 && exponentBitPattern != 0xFF }
    public var isFinite: Bool { exponentBitPattern != 0xFF }
    public var isZero: Bool { bitPattern & 0x7FFF == 0 }
    public var isSubnormal: Bool { exponentBitPattern == 0 && significandBitPattern != 0 }
    public var isInfinite: Bool { bitPattern & 0x7FFF == 0x7F80 }
    public var isNaN: Bool { bitPattern & 0x7FFF > 0x7F80 }
    public var isSignalingNaN: Bool { isNaN && bitPattern & 0x0040 == 0 }
    public var isCanonical: Bool { true }

    public static func + (a: BFloat16, b: BFloat16) -> BFloat16 { BFloat16(a.float + b.float) }
    public static func - (a: BFloat16, b: BFloat16) -> BFloat16 { BFloat16(a.float - b.float) }
    public static func * (a: BFloat16, b: BFloat16) -> BFloat16 { BFloat16(a.float * b.float) }
    public static func / (a: BFloat16, b: BFloat16) -> BFloat16 { BFloat16(a.float / b.float) }
    public static func += (a: inout BFloat16, b: BFloat16) { a = a + b }
    public static func -= (a: inout BFloat16, b: BFloat16) { a = a - b }
    public static func *= (a: inout BFloat16, b: BFloat16) { a = a * b }
    public static func /= (a: inout BFloat16, b: BFloat16) { a = a / b }
    public prefix static func - (a: BFloat16) -> BFloat16 { BFloat16(bitPattern: a.bitPattern ^ 0x8000) }
    public mutating func negate() { bitPattern ^= 0x8000 }

    public mutating func formRemainder(dividingBy other: BFloat16) {
        self = BFloat16(float.remainder(dividingBy: other.float))
    }
    public mutating func formTruncatingRemainder(dividingBy other: BFloat16) {
        self = BFloat16(float.truncatingRemainder(dividingBy: other.float))
    }
    public mutating func formSquareRoot() { self = BFloat16(float.squareRoot()) }
    /// `self + lhs · rhs` with one rounding: the product of two bfloat16 values and its
    /// sum with a third are exact in Double, so the conversion is the only rounding.
    public mutating func addProduct(_ lhs: BFloat16, _ rhs: BFloat16) {
        self = BFloat16(Double(float) + Double(lhs.float) * Double(rhs.float))
    }
    public mutating func round(_ rule: FloatingPointRoundingRule) { self = BFloat16(float.rounded(rule)) }

    public func isEqual(to other: BFloat16) -> Bool { float == other.float }
    public func isLess(than other: BFloat16) -> Bool { float < other.float }
    public func isLessThanOrEqualTo(_ other: BFloat16) -> Bool { float <= other.float }
    public func isTotallyOrdered(belowOrEqualTo other: BFloat16) -> Bool { float.isTotallyOrdered(belowOrEqualTo: other.float) }

    public func distance(to other: BFloat16) -> BFloat16 { other - self }
    public func advanced(by n: BFloat16) -> BFloat16 { self + n }

    public static func == (a: BFloat16, b: BFloat16) -> Bool { a.float == b.float }
    public static func < (a: BFloat16, b: BFloat16) -> Bool { a.float < b.float }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(isZero ? 0 : bitPattern)  // +0 and -0 are equal
    }
}

extension BFloat16: Real {
    @inlinable static func via(_ f: (Float) -> Float, _ x: BFloat16) -> BFloat16 { BFloat16(f(x.float)) }

    public static func cos(_ x: BFloat16) -> BFloat16 { via(Float.cos, x) }
    public static func sin(_ x: BFloat16) -> BFloat16 { via(Float.sin, x) }
    public static func tan(_ x: BFloat16) -> BFloat16 { via(Float.tan, x) }
    public static func acos(_ x: BFloat16) -> BFloat16 { via(Float.acos, x) }
    public static func asin(_ x: BFloat16) -> BFloat16 { via(Float.asin, x) }
    public static func atan(_ x: BFloat16) -> BFloat16 { via(Float.atan, x) }
    public static func cosh(_ x: BFloat16) -> BFloat16 { via(Float.cosh, x) }
    public static func sinh(_ x: BFloat16) -> BFloat16 { via(Float.sinh, x) }
    public static func tanh(_ x: BFloat16) -> BFloat16 { via(Float.tanh, x) }
    public static func acosh(_ x: BFloat16) -> BFloat16 { via(Float.acosh, x) }
    public static func asinh(_ x: BFloat16) -> BFloat16 { via(Float.asinh, x) }
    public static func atanh(_ x: BFloat16) -> BFloat16 { via(Float.atanh, x) }
    public static func exp(_ x: BFloat16) -> BFloat16 { via(Float.exp, x) }
    public static func expMinusOne(_ x: BFloat16) -> BFloat16 { via(Float.expMinusOne, x) }
    public static func log(_ x: BFloat16) -> BFloat16 { BFloat16(Float.log(x.float)) }
    public static func log(onePlus x: BFloat16) -> BFloat16 { via({ Float.log(onePlus: $0) }, x) }
    public static func erf(_ x: BFloat16) -> BFloat16 { via(Float.erf, x) }
    public static func erfc(_ x: BFloat16) -> BFloat16 { via(Float.erfc, x) }
    public static func exp2(_ x: BFloat16) -> BFloat16 { via(Float.exp2, x) }
    public static func exp10(_ x: BFloat16) -> BFloat16 { via(Float.exp10, x) }
    public static func gamma(_ x: BFloat16) -> BFloat16 { via(Float.gamma, x) }
    public static func log2(_ x: BFloat16) -> BFloat16 { via(Float.log2, x) }
    public static func log10(_ x: BFloat16) -> BFloat16 { via(Float.log10, x) }
    public static func logGamma(_ x: BFloat16) -> BFloat16 { via(Float.logGamma, x) }
    public static func signGamma(_ x: BFloat16) -> FloatingPointSign { Float.signGamma(x.float) }
    public static func hypot(_ x: BFloat16, _ y: BFloat16) -> BFloat16 { BFloat16(Float.hypot(x.float, y.float)) }
    public static func atan2(y: BFloat16, x: BFloat16) -> BFloat16 { BFloat16(Float.atan2(y: y.float, x: x.float)) }
    public static func pow(_ x: BFloat16, _ y: BFloat16) -> BFloat16 { BFloat16(Float.pow(x.float, y.float)) }
    public static func pow(_ x: BFloat16, _ n: Int) -> BFloat16 { BFloat16(Float.pow(x.float, n)) }
    public static func root(_ x: BFloat16, _ n: Int) -> BFloat16 { BFloat16(Float.root(x.float, n)) }
    public static func sqrt(_ x: BFloat16) -> BFloat16 { x.squareRoot() }
}
