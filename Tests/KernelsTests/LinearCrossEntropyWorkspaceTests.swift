import Kernels
import Testing
import _TestSupport

/// A caller's workspace gives the same bits as the kernel's own allocation, and a
/// workspace that is too small is a typed error before anything is written.
@Suite struct LinearCrossEntropyWorkspaceTests {
    let n = 9, d = 4, v = 13

    func run(workspace: Int?) throws -> ([Float], [Float], [Float]) {
        let x = TestSupport.normal([n * d], seed: 1).scalars.map { Float($0) }
        let w = TestSupport.normal([v * d], scale: 0.5, seed: 2).scalars.map { Float($0) }
        let t = TestSupport.classIndices([n], classes: v, seed: 3).scalars
        var losses = [Float](repeating: 0, count: n), dx = [Float](repeating: 0, count: n * d), dw = [Float](repeating: 0, count: v * d)
        var options = LinearCrossEntropyOptions<Float>()
        options.chunkRows = 4
        var space = [Float](repeating: .nan, count: workspace ?? 0)
        try x.withUnsafeBufferPointer { xb in
            try w.withUnsafeBufferPointer { wb in
                try t.withUnsafeBufferPointer { tb in
                    try losses.withUnsafeMutableBufferPointer { lb in
                        try dx.withUnsafeMutableBufferPointer { dxb in
                            try dw.withUnsafeMutableBufferPointer { dwb in
                                try space.withUnsafeMutableBufferPointer { ws in
                                    try linearCrossEntropy(
                                        input: xb, weight: wb, bias: nil, targets: tb,
                                        shape: LinearHeadShape(tokens: n, hidden: d, vocabulary: v), options: options,
                                        losses: lb, gradients: LinearCrossEntropyGradients(input: dxb, weight: dwb, bias: nil),
                                        workspace: workspace == nil ? nil : ws)
                                }
                            }
                        }
                    }
                }
            }
        }
        return (losses, dx, dw)
    }

    @Test func workspaceGivesTheSameBits() throws {
        // Float results compared bit for bit: hold the instruction set steady (see TestSupport).
        TestSupport.instructionSetLock.lock()
        defer { TestSupport.instructionSetLock.unlock() }
        let own = try run(workspace: nil)
        let given = try run(workspace: linearCrossEntropyWorkspaceCount(chunkRows: 4, vocabulary: v))
        #expect(own.0 == given.0 && own.1 == given.1 && own.2 == given.2)
    }

    @Test func tooSmallWorkspaceIsATypedError() {
        #expect(throws: LossError.shapeMismatch(argument: "workspace", expected: "at least 56 elements (chunk rows × (V + 1))", actual: "55 elements")) {
            try run(workspace: 55)
        }
    }
}
