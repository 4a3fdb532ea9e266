import Loss
import Testing
import _TestSupport

/// L1, MSE and BCE-with-logits run fused kernels; their per-element definitions
/// (`value`/`derivatives`, and the weighted path for BCE) must give the same numbers.
@Suite struct FusedPathAgreementTests {
    let x = TestSupport.normal([5, 7], scale: 3, seed: 120)
    let y = TestSupport.uniform([5, 7], in: 0...1, seed: 121)
    var inputs: LossInputs<Double> { LossInputs(["input": .values(x), "target": .values(y)]) }

    func close(_ a: Tensor<Double>, _ b: Tensor<Double>) -> Bool {
        a.shape == b.shape && zip(a.scalars, b.scalars).allSatisfy { abs($0 - $1) <= 1e-13 * max(1, abs($1)) }
    }

    @Test(arguments: Reduction.allCases)
    func regressionKernelsMatchTheirElementwiseDefinitions(reduction: Reduction) throws {
        let up = reduction == .none ? TestSupport.normal([5, 7], seed: 122) : Tensor(scalar: 0.7)
        let l1 = L1Loss<Double>(reduction: reduction), mse = MSELoss<Double>(reduction: reduction)
        #expect(close(try l1.forward(inputs), try l1.elementwiseForward(inputs)))
        #expect(close(try mse.forward(inputs), try mse.elementwiseForward(inputs)))
        for name in ["input", "target"] {
            #expect(close(try l1.backward(inputs, upstream: up)[name]!, try l1.elementwiseBackward(inputs, upstream: up)[name]!))
            #expect(close(try mse.backward(inputs, upstream: up)[name]!, try mse.elementwiseBackward(inputs, upstream: up)[name]!))
        }
    }

    @Test(arguments: Reduction.allCases)
    func bceWithLogitsKernelMatchesTheWeightedPath(reduction: Reduction) throws {
        let up = reduction == .none ? TestSupport.normal([5, 7], seed: 123) : Tensor(scalar: 0.7)
        let fused = BCEWithLogitsLoss<Double>(reduction: reduction)
        let general = BCEWithLogitsLoss<Double>(weight: Tensor([1, 1, 1, 1, 1, 1, 1]), reduction: reduction)  // forces the general path
        #expect(close(try fused.forward(inputs), try general.forward(inputs)))
        for name in ["input", "target"] {
            #expect(close(try fused.backward(inputs, upstream: up)[name]!, try general.backward(inputs, upstream: up)[name]!))
        }
    }
}
