import Loss
import Testing

/// The example of the Half precision article: its numbers are what the 16-bit losses
/// give, and those are the Float losses' results on the same values, rounded once.
@Suite struct HalfPrecisionArticleTests {
    @Test func articleExample() throws {
        let logits = try Tensor<BFloat16>(shape: [2, 3], scalars: [2.5, -1, 0.5, 0.25, 3, -2])
        let classes = Tensor<Int>([0, 1])
        let step = try CrossEntropyLoss<BFloat16>().valueWithGradient(logits, classes)
        let wide = try CrossEntropyLoss<Float>().valueWithGradient(logits.converted(to: Float.self), classes)
        #expect(step.value.scalar! == BFloat16(wide.value.scalar!))
        #expect(step.value.scalar!.description == "0.111")
        #expect(step.gradient.shape == [2, 3])
        #expect(step.gradient == wide.gradient.converted(to: BFloat16.self))

        let ones = Tensor<Float16>([Float16](repeating: 1, count: 50_000))
        let zeros = Tensor<Float16>([Float16](repeating: 0, count: 50_000))
        let sum = try MSELoss<Float16>(reduction: .sum)(ones, zeros).scalar!
        #expect(sum == Float16(50_000 as Float))
        #expect(sum.description == "49984.0")
    }
}
