import Kernels
import Testing
import _TestSupport

/// Naive Double reference for softmax along an axis.
func referenceSoftmax(_ x: [Double], _ layout: AxisLayout, log: Bool) -> [Double] {
    var y = [Double](repeating: 0, count: x.count)
    for o in 0..<layout.outer {
        for i in 0..<layout.inner {
            let idx = (0..<layout.length).map { (o * layout.length + $0) * layout.inner + i }
            let m = idx.map { x[$0] }.max()!
            let s = idx.map { Double.exp(x[$0] - m) }.reduce(0, +)
            for k in idx { y[k] = log ? x[k] - m - Double.log(s) : Double.exp(x[k] - m) / s }
        }
    }
    return y
}

@Suite struct SoftmaxTests {
    @Test(arguments: [AxisLayout(outer: 7, length: 13), AxisLayout(outer: 3, length: 5, inner: 4), AxisLayout(outer: 1, length: 1)])
    func floatMatchesDoubleReference(layout: AxisLayout) throws {
        let x = TestSupport.normal([layout.count], scale: 5, seed: 1).scalars
        for log in [false, true] {
            let want = referenceSoftmax(x, layout, log: log)
            let xf = x.map { Float($0) }
            var y = [Float](repeating: 0, count: x.count)
            try xf.withUnsafeBufferPointer { xb in
                try y.withUnsafeMutableBufferPointer { yb in
                    if log { try logSoftmax(xb, layout: layout, into: yb) } else { try softmax(xb, layout: layout, into: yb) }
                }
            }
            let got = y.map(Double.init)
            let err = zip(got, want).map { abs($0 - $1) / max(abs($1), 1e-6) }.max()!
            #expect(err < 1e-5, "log=\(log) layout=\(layout) err=\(err)")
        }
    }

    @Test func minusInfinityGivesZeroProbabilityAndNaNPropagates() throws {
        let x: [Double] = [0, -.infinity, 1, .nan, 2, 3]
        var y = [Double](repeating: 0, count: 6)
        try x.withUnsafeBufferPointer { xb in
            try y.withUnsafeMutableBufferPointer { try softmax(xb, layout: AxisLayout(outer: 2, length: 3), into: $0) }
        }
        #expect(y[1] == 0)
        #expect(abs(y[0] + y[2] - 1) < 1e-15)
        #expect(y[3...].allSatisfy { $0.isNaN })
    }

    @Test func resultsDoNotDependOnThreadCount() throws {
        // Float results compared bit for bit: hold the instruction set steady (see TestSupport).
        TestSupport.instructionSetLock.lock()
        defer { TestSupport.instructionSetLock.unlock() }
        let layout = AxisLayout(outer: 300, length: 257)
        let x = TestSupport.normal([layout.count], scale: 3, seed: 2).scalars.map { Float($0) }
        var outputs: [[Float]] = []
        for threads in [1, 2, 3, 8] {
            var y = [Float](repeating: 0, count: x.count)
            try x.withUnsafeBufferPointer { xb in
                try y.withUnsafeMutableBufferPointer { try logSoftmax(xb, layout: layout, into: $0, threads: threads) }
            }
            outputs.append(y)
        }
        #expect(outputs.allSatisfy { $0 == outputs[0] })
    }

    @Test func sizeMismatchThrowsAndLeavesOutputUntouched() {
        let x: [Float] = [1, 2, 3]
        var y: [Float] = [7, 7]
        #expect(throws: LossError.self) {
            try x.withUnsafeBufferPointer { xb in
                try y.withUnsafeMutableBufferPointer { try softmax(xb, layout: AxisLayout(outer: 1, length: 3), into: $0) }
            }
        }
        #expect(y == [7, 7])
    }
}
