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

    /// The target check reads 32 targets per step, then the rest one by one: a target out of
    /// range (negative, the class count, huge) is found wherever it is, on every instruction
    /// set, with its position, and the outputs untouched; ignore_index is accepted anywhere.
    @Test func everyBadTargetIsFoundWhereverItIs() throws {
        let layout = AxisLayout(outer: 77, length: 3)
        let x = [Float](repeating: 0.5, count: layout.count)
        for set in InstructionSetTests.supported {
            for position in [0, 5, 31, 32, 40, 63, 64, 76] {
                for bad in [-1, 3, Int.max, Int.min, 1 << 40] {
                    var t = (0..<layout.rows).map { $0 % 3 }
                    t[(position + 7) % layout.rows] = -100
                    t[position] = bad
                    var loss = [Float](repeating: -7, count: layout.rows)
                    _ = InstructionSetTests().withSet(set) {
                        #expect(throws: LossError.indexOutOfRange(argument: "target", position: position, index: bad, validRange: "[0, 3)")) {
                            try x.withUnsafeBufferPointer { xb in
                                try t.withUnsafeBufferPointer { tb in
                                    try loss.withUnsafeMutableBufferPointer { try softmaxCrossEntropy(logits: xb, targets: tb, layout: layout, losses: $0) }
                                }
                            }
                        }
                    }
                    #expect(loss.allSatisfy { $0 == -7 }, "\(set) position \(position): outputs untouched")
                }
                var t = (0..<layout.rows).map { $0 % 3 }
                t[position] = -100
                var loss = [Float](repeating: -7, count: layout.rows)
                try InstructionSetTests().withSet(set) {
                    try x.withUnsafeBufferPointer { xb in
                        try t.withUnsafeBufferPointer { tb in
                            try loss.withUnsafeMutableBufferPointer { try softmaxCrossEntropy(logits: xb, targets: tb, layout: layout, losses: $0) }
                        }
                    }
                }
                #expect(loss[position] == 0, "\(set) position \(position): ignored")
            }
        }
    }
}
