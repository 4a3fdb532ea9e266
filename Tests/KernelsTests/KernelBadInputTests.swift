import Kernels
import Testing
import _TestSupport

// Bad inputs to the kernel buffer APIs: each must throw the named LossError and
// leave every output buffer the caller passed in exactly as it was (the kernels
// validate everything before they write anything).

/// Output storage a case may pass to a kernel, filled with a sentinel first.
struct KernelOutputs {
    static let sentinel = 7.25
    var a: [Double]
    var b: [Double]
    var c: [Double]
    var indices: [Int]

    init(_ a: Int, _ b: Int = 0, _ c: Int = 0, indices: Int = 0) {
        self.a = Array(repeating: Self.sentinel, count: a)
        self.b = Array(repeating: Self.sentinel, count: b)
        self.c = Array(repeating: Self.sentinel, count: c)
        self.indices = Array(repeating: -7, count: indices)
    }

    var untouched: Bool {
        (a + b + c).allSatisfy { $0 == Self.sentinel } && indices.allSatisfy { $0 == -7 }
    }
}

struct KernelBadInput: Sendable, CustomStringConvertible {
    let name: String
    let expected: LossError
    let sizes: (Int, Int, Int, Int)
    let body: @Sendable (inout KernelOutputs) throws -> Void

    init(
        _ name: String, _ expected: LossError, outputs: (Int, Int, Int, Int),
        _ body: @escaping @Sendable (inout KernelOutputs) throws -> Void
    ) {
        self.name = name
        self.expected = expected
        self.sizes = outputs
        self.body = body
    }

    var description: String { name }
}

private let x6: [Double] = [0.5, -1, 2, 0, 3, 1]  // (2, 3)
private let rows2 = AxisLayout(outer: 2, length: 3)

let kernelBadInputs: [KernelBadInput] = [
    // MARK: Layouts built by hand
    KernelBadInput(
        "softmax with a negative layout whose product is 1 (was a trap)",
        .shapeMismatch(
            argument: "layout", expected: "non-negative outer, length and inner whose product fits an Int",
            actual: "(outer: -1, length: -1, inner: 1)"), outputs: (1, 0, 0, 0)
    ) { o in
        try [1.0].withUnsafeBufferPointer { x in
            try o.a.withUnsafeMutableBufferPointer { try softmax(x, layout: AxisLayout(outer: -1, length: -1), into: $0) }
        }
    },
    KernelBadInput(
        "log-softmax with a layout whose count overflows (was a trap)",
        .shapeMismatch(
            argument: "layout", expected: "non-negative outer, length and inner whose product fits an Int",
            actual: "(outer: \(Int.max), length: 2, inner: 1)"), outputs: (2, 0, 0, 0)
    ) { o in
        try [1.0, 2].withUnsafeBufferPointer { x in
            try o.a.withUnsafeMutableBufferPointer { try logSoftmax(x, layout: AxisLayout(outer: .max, length: 2), into: $0) }
        }
    },
    KernelBadInput(
        "row max with an empty axis whose row count overflows (was a trap)",
        .shapeMismatch(
            argument: "layout", expected: "non-negative outer, length and inner whose product fits an Int",
            actual: "(outer: \(1 << 62), length: 0, inner: 4)"), outputs: (1, 0, 0, 0)
    ) { o in
        try [Double]().withUnsafeBufferPointer { x in
            try o.a.withUnsafeMutableBufferPointer {
                try rowMax(x, layout: AxisLayout(outer: 1 << 62, length: 0, inner: 4), into: $0)
            }
        }
    },
    KernelBadInput(
        "cross-entropy with a negative inner size",
        .shapeMismatch(
            argument: "layout", expected: "non-negative outer, length and inner whose product fits an Int",
            actual: "(outer: -2, length: 3, inner: -1)"), outputs: (2, 6, 0, 0)
    ) { o in
        try x6.withUnsafeBufferPointer { x in
            try [0, 1].withUnsafeBufferPointer { t in
                try o.a.withUnsafeMutableBufferPointer { l in
                    try o.b.withUnsafeMutableBufferPointer { g in
                        try softmaxCrossEntropy(
                            logits: x, targets: t, layout: AxisLayout(outer: -2, length: 3, inner: -1), losses: l, gradient: g)
                    }
                }
            }
        }
    },

    // MARK: Buffer sizes
    KernelBadInput(
        "softmax output one short",
        .shapeMismatch(argument: "output", expected: "6 elements for layout \(rows2)", actual: "5 elements"),
        outputs: (5, 0, 0, 0)
    ) { o in
        try x6.withUnsafeBufferPointer { x in try o.a.withUnsafeMutableBufferPointer { try softmax(x, layout: rows2, into: $0) } }
    },
    KernelBadInput(
        "softmax input one long",
        .shapeMismatch(argument: "input", expected: "6 elements for layout \(rows2)", actual: "7 elements"),
        outputs: (6, 0, 0, 0)
    ) { o in
        try (x6 + [1]).withUnsafeBufferPointer { x in
            try o.a.withUnsafeMutableBufferPointer { try softmax(x, layout: rows2, into: $0) }
        }
    },
    KernelBadInput(
        "softmax backward upstream short",
        .shapeMismatch(argument: "upstream", expected: "6 elements for layout \(rows2)", actual: "3 elements"),
        outputs: (6, 0, 0, 0)
    ) { o in
        try x6.withUnsafeBufferPointer { y in
            try [1.0, 1, 1].withUnsafeBufferPointer { dy in
                try o.a.withUnsafeMutableBufferPointer { try softmaxBackward(output: y, upstream: dy, layout: rows2, into: $0) }
            }
        }
    },
    KernelBadInput(
        "log-softmax backward gradient long",
        .shapeMismatch(argument: "gradient", expected: "6 elements for layout \(rows2)", actual: "12 elements"),
        outputs: (12, 0, 0, 0)
    ) { o in
        try x6.withUnsafeBufferPointer { y in
            try x6.withUnsafeBufferPointer { dy in
                try o.a.withUnsafeMutableBufferPointer { try logSoftmaxBackward(output: y, upstream: dy, layout: rows2, into: $0) }
            }
        }
    },
    KernelBadInput(
        "logsumexp output with one entry per element",
        .shapeMismatch(argument: "output", expected: "2 elements for layout \(rows2)", actual: "6 elements"),
        outputs: (6, 0, 0, 0)
    ) { o in
        try x6.withUnsafeBufferPointer { x in try o.a.withUnsafeMutableBufferPointer { try logSumExp(x, layout: rows2, into: $0) } }
    },
    KernelBadInput(
        "row norm of a short input",
        .shapeMismatch(argument: "input", expected: "6 elements for layout \(rows2)", actual: "4 elements"),
        outputs: (2, 0, 0, 0)
    ) { o in
        try [1.0, 2, 3, 4].withUnsafeBufferPointer { x in
            try o.a.withUnsafeMutableBufferPointer { try rowNorm(x, layout: rows2, kind: .l2, into: $0) }
        }
    },
    KernelBadInput(
        "row max argmax too short",
        .shapeMismatch(argument: "argmax", expected: "2 elements for layout \(rows2)", actual: "1 elements"),
        outputs: (2, 0, 0, 1)
    ) { o in
        try x6.withUnsafeBufferPointer { x in
            try o.a.withUnsafeMutableBufferPointer { out in
                try o.indices.withUnsafeMutableBufferPointer { try rowMax(x, layout: rows2, into: out, argmax: $0) }
            }
        }
    },
    KernelBadInput(
        "row max over an empty axis",
        .emptyInput(argument: "input", reason: "max over an axis of length 0 is undefined"), outputs: (2, 0, 0, 0)
    ) { o in
        try [Double]().withUnsafeBufferPointer { x in
            try o.a.withUnsafeMutableBufferPointer { try rowMax(x, layout: AxisLayout(outer: 2, length: 0), into: $0) }
        }
    },
    KernelBadInput(
        "row sum with zero threads",
        .invalidOption(name: "threads", value: "0", expected: "a thread count from 1 to \(maximumThreadCount)"), outputs: (2, 0, 0, 0)
    ) { o in
        try x6.withUnsafeBufferPointer { x in try o.a.withUnsafeMutableBufferPointer { try rowSum(x, layout: rows2, into: $0, threads: 0) } }
    },
    KernelBadInput(
        "row mean with negative threads",
        .invalidOption(name: "threads", value: "-3", expected: "a thread count from 1 to \(maximumThreadCount)"), outputs: (2, 0, 0, 0)
    ) { o in
        try x6.withUnsafeBufferPointer { x in try o.a.withUnsafeMutableBufferPointer { try rowMean(x, layout: rows2, into: $0, threads: -3) } }
    },
    KernelBadInput(
        "row sum with more threads than the pool has",
        .invalidOption(name: "threads", value: "100000", expected: "a thread count from 1 to \(maximumThreadCount)"),
        outputs: (2, 0, 0, 0)
    ) { o in
        try x6.withUnsafeBufferPointer { x in try o.a.withUnsafeMutableBufferPointer { try rowSum(x, layout: rows2, into: $0, threads: 100_000) } }
    },
    KernelBadInput(
        "log-sum-exp of 2^62 empty rows: an output that cannot exist (no row is walked)",
        .shapeMismatch(argument: "output", expected: "\(1 << 62) elements for layout (outer: \(1 << 62), length: 0, inner: 1)", actual: "2 elements"),
        outputs: (2, 0, 0, 0)
    ) { o in
        try [Double]().withUnsafeBufferPointer { x in
            try o.a.withUnsafeMutableBufferPointer { try logSumExp(x, layout: AxisLayout(outer: 1 << 62, length: 0), into: $0) }
        }
    },

    // MARK: Fused cross-entropy
    KernelBadInput(
        "cross-entropy target out of range in the last row: nothing written for the first",
        .indexOutOfRange(argument: "target", position: 1, index: 3, validRange: "[0, 3)"), outputs: (2, 6, 0, 0)
    ) { o in
        try x6.withUnsafeBufferPointer { x in
            try [0, 3].withUnsafeBufferPointer { t in
                try o.a.withUnsafeMutableBufferPointer { l in
                    try o.b.withUnsafeMutableBufferPointer { g in
                        try softmaxCrossEntropy(logits: x, targets: t, layout: rows2, losses: l, gradient: g)
                    }
                }
            }
        }
    },
    KernelBadInput(
        "cross-entropy negative target that is not the ignore index",
        .indexOutOfRange(argument: "target", position: 0, index: -1, validRange: "[0, 3)"), outputs: (2, 0, 0, 0)
    ) { o in
        try x6.withUnsafeBufferPointer { x in
            try [-1, 0].withUnsafeBufferPointer { t in
                try o.a.withUnsafeMutableBufferPointer { try softmaxCrossEntropy(logits: x, targets: t, layout: rows2, losses: $0) }
            }
        }
    },
    KernelBadInput(
        "cross-entropy NaN label smoothing",
        .invalidOption(name: "label_smoothing", value: "nan", expected: "a value in [0, 1]"), outputs: (2, 0, 0, 0)
    ) { o in
        try x6.withUnsafeBufferPointer { x in
            try [0, 1].withUnsafeBufferPointer { t in
                try o.a.withUnsafeMutableBufferPointer {
                    try softmaxCrossEntropy(logits: x, targets: t, layout: rows2, labelSmoothing: .nan, losses: $0)
                }
            }
        }
    },
    KernelBadInput(
        "cross-entropy class weights of the wrong length",
        .shapeMismatch(argument: "weight", expected: "[3] (one weight per class)", actual: "[4]"), outputs: (2, 0, 0, 0)
    ) { o in
        try x6.withUnsafeBufferPointer { x in
            try [0, 1].withUnsafeBufferPointer { t in
                try [1.0, 1, 1, 1].withUnsafeBufferPointer { w in
                    try o.a.withUnsafeMutableBufferPointer {
                        try softmaxCrossEntropy(logits: x, targets: t, layout: rows2, classWeights: w, losses: $0)
                    }
                }
            }
        }
    },
    KernelBadInput(
        "cross-entropy gradient buffer one short",
        .shapeMismatch(argument: "gradient", expected: "6 elements for layout \(rows2)", actual: "5 elements"),
        outputs: (2, 5, 0, 0)
    ) { o in
        try x6.withUnsafeBufferPointer { x in
            try [0, 1].withUnsafeBufferPointer { t in
                try o.a.withUnsafeMutableBufferPointer { l in
                    try o.b.withUnsafeMutableBufferPointer { g in
                        try softmaxCrossEntropy(logits: x, targets: t, layout: rows2, losses: l, gradient: g)
                    }
                }
            }
        }
    },
    KernelBadInput(
        "cross-entropy upstream with one entry per element",
        .shapeMismatch(argument: "upstream", expected: "2 elements for layout \(rows2)", actual: "6 elements"),
        outputs: (2, 6, 0, 0)
    ) { o in
        try x6.withUnsafeBufferPointer { x in
            try [0, 1].withUnsafeBufferPointer { t in
                try x6.withUnsafeBufferPointer { u in
                    try o.a.withUnsafeMutableBufferPointer { l in
                        try o.b.withUnsafeMutableBufferPointer { g in
                            try softmaxCrossEntropy(logits: x, targets: t, layout: rows2, losses: l, gradient: g, upstream: u)
                        }
                    }
                }
            }
        }
    },
    KernelBadInput(
        "cross-entropy with no classes and rows",
        .emptyInput(argument: "input", reason: "cross-entropy needs at least one class"), outputs: (2, 0, 0, 0)
    ) { o in
        try [Double]().withUnsafeBufferPointer { x in
            try [-100, -100].withUnsafeBufferPointer { t in
                try o.a.withUnsafeMutableBufferPointer {
                    try softmaxCrossEntropy(logits: x, targets: t, layout: AxisLayout(outer: 2, length: 0), losses: $0)
                }
            }
        }
    },
    KernelBadInput(
        "cross-entropy probabilities of the wrong size",
        .shapeMismatch(argument: "target", expected: "6 elements for layout \(rows2)", actual: "2 elements"),
        outputs: (2, 6, 6, 0)
    ) { o in
        try x6.withUnsafeBufferPointer { x in
            try [0.5, 0.5].withUnsafeBufferPointer { q in
                try o.a.withUnsafeMutableBufferPointer { l in
                    try o.b.withUnsafeMutableBufferPointer { g in
                        try o.c.withUnsafeMutableBufferPointer { gq in
                            try softmaxCrossEntropy(logits: x, targets: q, layout: rows2, losses: l, gradient: g, targetGradient: gq)
                        }
                    }
                }
            }
        }
    },
    KernelBadInput(
        "cross-entropy target-gradient buffer short",
        .shapeMismatch(argument: "target gradient", expected: "6 elements for layout \(rows2)", actual: "3 elements"),
        outputs: (2, 6, 3, 0)
    ) { o in
        try x6.withUnsafeBufferPointer { x in
            try x6.withUnsafeBufferPointer { q in
                try o.a.withUnsafeMutableBufferPointer { l in
                    try o.b.withUnsafeMutableBufferPointer { g in
                        try o.c.withUnsafeMutableBufferPointer { gq in
                            try softmaxCrossEntropy(logits: x, targets: q, layout: rows2, losses: l, gradient: g, targetGradient: gq)
                        }
                    }
                }
            }
        }
    },

    // MARK: Fused pointwise losses
    KernelBadInput(
        "pointwise target one short",
        .shapeMismatch(argument: "target", expected: "6 elements for layout (outer: 1, length: 6, inner: 1)", actual: "5 elements"),
        outputs: (6, 6, 0, 0)
    ) { o in
        try x6.withUnsafeBufferPointer { x in
            try Array(x6.dropLast()).withUnsafeBufferPointer { y in
                try o.a.withUnsafeMutableBufferPointer { v in
                    try o.b.withUnsafeMutableBufferPointer { g in
                        _ = try pointwiseLoss(.squaredError, input: x, target: y, values: v, gradient: g)
                    }
                }
            }
        }
    },
    KernelBadInput(
        "pointwise gradient long: values not written either",
        .shapeMismatch(argument: "gradient", expected: "6 elements for layout (outer: 1, length: 6, inner: 1)", actual: "7 elements"),
        outputs: (6, 7, 0, 0)
    ) { o in
        try x6.withUnsafeBufferPointer { x in
            try o.a.withUnsafeMutableBufferPointer { v in
                try o.b.withUnsafeMutableBufferPointer { g in
                    _ = try pointwiseLoss(.absoluteError, input: x, target: x, values: v, gradient: g)
                }
            }
        }
    },
    KernelBadInput(
        "pointwise upstream short",
        .shapeMismatch(argument: "upstream", expected: "6 elements for layout (outer: 1, length: 6, inner: 1)", actual: "1 elements"),
        outputs: (6, 0, 0, 0)
    ) { o in
        try x6.withUnsafeBufferPointer { x in
            try [1.0].withUnsafeBufferPointer { u in
                try o.a.withUnsafeMutableBufferPointer { g in
                    _ = try pointwiseLoss(.logisticWithLogits, input: x, target: x, gradient: g, upstream: u)
                }
            }
        }
    },
    KernelBadInput(
        "pointwise with zero threads",
        .invalidOption(name: "threads", value: "0", expected: "a thread count from 1 to \(maximumThreadCount)"), outputs: (6, 0, 0, 0)
    ) { o in
        try x6.withUnsafeBufferPointer { x in
            try o.a.withUnsafeMutableBufferPointer { v in _ = try pointwiseLoss(.squaredError, input: x, target: x, values: v, threads: 0) }
        }
    },
]

@Suite struct KernelBadInputTests {
    @Test(arguments: kernelBadInputs)
    func throwsAndWritesNothing(_ bad: KernelBadInput) {
        var outputs = KernelOutputs(bad.sizes.0, bad.sizes.1, bad.sizes.2, indices: bad.sizes.3)
        do {
            try bad.body(&outputs)
            Issue.record("\(bad.name): no error, expected \(bad.expected)")
        } catch let error as LossError {
            #expect(LossErrorMatch.same(error, bad.expected), "\(bad.name): threw \(error), expected \(bad.expected)")
        } catch {
            Issue.record("\(bad.name): threw a non-LossError \(error)")
        }
        #expect(outputs.untouched, "\(bad.name): an output buffer was written")
    }

    /// A layout of 2^62 rows of length 0 has no element to write: softmax and its backward
    /// return at once instead of visiting the rows one by one (years at a billion a second).
    @Test func softmaxOfRowsWithoutElementsReturnsAtOnce() throws {
        let layout = AxisLayout(outer: 1 << 62, length: 0)
        let clock = ContinuousClock(), start = clock.now
        var y = [Float]()
        try [Float]().withUnsafeBufferPointer { x in
            try y.withUnsafeMutableBufferPointer { o in
                try softmax(x, layout: layout, into: o, threads: 2)
                try logSoftmax(x, layout: layout, into: o)
                try softmaxBackward(output: x, upstream: x, layout: layout, into: o)
            }
        }
        #expect(clock.now - start < .seconds(1))
    }

    @Test func theTableIsLargeAndDistinct() {
        #expect(kernelBadInputs.count >= 25)
        #expect(Set(kernelBadInputs.map(\.name)).count == kernelBadInputs.count)
    }

    /// Float goes through the same checks (and the vectorized kernels): a bad
    /// target leaves a Float loss buffer untouched as well.
    @Test func floatBuffersAreLeftUntouched() {
        let x: [Float] = [1, 2, 3, 4, 5, 6]
        var losses: [Float] = [9, 9]
        var gradient = [Float](repeating: 9, count: 6)
        #expect(throws: LossError.indexOutOfRange(argument: "target", position: 1, index: 5, validRange: "[0, 3)")) {
            try x.withUnsafeBufferPointer { xb in
                try [2, 5].withUnsafeBufferPointer { t in
                    try losses.withUnsafeMutableBufferPointer { l in
                        try gradient.withUnsafeMutableBufferPointer { g in
                            try softmaxCrossEntropy(logits: xb, targets: t, layout: rows2, losses: l, gradient: g)
                        }
                    }
                }
            }
        }
        #expect(losses == [9, 9] && gradient.allSatisfy { $0 == 9 })
    }

    /// A valid call still writes (the sentinel check above is not vacuous).
    @Test func aValidCallWritesEveryOutput() throws {
        var outputs = KernelOutputs(6)
        try x6.withUnsafeBufferPointer { x in try outputs.a.withUnsafeMutableBufferPointer { try softmax(x, layout: rows2, into: $0) } }
        #expect(outputs.a.allSatisfy { $0 != KernelOutputs.sentinel })
    }
}
