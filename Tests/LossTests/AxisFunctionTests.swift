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

    /// Rows of length 0 are not walked one by one: the largest shape without elements
    /// reduces, softmaxes and differentiates at once (sum 0, mean NaN, logsumexp -inf, an
    /// empty softmax), and amax's error comes before its rows are allocated.
    @Test func emptyAxisWithManyRowsIsFast() throws {
        let x = LossInputs<Float>(["input": .values(try Tensor(shape: [maximumEmptyShapeRows, 0], scalars: []))])
        let clock = ContinuousClock(), start = clock.now
        for op in [AxisOperation.softmax, .logSoftmax] {
            let f = AxisFunction<Float>(op, dim: 1)
            #expect(try f.forward(x).shape == [maximumEmptyShapeRows, 0])
            #expect(try f.backward(x, upstream: try Tensor(shape: [maximumEmptyShapeRows, 0], scalars: []))["input"]!.count == 0)
        }
        let sums = try AxisFunction<Float>(.sum, dim: 1).forward(x)
        #expect(sums.count == maximumEmptyShapeRows && sums[flat: 12345] == 0)
        #expect(try AxisFunction<Float>(.logSumExp, dim: 1).forward(x)[flat: 7] == -.infinity)
        #expect(throws: LossError.emptyInput(argument: "input", reason: "max over an axis of length 0 is undefined")) {
            try AxisFunction<Float>(.amax, dim: 1).forward(x)
        }
        #expect(clock.now - start < .seconds(20))
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
