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
