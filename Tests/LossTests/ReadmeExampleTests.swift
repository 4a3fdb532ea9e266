import Loss
import Testing

/// The README's example and the DocC article "Large vocabularies"'s, each verbatim
/// between its markers, so that they keep compiling and keep printing what the
/// documents say; the expectations after them come from closed forms, not from LossKit.
@Suite struct ReadmeExampleTests {
    @Test func readmeExample() throws {
        // README example begins
        // Regression: a loss, and its gradient with respect to the predictions.
        let prediction = Tensor<Float>([0, 3]), truth = Tensor<Float>([1, 0])
        let mse = MSELoss<Float>()
        print(try mse(prediction, truth))  // Tensor(shape: [], [5.0])
        let result = try mse.valueWithGradient(prediction, truth)
        print(result.gradient.scalars)  // [-1.0, 3.0]

        // Classification: cross-entropy on logits against class indices, in one fused pass.
        let logits = try Tensor<Float>(shape: [2, 3], scalars: [-1.90, -0.29, -2.30, -0.29, -1.90, -2.30])
        let classes = Tensor<Int>([1, 0])
        let crossEntropy = try CrossEntropyLoss<Float>().valueWithGradient(logits, classes)
        print(crossEntropy.value.scalar!, crossEntropy.gradient.shape)  // 0.2880892 [2, 3]

        // Options are init parameters; tensors beyond the first two are labelled.
        let huber = try HuberLoss<Double>(delta: 0.5)(Tensor([0, 3]), Tensor([1, 0]))  // 0.875
        let gaussian = GaussianNLLLoss<Double>()
        let nll = try gaussian.valueWithGradient(Tensor([0, 3]), Tensor([1, 0]), variance: Tensor([1, 4]))
        print(huber.scalar!, nll.value.scalar!, try nll.gradient(of: .variance).scalars)

        // Bad input is an error that says what is wrong, never a trap or a silent number.
        do {
            _ = try mse(prediction, Tensor<Float>([1, 0, 2]))
        } catch {
            print(error)  // Wrong shape for target: expected [2] (the shape of input), got [3].
        }
        // README example ends

        #expect(try mse(prediction, truth).scalar == 5)
        #expect(result.gradient.scalars == [-1, 3])  // 2 (x - y) / n
        // lse - x_t per row, in Double: both rows are the same up to a permutation.
        let lse = Double.log(Double.exp(-1.90) + Double.exp(-0.29) + Double.exp(-2.30))
        #expect(abs(Double(crossEntropy.value.scalar!) - (lse + 0.29)) < 1e-6)
        #expect(crossEntropy.gradient.shape == [2, 3])
        #expect(huber.scalar == 0.875)  // (0.5 (1 - 0.25) + 0.5 (3 - 0.25)) / 2
        // (½ (log 1 + 1) + ½ (log 4 + 9/4)) / 2; ∂/∂v = ½ (1/v - d²/v²) / 2
        #expect(abs(nll.value.scalar! - (0.5 + 0.5 * (Double.log(4) + 2.25)) / 2) < 1e-15)
        #expect(try nll.gradient(of: .variance).scalars == [0, (0.25 - 9.0 / 16) / 4])
        #expect(throws: LossError.shapeMismatch(argument: "target", expected: "[2] (the shape of input)", actual: "[3]")) {
            try mse(prediction, Tensor<Float>([1, 0, 2]))
        }
    }

    @Test func largeVocabulariesArticleExample() throws {
        // Large vocabularies example begins
        var rng = SeededGenerator(seed: 0)
        let hidden = try Tensor<Float>.randomNormal(shape: [8, 16], using: &rng)  // N × D
        let vocabulary = try Tensor<Float>.randomNormal(shape: [1000, 16], scale: 0.1, using: &rng)  // V × D
        let tokens = Tensor<Int>([3, 14, 15, 92, 65, -100, 358, 979])  // -100: ignored
        let head = LinearCrossEntropyLoss<Float>(ignoreIndex: -100, labelSmoothing: 0.1, zLoss: 1e-4)
        let r = try head.valueWithGradient(hidden, vocabulary, target: tokens)
        print(r.value, r.gradient.shape, try r.gradient(of: .linearWeight).shape)  // loss, [8, 16], [1000, 16]
        // Large vocabularies example ends
        #expect(r.gradient.shape == [8, 16])
        #expect(try r.gradient(of: .linearWeight).shape == [1000, 16])
        #expect(r.value.scalar!.isFinite && r.value.scalar! > 0)
    }
}
