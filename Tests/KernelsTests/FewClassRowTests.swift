import Kernels
import Testing
import _TestSupport

/// Rows of 2 to 64 classes go 16 rows per vector (the rows transposed into the lanes), each
/// class count through code of its own up to 16 and through chunks of 16 classes above.
/// With more rows than one thread takes, the threads' parts start and end inside blocks of
/// 16 rows, so these tests check that a row's results do not depend on where its block
/// starts: every class count, every kernel and cross-entropy option, 1 and 2 threads,
/// bit for bit, on every instruction set. (ShortRowTests checks the values against Double.)
@Suite(.serialized) struct FewClassRowTests {
    /// Enough elements for two parts, and a row count that splits inside a block.
    static func rows(for n: Int) -> Int { max(16 * 40 + 7, 16384 * 2 / n + 7) }

    struct Outputs: Equatable {
        var softmax: [Float], logSoftmax: [Float], logSumExp: [Float]
        var loss: [[Float]], gradient: [[Float]]
    }

    func run(_ x: [Float], _ t: [Int], _ weight: [Float], _ layout: AxisLayout, threads: Int) throws -> Outputs {
        var y = [Float](repeating: -7, count: x.count), ly = y, lse = [Float](repeating: -7, count: layout.rows)
        var losses: [[Float]] = [], gradients: [[Float]] = []
        try x.withUnsafeBufferPointer { xb in
            try y.withUnsafeMutableBufferPointer { try softmax(xb, layout: layout, into: $0, threads: threads) }
            try ly.withUnsafeMutableBufferPointer { try logSoftmax(xb, layout: layout, into: $0, threads: threads) }
            try lse.withUnsafeMutableBufferPointer { try logSumExp(xb, layout: layout, into: $0, threads: threads) }
            for (useWeight, smoothing, withGradient) in [(false, 0.0, true), (false, 0.0, false), (true, 0.15, true), (true, 0.15, false)] {
                var loss = [Float](repeating: -7, count: layout.rows), grad = [Float](repeating: -7, count: x.count)
                try t.withUnsafeBufferPointer { tb in
                    try weight.withUnsafeBufferPointer { wb in
                        try loss.withUnsafeMutableBufferPointer { lb in
                            try grad.withUnsafeMutableBufferPointer { gb in
                                try softmaxCrossEntropy(
                                    logits: xb, targets: tb, layout: layout, classWeights: useWeight ? wb : nil,
                                    labelSmoothing: Float(smoothing), losses: lb, gradient: withGradient ? gb : nil,
                                    gradientScale: 0.5, threads: threads)
                            }
                        }
                    }
                }
                losses.append(loss)
                gradients.append(grad)
            }
        }
        return Outputs(softmax: y, logSoftmax: ly, logSumExp: lse, loss: losses, gradient: gradients)
    }

    @Test func resultsDoNotDependOnThreadsForEveryClassCount() throws {
        for set in InstructionSetTests.supported {
            for n in 2...64 {
                let layout = AxisLayout(outer: Self.rows(for: n), length: n)
                var x = TestSupport.normal([layout.count], scale: 3, seed: UInt64(700 + n)).scalars.map { Float($0) }
                x[330 * n + n / 2] = .nan  // in the block where two threads' parts meet
                var t = TestSupport.classIndices([layout.rows], classes: n, seed: UInt64(800 + n)).scalars
                t[321] = -100
                let weight = TestSupport.uniform([n], in: 0.2...2, seed: 9).scalars.map { Float($0) }
                let (one, two) = try InstructionSetTests().withSet(set) {
                    (try run(x, t, weight, layout, threads: 1), try run(x, t, weight, layout, threads: 2))
                }
                func same(_ a: [Float], _ b: [Float]) -> Bool { zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern } }
                #expect(same(one.softmax, two.softmax) && same(one.logSoftmax, two.logSoftmax), "\(set) n=\(n) softmax")
                #expect(same(one.logSumExp, two.logSumExp), "\(set) n=\(n) logsumexp")
                for k in one.loss.indices {
                    #expect(same(one.loss[k], two.loss[k]) && same(one.gradient[k], two.gradient[k]), "\(set) n=\(n) CE \(k)")
                }
                // The rows around the NaN: only its own row is NaN, the ignored row is 0.
                #expect(one.logSumExp[330].isNaN && !one.logSumExp[329].isNaN && !one.logSumExp[331].isNaN, "\(set) n=\(n)")
                #expect(one.loss[0][321] == 0 && one.gradient[0][321 * n..<322 * n].allSatisfy { $0 == 0 }, "\(set) n=\(n)")
            }
        }
    }
}
