import Foundation
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

/// Reductions over several dimensions, `keepdim`, the defaults without `dim`,
/// softmin and `dtype=`, against closed forms and compositions of single-dimension calls.
@Suite struct AxisDimensionTests {
    /// The 2 × 3 example `[[0.5, -1, 2], [1.5, 0.25, -3]]`: PyTorch's `sum(x)` is 0.25.
    static let x = try! Tensor<Double>(shape: [2, 3], scalars: [0.5, -1, 2, 1.5, 0.25, -3])
    static func inputs(_ t: Tensor<Double>) -> LossInputs<Double> { LossInputs(["input": .values(t)]) }

    @Test func noDimReducesEveryElement() throws {
        let sum = try AxisFunction<Double>(.sum, dims: nil)(Self.x)
        #expect(sum.shape == [] && sum.scalar == 0.25)
        let mean = try AxisFunction<Double>(.mean, dims: nil)(Self.x)
        #expect(mean.shape == [] && abs(mean.scalar! - 0.25 / 6) < 1e-16)
        let amax = try AxisFunction<Double>(.amax, dims: nil)(Self.x)
        #expect(amax.shape == [] && amax.scalar == 2)
    }

    @Test func registryWithoutDimReducesEveryElement() throws {
        for (name, want) in [("sum", 0.25), ("mean", 0.25 / 6), ("amax", 2.0)] {
            let f = try LossRegistry.make(name, as: Double.self)
            let y = try f.forward(Self.inputs(Self.x))
            #expect(y.shape == [] && abs(y.scalar! - want) < 1e-16, "\(name)")
        }
    }

    @Test(arguments: [[Int](), [0, 1], [-1, 0], [1, -2]])
    func everyDimensionListReducesEveryElement(dims: [Int]) throws {
        #expect(try AxisFunction<Double>(.sum, dims: dims)(Self.x).scalar == 0.25)
    }

    @Test func keepdimKeepsReducedDimensionsWithSizeOne() throws {
        let y = try AxisFunction<Double>(.sum, dim: 1, keepdim: true)(Self.x)
        #expect(y.shape == [2, 1] && y.scalars == [1.5, -1.25])
        let all = try AxisFunction<Double>(.amax, dims: [], keepdim: true)(Self.x)
        #expect(all.shape == [1, 1] && all.scalars == [2])
        let z = try AxisFunction<Double>(.logSumExp, dims: [0, 2], keepdim: true)(TestSupport.normal([2, 3, 4], seed: 60))
        #expect(z.shape == [1, 3, 1])
    }

    /// Dimensions 1 and 3 of a 4-d input (not adjacent: a transposed copy) against
    /// reducing dimension 3, then 1; and the adjacent pair 1, 2.
    @Test(arguments: [AxisOperation.sum, .mean, .amax, .logSumExp])
    func severalDimensionsEqualReducingOneAtATime(operation: AxisOperation) throws {
        let t = TestSupport.normal([2, 3, 4, 5], seed: 61)
        for (dims, keepdim) in [([1, 3], false), ([3, -3], true), ([1, 2], false)] {
            let both = try AxisFunction<Double>(operation, dims: dims, keepdim: keepdim)(t)
            let sorted = dims.map { $0 < 0 ? $0 + 4 : $0 }.sorted()
            let inner = try AxisFunction<Double>(operation, dim: sorted[1], keepdim: true)(t)
            let stepwise = try AxisFunction<Double>(operation, dim: sorted[0], keepdim: true)(inner)
            var shape = [2, 3, 4, 5]
            for d in sorted.reversed() { if keepdim { shape[d] = 1 } else { shape.remove(at: d) } }
            #expect(both.shape == shape)
            #expect(TestSupport.maxRelativeDifference(both.scalars, stepwise.scalars) < 1e-13, "\(operation) \(dims)")
        }
    }

    @Test(arguments: [AxisOperation.sum, .mean, .amax, .logSumExp])
    func gradientsOverSeveralDimensions(operation: AxisOperation) throws {
        let t = TestSupport.normal([2, 3, 4], scale: 2, seed: 62)
        for (dims, keepdim) in [([0, 2], false), ([2, 0], true), ([1], true), ([], false)] {
            let f = AxisFunction<Double>(operation, dims: dims, keepdim: keepdim)
            let report = try GradientCheck.check(f, inputs: Self.inputs(t))
            #expect(report.passes(tolerance: 1e-7), "\(operation) \(dims) keepdim \(keepdim): \(report)")
        }
    }

    /// A 0-d input takes dim 0 or -1 (or a list of them), and stays 0-d even with keepdim.
    @Test func zeroDimensionalInputTakesDimZeroOrMinusOne() throws {
        let s = Tensor<Double>(scalar: 0.7)
        for op in [AxisOperation.sum, .mean, .amax, .logSumExp] {
            for dims in [[0], [-1], []] {
                let y = try AxisFunction<Double>(op, dims: dims, keepdim: true)(s)
                #expect(y.shape == [] && y.scalar == 0.7, "\(op) \(dims)")
            }
        }
        #expect(throws: LossError.self) { try AxisFunction<Double>(.sum, dims: [0, -1])(s) }
        #expect(throws: LossError.self) { try AxisFunction<Double>(.sum, dim: 1)(s) }
    }

    /// A shape without elements: sizes whose product overflows beside the 0 are refused when
    /// the tensor is made (they would set the number of per-row results); within the bound,
    /// the empty reductions give PyTorch's values, never a trap or a walk over empty rows.
    @Test func emptyShapesReduceOrAreRefusedNotTrapped() throws {
        #expect(throws: LossError.self) { try Tensor<Double>(shape: [1 << 40, 1 << 40, 0], scalars: []) }
        let t = try Tensor<Double>(shape: [1 << 12, 1 << 4, 0], scalars: [])
        #expect(try AxisFunction<Double>(.sum, dims: nil)(t).scalars == [0])
        let y = try AxisFunction<Double>(.sum, dim: 0)(t)
        #expect(y.shape == [1 << 4, 0] && y.count == 0)
        let rows = try AxisFunction<Double>(.sum, dim: 2)(t)
        #expect(rows.shape == [1 << 12, 1 << 4] && rows.scalars.allSatisfy { $0 == 0 })
        #expect(throws: LossError.self) { try AxisFunction<Double>(.amax, dims: [2], keepdim: true)(t) }
    }

    @Test func dimensionNamedTwiceIsAnError() {
        #expect(throws: LossError.invalidOption(name: "dim", value: "[1, -1]", expected: "dimensions that appear once (1 appears twice)")) {
            try AxisFunction<Double>(.sum, dims: [1, -1])(Self.x)
        }
    }

    /// `torch.logsumexp` has no default dimension.
    @Test func logSumExpNeedsDim() {
        #expect(throws: LossError.self) { try AxisFunction<Double>(.logSumExp, dims: nil)(Self.x) }
        #expect(throws: LossError.self) { try LossRegistry.make("logsumexp", as: Double.self).forward(Self.inputs(Self.x)) }
    }

    @Test func softmaxFamilyTakesOneDimension() {
        #expect(throws: LossError.self) { try AxisFunction<Double>(.softmax, dims: [0, 1])(Self.x) }
        #expect(throws: LossError.self) { try AxisFunction<Double>(.logSoftmax, dim: 1, keepdim: true)(Self.x) }
    }

    /// Without dim, `F.softmax` picks dimension 0 for 0-, 1- and 3-d inputs and 1 otherwise.
    @Test func softmaxWithoutDimUsesPyTorchsImplicitDimension() throws {
        for shape in [[], [4], [2, 3], [2, 3, 4], [2, 3, 4, 5]] {
            let t = TestSupport.normal(shape, seed: 63)
            let implicit = try AxisFunction<Double>(.softmax, dims: nil)(t)
            let explicit = try AxisFunction<Double>(.softmax, dim: shape.count <= 1 || shape.count == 3 ? 0 : 1)(t)
            #expect(implicit == explicit, "\(shape)")
        }
    }

    /// softmin(x) = exp(-x_c) / Σ exp(-x_k), computed here directly.
    @Test func softminIsSoftmaxOfTheNegatedInput() throws {
        let y = try AxisFunction<Double>(.softmin, dim: 1)(Self.x)
        for row in 0..<2 {
            let e = (0..<3).map { Foundation.exp(-Self.x[flat: row * 3 + $0]) }
            let total = e.reduce(0, +)
            for c in 0..<3 { #expect(abs(y[flat: row * 3 + c] - e[c] / total) < 1e-15) }
        }
        let registry = try LossRegistry.make("softmin", options: ["dim": .int(1)], as: Double.self)
        #expect(try registry.forward(Self.inputs(Self.x)) == y)
    }

    @Test func softminGradient() throws {
        for dim in [0, 1, -1] {
            let report = try GradientCheck.check(
                AxisFunction<Double>(.softmin, dim: dim), inputs: Self.inputs(TestSupport.normal([3, 4], scale: 2, seed: 64)))
            #expect(report.passes(tolerance: 1e-7), "dim \(dim): \(report)")
        }
    }

    /// `dtype=torch.float64` on a Float input computes in Double: the Double result, rounded once.
    @Test(arguments: [AxisOperation.softmax, .logSoftmax, .softmin, .sum, .mean])
    func dtypeFloat64ComputesAFloatInputInDouble(operation: AxisOperation) throws {
        let t: Tensor<Float> = TestSupport.normal([3, 5], scale: 3, seed: 65).converted()
        let f = AxisFunction<Float>(operation, dim: 1, dtype: .float64)
        let wide = try AxisFunction<Double>(operation, dim: 1).valueWithGradient(t.converted())
        let got = try f.valueWithGradient(t)
        #expect(got.value == wide.value.converted(to: Float.self))
        #expect(got.gradient == wide.gradient.converted(to: Float.self))
    }

    @Test func dtypeNamesFollowPyTorch() throws {
        #expect(DType(pytorchName: "torch.float64") == .float64 && DType(pytorchName: "torch.double") == .float64)
        #expect(DType(pytorchName: "float32") == .float32 && DType(pytorchName: "torch.float") == .float32)
        #expect(DType(pytorchName: "torch.float16") == nil)
        #expect(throws: LossError.self) {
            try LossRegistry.make("softmax", options: ["dim": .int(0), "dtype": .string("torch.int64")], as: Float.self)
        }
        // amax and logsumexp take no dtype in PyTorch.
        #expect(throws: LossError.unsupportedOption(function: "amax", option: "dtype")) {
            try LossRegistry.make("amax", options: ["dtype": .string("torch.float64")], as: Float.self)
        }
    }

    @Test func registryReadsDimListsAndKeepdim() throws {
        let f = try LossRegistry.make(
            "mean", options: ["dim": .list([.int(0), .int(-1)]), "keepdim": .bool(true)], as: Double.self)
        let y = try f.forward(Self.inputs(Self.x))
        #expect(y.shape == [1, 1] && abs(y.scalar! - 0.25 / 6) < 1e-16)
        #expect(throws: LossError.self) {
            try LossRegistry.make("sum", options: ["dim": .list([.string("a")])], as: Double.self)
        }
        // softmax's dim is one integer, and it has no keepdim.
        #expect(throws: LossError.self) {
            try LossRegistry.make("softmax", options: ["dim": .list([.int(0)])], as: Double.self)
        }
        #expect(throws: LossError.unsupportedOption(function: "softmax", option: "keepdim")) {
            try LossRegistry.make("softmax", options: ["dim": .int(0), "keepdim": .bool(false)], as: Double.self)
        }
    }
}
