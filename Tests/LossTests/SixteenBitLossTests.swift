import Loss
import Testing
import _TestSupport

/// Float16 and BFloat16 losses compute in Float and round their results once: the same
/// numbers as the Float loss on the same (16-bit) values, rounded to the type, whatever
/// the sizes (a count or a sum beyond Float16's largest finite number, 65504, included).
@Suite struct SixteenBitLossTests {
    /// `values` rounded to `T`, and those values in Float.
    static func rounded<T: KernelScalar>(_ values: Tensor<Double>, _: T.Type) -> (Tensor<T>, Tensor<Float>) {
        let t: Tensor<T> = values.converted()
        return (t, t.converted())
    }

    static func check<T: KernelScalar>(_: T.Type) throws {
        let x = TestSupport.normal([300, 7], scale: 2, seed: 61), y = TestSupport.normal([300, 7], seed: 62)
        let (x16, xf) = rounded(x, T.self), (y16, yf) = rounded(y, T.self)
        // Elementwise, with the generic implementation behind it.
        for reduction in Reduction.allCases {
            let wide = try HuberLoss<Float>(delta: 0.5, reduction: reduction).valueWithGradient(xf, yf)
            let narrow = try HuberLoss<T>(delta: 0.5, reduction: reduction).valueWithGradient(x16, y16)
            #expect(narrow.value == wide.value.converted(to: T.self), "\(T.self) \(reduction)")
            #expect(narrow.gradient == wide.gradient.converted(to: T.self), "\(T.self) \(reduction)")
        }
        // Cross-entropy with its options, and the other losses of the typed API.
        let classes = TestSupport.classIndices([300], classes: 7, seed: 63)
        let ce = try CrossEntropyLoss<T>(labelSmoothing: 0.125).valueWithGradient(x16, classes)
        let ceWide = try CrossEntropyLoss<Float>(labelSmoothing: 0.125).valueWithGradient(xf, classes)
        #expect(ce.value == ceWide.value.converted(to: T.self) && ce.gradient == ceWide.gradient.converted(to: T.self))
        let variance = TestSupport.uniform([300, 7], in: 0.5...2, seed: 64)
        let (v16, vf) = rounded(variance, T.self)
        let g = try GaussianNLLLoss<T>().valueWithGradient(x16, y16, variance: v16)
        let gWide = try GaussianNLLLoss<Float>().valueWithGradient(xf, yf, variance: vf)
        #expect(try g.gradient(of: .variance) == gWide.gradient(of: .variance).converted(to: T.self))
        let softmax = try AxisFunction<T>(.softmax, dim: 1)(x16)
        #expect(softmax == (try AxisFunction<Float>(.softmax, dim: 1)(xf)).converted(to: T.self))
    }

    @Test func float16ComputesInFloatAndRoundsOnce() throws { try Self.check(Float16.self) }
    @Test func bfloat16ComputesInFloatAndRoundsOnce() throws { try Self.check(BFloat16.self) }

    /// 100,000 elements: a count past Float16's range. The mean is over Float's count.
    @Test func countsBeyondFloat16sRange() throws {
        let n = 100_000
        let x = Tensor<Float16>([Float16](repeating: 2, count: n)), y = Tensor<Float16>([Float16](repeating: 1, count: n))
        let r = try MSELoss<Float16>().valueWithGradient(x, y)
        #expect(r.value.scalar == 1)
        #expect(r.gradient[flat: 0] == Float16(2.0 / Double(n)))
        #expect(try MSELoss<Float16>(reduction: .sum)(x, y).scalar == Float16(n))  // 100000 → 99968 in Float16
        let logits = Tensor<Float16>([Float16](repeating: 0, count: 2 * 70_000)).reshapedOrFail([70_000, 2])
        let classes = Tensor<Int>([Int](repeating: 1, count: 70_000))
        #expect(try CrossEntropyLoss<Float16>()(logits, classes).scalar == Float16(Float.log(2)))
    }

    /// The registry builds 16-bit losses from PyTorch's options without rounding them to 16
    /// bits: label_smoothing 0.1 stays Float's 0.1.
    @Test func registryKeepsOptionsInFloat() throws {
        let x = TestSupport.normal([50, 9], seed: 65)
        let (x16, xf) = Self.rounded(x, BFloat16.self)
        let classes = TestSupport.classIndices([50], classes: 9, seed: 66)
        let options: [String: OptionValue] = ["label_smoothing": .double(0.1)]
        let narrow = try LossRegistry.make("cross_entropy", options: options, as: BFloat16.self)
            .forward(LossInputs(["input": .values(x16), "target": .indices(classes)]))
        let wide = try LossRegistry.make("cross_entropy", options: options, as: Float.self)
            .forward(LossInputs(["input": .values(xf), "target": .indices(classes)]))
        #expect(narrow == wide.converted(to: BFloat16.self))
    }
}

extension Tensor {
    fileprivate func reshapedOrFail(_ shape: [Int]) -> Tensor { try! reshaped(shape) }
}
