import Loss
import Testing

/// The README's example, verbatim between the markers, so that it keeps compiling
/// and keeps printing what the README says.
@Suite struct ReadmeExampleTests {
    @Test func readmeExample() throws {
        // README example begins
        // Cross-entropy on logits with class-index targets: value and gradient in one fused pass.
        let logits = try Tensor<Float>(shape: [2, 3], scalars: [-1.90, -0.29, -2.30, -0.29, -1.90, -2.30])
        let targets = Tensor<Int>([1, 0])
        let crossEntropy = CrossEntropyLoss<Float>(labelSmoothing: 0)
        let result = try crossEntropy.valueWithGradient(logits, targets)
        let (loss, gradient) = (result.value, result.gradient)
        print(loss.scalar!)  // 0.28808922 = -log 0.75
        print(gradient.shape)  // [2, 3]

        // Every loss through one protocol: forward, backward, and a finite-difference check.
        let mse = MSELoss<Double>()
        let inputs = LossInputs<Double>(["input": .values(Tensor([0, 3])), "target": .values(Tensor([1, 0]))])
        let value = try mse.forward(inputs)  // 5.0
        let gradients = try mse.backward(inputs, upstream: Tensor(scalar: 1))  // input [-1, 3], target [1, -3]
        let report = try GradientCheck.check(mse, inputs: inputs)
        print(value, gradients["input"]!, report.passes())  // ... true

        // Or by PyTorch's name and options, as `losskit verify` does.
        let huber = try LossRegistry.make("huber_loss", options: ["delta": .double(0.5), "reduction": .string("sum")], as: Float.self)
        print(try huber.forward(LossInputs(["input": .values(Tensor([0, 3])), "target": .values(Tensor([1, 0]))])))
        // README example ends

        #expect(abs(loss.scalar! - 0.28808922) < 1e-6)
        #expect(gradient.shape == [2, 3])
        #expect(value.scalar == 5 && gradients["input"]!.scalars == [-1, 3] && report.passes())
    }

    @Test func readmeLinearCrossEntropyExample() throws {
        // README linear example begins
        var rng = SeededGenerator(seed: 0)
        let hidden = try Tensor<Float>.randomNormal(shape: [8, 16], using: &rng)  // N × D
        let vocabulary = try Tensor<Float>.randomNormal(shape: [1000, 16], scale: 0.1, using: &rng)  // V × D
        let tokens = Tensor<Int>([3, 14, 15, 92, 65, -100, 358, 979])  // -100: ignored
        let head = LinearCrossEntropyLoss<Float>(ignoreIndex: -100, labelSmoothing: 0.1, zLoss: 1e-4)
        let r = try head.valueWithGradient(hidden, vocabulary, target: tokens)
        print(r.value, r.gradient.shape, try r.gradient(of: .linearWeight).shape)  // loss, [8, 16], [1000, 16]
        // README linear example ends
        #expect(r.gradient.shape == [8, 16])
        #expect(try r.gradient(of: .linearWeight).shape == [1000, 16])
        #expect(r.value.scalar!.isFinite && r.value.scalar! > 0)
    }
}
