@testable import Loss
import Testing

@Suite struct TensorTests {
    @Test func shapeAndCountMustAgree() {
        #expect(throws: LossError.shapeMismatch(argument: "scalars", expected: "6 elements for shape [2, 3]", actual: "5 elements")) {
            try Tensor<Float>(shape: [2, 3], scalars: [1, 2, 3, 4, 5])
        }
        #expect(throws: LossError.self) { try Tensor<Float>(shape: [-1], scalars: []) }
        #expect(throws: LossError.self) { try Tensor<Float>(zeros: [2, -3]) }
    }

    /// A shape without elements still sets the number of per-row results of a reduction over
    /// its empty axis: its other sizes must multiply to at most maximumEmptyShapeRows (and
    /// fit an Int), so that a header claiming (2^62, 0) sizes no buffer. Zeros that could not
    /// fit in memory are an error before anything is allocated.
    @Test func shapesWithoutElementsBoundTheirRows() throws {
        #expect(try Tensor<Float>(shape: [maximumEmptyShapeRows, 0], scalars: []).count == 0)
        #expect(try Tensor<Float>(shape: [0, 4096, 4096], scalars: []).count == 0)
        for shape in [[1 << 62, 0], [0, maximumEmptyShapeRows + 1], [1 << 40, 0, 3], [Int.max, 0]] {
            #expect(throws: LossError.shapeMismatch(
                argument: "shape",
                expected: "a shape without elements whose other sizes multiply to at most \(maximumEmptyShapeRows) (they set the number of per-row results)",
                actual: describeShape(shape))) { try Tensor<Float>(shape: shape, scalars: []) }
        }
        #expect(throws: LossError.shapeMismatch(argument: "shape", expected: "sizes whose product fits an Int", actual: "[\(1 << 62), 4, 0]")) {
            try Tensor<Float>(shape: [1 << 62, 4, 0], scalars: [])
        }
        #expect(throws: LossError.self) { try Tensor<Double>(zeros: [1 << 50]) }
        #expect(throws: LossError.self) { try Tensor<Double>(zeros: [1 << 62, 0]) }
        var g = SeededGenerator(seed: 1)
        #expect(throws: LossError.self) { try Tensor<Float>.randomNormal(shape: [1 << 50], using: &g) }
    }

    @Test func borrowedStorageIsReadWithoutCopying() throws {
        var storage: [Float] = [0, 3, 1, 0]
        try storage.withUnsafeMutableBufferPointer { buffer in
            let x = try Tensor(borrowing: UnsafeBufferPointer(start: buffer.baseAddress, count: 2), shape: [2])
            let y = try Tensor(borrowing: UnsafeBufferPointer(start: buffer.baseAddress! + 2, count: 2), shape: [2])
            let mse = try MSELoss<Float>().forward(LossInputs(["input": .values(x), "target": .values(y)]))
            #expect(mse.scalar == 5)
            buffer[1] = 2  // the tensor sees the caller's memory
            #expect(x.scalars == [0, 2])
        }
    }

    @Test func scalarTensorsHaveEmptyShape() {
        let s = Tensor<Double>(scalar: 3)
        #expect(s.shape == [] && s.rank == 0 && s.count == 1 && s.scalar == 3)
    }
}
