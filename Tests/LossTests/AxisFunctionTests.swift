import Loss
import Testing
import _TestSupport

@Suite struct AxisFunctionTests {
    @Test(arguments: AxisOperation.allCases)
    func gradients(operation: AxisOperation) throws {
        for (shape, dims) in [([7], [0, -1]), ([3, 5], [0, 1, -1]), ([2, 3, 4], [0, 1, 2, -2])] {
            let x = TestSupport.normal(shape, scale: 2, seed: 50)
            for dim in dims {
                let report = try GradientCheck.check(AxisFunction<Double>(operation, dim: dim), inputs: LossInputs(["input": .values(x)]))
                #expect(report.passes(tolerance: 1e-7), "\(operation) \(shape) dim \(dim): \(report)")
            }
        }
    }

    @Test func outputShapesDropTheReducedAxis() throws {
        let x = LossInputs<Double>(["input": .values(TestSupport.normal([2, 3, 4], seed: 51))])
        #expect(try AxisFunction<Double>(.sum, dim: 1).forward(x).shape == [2, 4])
        #expect(try AxisFunction<Double>(.logSoftmax, dim: 1).forward(x).shape == [2, 3, 4])
    }

    @Test func amaxSplitsGradientAmongTies() throws {
        let x = LossInputs<Double>(["input": .values(Tensor([1, 3, 3, 2]))])
        let g = try AxisFunction<Double>(.amax, dim: 0).backward(x, upstream: Tensor(scalar: 1))
        #expect(g["input"]!.scalars == [0, 0.5, 0.5, 0])
    }

    @Test func logSumExpOfMinusInfinityRow() throws {
        let x = LossInputs<Double>(["input": .values(Tensor([-.infinity, -.infinity]))])
        #expect(try AxisFunction<Double>(.logSumExp, dim: 0).forward(x).scalar == -.infinity)
    }

    @Test func badDimensionIsATypedError() {
        let x = LossInputs<Double>(["input": .values(TestSupport.normal([2, 3], seed: 52))])
        #expect(throws: LossError.invalidOption(name: "dim", value: "2", expected: "a dimension in [-2, 1] for shape [2, 3]")) {
            try AxisFunction<Double>(.softmax, dim: 2).forward(x)
        }
        #expect(throws: LossError.self) {
            try AxisFunction<Double>(.amax, dim: 1).forward(LossInputs(["input": .values(try Tensor(shape: [2, 0], scalars: []))]))
        }
    }
}
