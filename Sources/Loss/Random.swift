
/// A small, fast, seeded generator (SplitMix64): the same seed gives the same
/// numbers on every machine, which makes gradient checks, demos and training reproducible.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A standard normal sample (Box–Muller).
    public mutating func nextNormal() -> Double {
        let u1 = Double.random(in: Double.ulpOfOne..<1, using: &self)
        let u2 = Double.random(in: 0..<1, using: &self)
        return (-2 * Double.log(u1)).squareRoot() * Double.cos(2 * Double.pi * u2)
    }
}

extension Tensor where Scalar: KernelScalar {
    /// Standard normal values, times `scale`, plus `offset`.
    public static func randomNormal(
        shape: [Int], scale: Double = 1, offset: Double = 0, using g: inout SeededGenerator
    ) throws -> Tensor {
        try Tensor(shape: shape, scalars: (0..<checkedCount(shape, Scalar.self)).map { _ in Scalar(offset + scale * g.nextNormal()) })
    }

    /// Uniform values in `range`.
    public static func randomUniform(
        shape: [Int], in range: ClosedRange<Double> = 0...1, using g: inout SeededGenerator
    ) throws -> Tensor {
        try Tensor(shape: shape, scalars: (0..<checkedCount(shape, Scalar.self)).map { _ in Scalar(Double.random(in: range, using: &g)) })
    }
}

/// The element count of a shape whose values are about to be generated: a bad
/// shape, or one whose values would not fit in memory, throws before any is drawn.
func checkedCount<T>(_ shape: [Int], _: T.Type) throws -> Int {
    let count = try checkedElementCount(shape)
    try checkAllocation(count, of: T.self, argument: "shape", shape: shape)
    return count
}
