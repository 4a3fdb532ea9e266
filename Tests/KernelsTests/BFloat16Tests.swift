import Kernels
import Testing

/// BFloat16's conversions round to nearest, ties to even, exactly once; NaN stays NaN;
/// its arithmetic is Float's rounded once more (which is correctly rounded).
@Suite struct BFloat16Tests {
    /// The nearest bfloat16 to `x`, ties to even, found by comparing the two
    /// neighbours in Double: an implementation independent of the type's own.
    static func reference(_ x: Double) -> UInt16 {
        let f = Float(x)  // only used to find the neighbours' exponent range
        precondition(f.isFinite)
        let bits = Float(x).bitPattern
        var candidates: [UInt16] = []
        let base = UInt16(truncatingIfNeeded: bits >> 16)
        for delta in [-2, -1, 0, 1, 2] {
            let c = Int(base) + delta
            guard c >= 0, c <= 0xFFFF else { continue }
            let b = UInt16(c)
            guard b & 0x7F80 != 0x7F80 else { continue }  // not inf or NaN
            guard (b >> 15) == (base >> 15) || b & 0x7FFF == 0 else { continue }
            candidates.append(b)
        }
        func value(_ b: UInt16) -> Double { Double(Float(bitPattern: UInt32(b) << 16)) }
        return candidates.min { a, b in
            let da = abs(value(a) - x), db = abs(value(b) - x)
            return da != db ? da < db : a & 1 == 0
        }!
    }

    @Test func everyBitPatternRoundTripsThroughFloat() {
        for b in 0...UInt16.max {
            let v = BFloat16(bitPattern: b)
            let back = BFloat16(v.float)
            if v.isNaN {
                #expect(back.isNaN && back.sign == v.sign)
            } else {
                #expect(back.bitPattern == b)
            }
        }
    }

    @Test func floatRoundsToNearestTiesToEven() {
        // Ties: halfway between 1 and 1 + 2^-7 goes to 1 (even); the next tie goes up.
        #expect(BFloat16(Float(bitPattern: 0x3F80_8000)).bitPattern == 0x3F80)
        #expect(BFloat16(Float(bitPattern: 0x3F81_8000)).bitPattern == 0x3F82)
        #expect(BFloat16(Float(bitPattern: 0x3F80_8001)).bitPattern == 0x3F81)
        var generator = SplitMix(state: 12345)
        for _ in 0..<200_000 {
            let f = Float(bitPattern: UInt32(truncatingIfNeeded: generator.next()))
            guard f.isFinite, abs(f) < Float(BFloat16.greatestFiniteMagnitude) else { continue }
            #expect(BFloat16(f).bitPattern == Self.reference(Double(f)), "\(f)")
        }
    }

    @Test func doubleRoundsOnce() {
        // 1 + 2^-8 + 2^-40 is just above the tie between 1 and 1 + 2^-7: it rounds up.
        // Rounding to Float first would land on the tie and then round down to 1.
        let x = 1 + 0x1p-8 + 0x1p-40
        #expect(BFloat16(x).bitPattern == 0x3F81)
        #expect(BFloat16(-x).bitPattern == 0xBF81)
        var generator = SplitMix(state: 999)
        for _ in 0..<100_000 {
            let d = Double(bitPattern: generator.next() & 0x8FFF_FFFF_FFFF_FFFF | 0x3000_0000_0000_0000)
            guard d.isFinite, abs(d) < Double(Float(BFloat16.greatestFiniteMagnitude)), abs(d) > 1e-30 else { continue }
            #expect(BFloat16(d).bitPattern == Self.reference(d), "\(d)")
        }
    }

    @Test func specialValues() {
        #expect(BFloat16(Float.infinity).bitPattern == 0x7F80)
        #expect(BFloat16(-Float.infinity).bitPattern == 0xFF80)
        #expect(BFloat16(Float.greatestFiniteMagnitude).isInfinite)  // beyond bfloat16's largest: rounds up
        #expect(BFloat16(1e39 as Double).isInfinite)
        // A NaN whose payload lives only in the dropped bits stays NaN, with its sign.
        let signaling = Float(bitPattern: 0x7F80_0001), negative = Float(bitPattern: 0xFF80_0001)
        #expect(BFloat16(signaling).isNaN && BFloat16(negative).isNaN && BFloat16(negative).sign == .minus)
        #expect(BFloat16(Double.nan).isNaN)
        // Subnormals are kept.
        let tiny = Float(bitPattern: 0x0001_0000)
        #expect(BFloat16(tiny).bitPattern == 0x0001 && BFloat16(tiny).isSubnormal)
        #expect(BFloat16(Float(-0.0)).bitPattern == 0x8000)
        #expect(BFloat16.greatestFiniteMagnitude.nextUp.isInfinite)
        #expect(BFloat16(1).ulp == BFloat16.ulpOfOne && BFloat16.ulpOfOne.float == 0x1p-7)
        #expect(BFloat16.leastNonzeroMagnitude.float == 0x1p-133)
    }

    @Test func arithmeticAndText() {
        let a = BFloat16(1.5), b = BFloat16(0.25)
        #expect((a + b).float == 1.75 && (a * b).float == 0.375 && (a / b).float == 6 && (a - b).float == 1.25)
        #expect(BFloat16(2).squareRoot() == BFloat16(Float(2).squareRoot()))
        #expect(BFloat16.exp(BFloat16(1)) == BFloat16(Float.exp(1)))
        #expect(BFloat16(0.1).description == "0.1" && BFloat16(3.140625).description == "3.14")
        for bits in stride(from: 0, through: 0x7F7F, by: 37) {
            let v = BFloat16(bitPattern: UInt16(bits))
            #expect(BFloat16(v.description) == v, "\(v)")
        }
        #expect(BFloat16("not a number") == nil)
    }
}

/// SplitMix64, for reproducible random bit patterns.
struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
