@testable import Kernels
import Testing
import _TestSupport

@Suite struct RowReductionTests {
    let layout = AxisLayout(outer: 4, length: 6, inner: 3)
    var x: [Double] { TestSupport.normal([layout.count], scale: 3, seed: 80).scalars }

    func rows(_ body: (Int, [Double]) -> Void) {
        for o in 0..<layout.outer {
            for i in 0..<layout.inner {
                body(o * layout.inner + i, (0..<layout.length).map { x[(o * layout.length + $0) * layout.inner + i] })
            }
        }
    }

    @Test func reductionsMatchNaiveLoops() throws {
        var sums = [Double](repeating: 0, count: layout.rows), means = sums, maxes = sums, lse = sums, l1 = sums, l2 = sums, linf = sums
        var argmax = [Int](repeating: -1, count: layout.rows)
        try x.withUnsafeBufferPointer { xb in
            try sums.withUnsafeMutableBufferPointer { try rowSum(xb, layout: layout, into: $0) }
            try means.withUnsafeMutableBufferPointer { try rowMean(xb, layout: layout, into: $0) }
            try lse.withUnsafeMutableBufferPointer { try logSumExp(xb, layout: layout, into: $0) }
            try l1.withUnsafeMutableBufferPointer { try rowNorm(xb, layout: layout, kind: .l1, into: $0) }
            try l2.withUnsafeMutableBufferPointer { try rowNorm(xb, layout: layout, kind: .l2, into: $0) }
            try linf.withUnsafeMutableBufferPointer { try rowNorm(xb, layout: layout, kind: .infinity, into: $0) }
            try maxes.withUnsafeMutableBufferPointer { m in
                try argmax.withUnsafeMutableBufferPointer { try rowMax(xb, layout: layout, into: m, argmax: $0) }
            }
        }
        rows { r, v in
            #expect(abs(sums[r] - v.reduce(0, +)) < 1e-12)
            #expect(abs(means[r] - v.reduce(0, +) / Double(v.count)) < 1e-12)
            #expect(maxes[r] == v.max()! && argmax[r] == v.firstIndex(of: v.max()!)!)
            #expect(abs(lse[r] - Double.log(v.map { Double.exp($0) }.reduce(0, +))) < 1e-12)
            #expect(abs(l1[r] - v.map(abs).reduce(0, +)) < 1e-12)
            #expect(abs(l2[r] - v.map { $0 * $0 }.reduce(0, +).squareRoot()) < 1e-12)
            #expect(linf[r] == v.map(abs).max()!)
        }
    }

    @Test func wholeBufferSumAccumulatesInDouble() throws {
        // 2^24 + 1 + 1 + ... is not representable step by step in Float; the Double accumulator keeps it.
        let values = [Float(1 << 24)] + [Float](repeating: 1, count: 1000)
        #expect(try values.withUnsafeBufferPointer { try sum($0) } == Float(1 << 24) + 1000)
    }

    @Test func nanPropagatesThroughMax() throws {
        let v: [Float] = [1, .nan, 3]
        var m: [Float] = [0]
        try v.withUnsafeBufferPointer { xb in try m.withUnsafeMutableBufferPointer { try rowMax(xb, layout: AxisLayout(outer: 1, length: 3), into: $0) } }
        #expect(m[0].isNaN)
    }

    @Test func invalidThreadCountIsATypedError() {
        let v: [Float] = [1, 2]
        var m: [Float] = [0]
        #expect(throws: LossError.invalidOption(name: "threads", value: "0", expected: "a thread count from 1 to \(maximumThreadCount)")) {
            try v.withUnsafeBufferPointer { xb in
                try m.withUnsafeMutableBufferPointer { try rowSum(xb, layout: AxisLayout(outer: 1, length: 2), into: $0, threads: 0) }
            }
        }
    }

    @Test func blasWrappersAgreeWithLoops() {
        let a: [Double] = [1, 2, 3, 4, 5, 6]  // (2, 3)
        let b: [Double] = [1, 0, -1, 2, 0.5, 1]  // (3, 2)
        var c = [Double](repeating: 0, count: 4)
        a.withUnsafeBufferPointer { ab in
            b.withUnsafeBufferPointer { bb in
                c.withUnsafeMutableBufferPointer { cb in
                    BLAS.gemm(transposeA: false, transposeB: false, m: 2, n: 2, k: 3, alpha: 1, a: ab.baseAddress!, lda: 3,
                              b: bb.baseAddress!, ldb: 2, beta: 0, c: cb.baseAddress!, ldc: 2)
                }
            }
        }
        let want: [Double] = [0.5, 7, 2, 16]  // (1 - 2 + 1.5, 0 + 4 + 3, 4 - 5 + 3, 0 + 10 + 6)
        #expect(c == want)
        let dot: Double = a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { BLAS.dot(x, $0) } }
        #expect(dot == 14.5)  // 1 + 0 - 3 + 8 + 2.5 + 6
        var spd: [Double] = [4, 2, 2, 3]
        let info = spd.withUnsafeMutableBufferPointer { BLAS.choleskyLower($0.baseAddress!, n: 2) }
        #expect(info == 0 && spd[0] == 2 && spd[2] == 1 && abs(spd[3] - 2.0.squareRoot()) < 1e-15)
        var notPD: [Double] = [1, 2, 2, 1]
        #expect(notPD.withUnsafeMutableBufferPointer { BLAS.choleskyLower($0.baseAddress!, n: 2) } > 0)
    }
}
