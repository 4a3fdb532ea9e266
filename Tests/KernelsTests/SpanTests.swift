import Kernels
import Testing

/// The `Span` forms of the kernels compute exactly what the unsafe-buffer forms do,
/// and reject the same bad sizes.
@Suite struct SpanTests {
    let layout = AxisLayout(outer: 3, length: 5)
    let x: [Float] = (0..<15).map { Float($0 % 7) * 0.75 - 2 }

    func viaBuffers(_ body: (UnsafeBufferPointer<Float>, UnsafeMutableBufferPointer<Float>) throws -> Void, count: Int) throws -> [Float] {
        var out = [Float](repeating: 0, count: count)
        try x.withUnsafeBufferPointer { xb in try out.withUnsafeMutableBufferPointer { try body(xb, $0) } }
        return out
    }

    @Test func rowKernelsMatchTheirBufferForms() throws {
        var y = [Float](repeating: 0, count: 15), rows = [Float](repeating: 0, count: 3)
        do {
            var ys = y.mutableSpan
            try softmax(x.span, layout: layout, into: &ys)
        }
        #expect(y == (try viaBuffers({ try softmax($0, layout: layout, into: $1) }, count: 15)))
        do {
            var ys = y.mutableSpan
            try logSoftmax(x.span, layout: layout, into: &ys)
        }
        #expect(y == (try viaBuffers({ try logSoftmax($0, layout: layout, into: $1) }, count: 15)))
        do {
            var rs = rows.mutableSpan
            try logSumExp(x.span, layout: layout, into: &rs)
        }
        #expect(rows == (try viaBuffers({ try logSumExp($0, layout: layout, into: $1) }, count: 3)))
        do {
            var rs = rows.mutableSpan
            try rowNorm(x.span, layout: layout, kind: .l2, into: &rs)
        }
        #expect(rows == (try viaBuffers({ try rowNorm($0, layout: layout, kind: .l2, into: $1) }, count: 3)))
        #expect(try sum(x.span) == (try x.withUnsafeBufferPointer { try sum($0) }))
    }

    @Test func crossEntropyAndPointwiseMatchTheirBufferForms() throws {
        let targets = [2, 0, 4]
        var losses = [Float](repeating: 0, count: 3), gradient = [Float](repeating: 0, count: 15)
        do {
            var ls = losses.mutableSpan, gs = gradient.mutableSpan
            try softmaxCrossEntropy(
                logits: x.span, targets: targets.span, layout: layout, labelSmoothing: 0.1, losses: &ls, gradient: &gs)
        }
        var l2 = [Float](repeating: 0, count: 3), g2 = [Float](repeating: 0, count: 15)
        try x.withUnsafeBufferPointer { xb in
            try targets.withUnsafeBufferPointer { tb in
                try l2.withUnsafeMutableBufferPointer { lb in
                    try g2.withUnsafeMutableBufferPointer {
                        try softmaxCrossEntropy(logits: xb, targets: tb, layout: layout, labelSmoothing: 0.1, losses: lb, gradient: $0)
                    }
                }
            }
        }
        #expect(losses == l2 && gradient == g2)

        let y = x.reversed().map { $0 }
        var g = [Float](repeating: 0, count: 15)
        let total: Float
        do {
            var gsp = g.mutableSpan
            total = try pointwiseLoss(.squaredError, input: x.span, target: y.span, gradient: &gsp, gradientScale: 0.5)
        }
        #expect(total == (try pointwiseLoss(.squaredError, input: x.span, target: y.span)))
        #expect(g == zip(x, y).map { 0.5 * 2 * ($0 - $1) })
    }

    @Test func spanFormsRejectWrongSizes() throws {
        var short = [Float](repeating: 0, count: 14)
        do {
            var ss = short.mutableSpan
            #expect(throws: LossError.self) { try softmax(x.span, layout: layout, into: &ss) }
        }
        #expect(short.allSatisfy { $0 == 0 })
    }

    @Test func matrixMultiplyOnSpans() throws {
        let a: [Double] = [1, 2, 3, 4, 5, 6]  // 2 x 3
        let b: [Double] = [1, 0, 0, 1, 1, 1]  // 3 x 2
        var c = [Double](repeating: 0, count: 4)
        do {
            var cs = c.mutableSpan
            try matrixMultiply(a.span, b.span, rows: 2, columns: 2, inner: 3, into: &cs)
            #expect(throws: LossError.self) { try matrixMultiply(a.span, b.span, rows: 2, columns: 3, inner: 3, into: &cs) }
        }
        #expect(c == [4, 5, 10, 11])
        var ct = [Double](repeating: 0, count: 9)  // aᵀ a, 3 x 3
        do {
            var cts = ct.mutableSpan
            try matrixMultiply(a.span, a.span, rows: 3, columns: 3, inner: 2, opA: .transposed, into: &cts)
        }
        #expect(ct == [17, 22, 27, 22, 29, 36, 27, 36, 45])
    }
}
