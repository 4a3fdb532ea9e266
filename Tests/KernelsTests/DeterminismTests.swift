import Glibc
import Kernels
import Testing
import _TestSupport

// Every kernel gives bitwise-identical outputs for 1, 2, 3 and 8 threads and for
// repeated calls. The inputs are large enough to be split: 300,000 elements,
// over 32,768 per thread at 8 threads, in 600 rows (so 8 parts are possible).

private let threadCounts = [1, 2, 3, 8]
private let n = 300_000
/// Rows along a contiguous axis, and an axis with an inner stride (PyTorch's (N, C, d) class axis).
private let layouts = [AxisLayout(outer: 600, length: 500), AxisLayout(outer: 100, length: 30, inner: 100)]

/// Normal values, generated once (generation dominates the run time in a debug build).
private let normals: [Double] = TestSupport.normal([n + 4096], seed: 1).scalars

private func data<T: KernelScalar>(_ seed: UInt64, scale: Double = 3, as _: T.Type) -> [T] {
    normals[Int(seed) * 256..<(Int(seed) * 256 + n)].map { T($0 * scale) }
}

/// Exact equality of the bytes of two outputs (NaN-safe, -0 distinct from +0).
private func identical<T>(_ a: [[T]], _ b: [[T]]) -> Bool {
    a.count == b.count
        && zip(a, b).allSatisfy { x, y in
            x.count == y.count
                && x.withUnsafeBytes { xb in
                    y.withUnsafeBytes { yb in xb.count == 0 || memcmp(xb.baseAddress!, yb.baseAddress!, xb.count) == 0 }
                }
        }
}

/// Runs `kernel(threads)` for every thread count, and once more, and expects
/// identical bits throughout. The instruction set is held fixed meanwhile.
private func expectDeterministic<T: KernelScalar>(
    _ name: String, _ kernel: (Int) throws -> [[T]]
) throws {
    try TestSupport.holdingInstructionSet {
        let reference = try kernel(1)
        #expect(reference.allSatisfy { !$0.isEmpty }, "\(name): produced nothing")
        for threads in threadCounts + [1] {
            #expect(identical(try kernel(threads), reference), "\(name): threads \(threads)")
        }
    }
}

private func rowKernels<T: KernelScalar>(_: T.Type) throws {
    let x: [T] = data(1, as: T.self)
    for layout in layouts {
        func rows(_ name: String, _ f: (UnsafeBufferPointer<T>, AxisLayout, UnsafeMutableBufferPointer<T>, Int) throws -> Void) throws {
            try expectDeterministic("\(name) \(layout)") { threads in
                var out = [T](repeating: 0, count: layout.rows)
                try x.withUnsafeBufferPointer { xb in try out.withUnsafeMutableBufferPointer { try f(xb, layout, $0, threads) } }
                return [out]
            }
        }
        try rows("logSumExp") { try logSumExp($0, layout: $1, into: $2, threads: $3) }
        try rows("rowSum") { try rowSum($0, layout: $1, into: $2, threads: $3) }
        try rows("rowMean") { try rowMean($0, layout: $1, into: $2, threads: $3) }
        for kind in [NormKind.l1, .l2, .infinity] {
            try rows("rowNorm \(kind)") { try rowNorm($0, layout: $1, kind: kind, into: $2, threads: $3) }
        }
        try expectDeterministic("rowMax \(layout)") { threads in
            var out = [T](repeating: 0, count: layout.rows), arg = [Int](repeating: 0, count: layout.rows)
            try x.withUnsafeBufferPointer { xb in
                try out.withUnsafeMutableBufferPointer { o in
                    try arg.withUnsafeMutableBufferPointer { try rowMax(xb, layout: layout, into: o, argmax: $0, threads: threads) }
                }
            }
            return [out, arg.map { T($0) }]
        }
    }
}

private func softmaxKernels<T: KernelScalar>(_: T.Type) throws {
    let x: [T] = data(2, as: T.self), dy: [T] = data(3, scale: 1, as: T.self)
    for layout in layouts {
        for log in [false, true] {
            try expectDeterministic("softmax log=\(log) \(layout) forward and backward") { threads in
                var y = [T](repeating: 0, count: n), dx = y
                try x.withUnsafeBufferPointer { xb in
                    try y.withUnsafeMutableBufferPointer { yb in
                        if log { try logSoftmax(xb, layout: layout, into: yb, threads: threads) } else {
                            try softmax(xb, layout: layout, into: yb, threads: threads)
                        }
                    }
                }
                try y.withUnsafeBufferPointer { yb in
                    try dy.withUnsafeBufferPointer { db in
                        try dx.withUnsafeMutableBufferPointer { g in
                            if log { try logSoftmaxBackward(output: yb, upstream: db, layout: layout, into: g, threads: threads) } else {
                                try softmaxBackward(output: yb, upstream: db, layout: layout, into: g, threads: threads)
                            }
                        }
                    }
                }
                return [y, dx]
            }
        }
    }
}

private func crossEntropyKernels<T: KernelScalar>(_: T.Type) throws {
    let x: [T] = data(4, as: T.self)
    for layout in layouts {
        var targets = TestSupport.classIndices([layout.rows], classes: layout.length, seed: 5).scalars
        targets[7] = -100  // an ignored row
        let weights: [T] = (0..<layout.length).map { T(1 + Double($0 % 3) / 4) }
        let upstream: [T] = data(6, scale: 1, as: T.self).prefix(layout.rows).map { $0 }
        try expectDeterministic("cross-entropy (indices) \(layout)") { threads in
            var losses = [T](repeating: 0, count: layout.rows), gradient = [T](repeating: 0, count: n)
            try x.withUnsafeBufferPointer { xb in
                try targets.withUnsafeBufferPointer { tb in
                    try weights.withUnsafeBufferPointer { wb in
                        try upstream.withUnsafeBufferPointer { ub in
                            try losses.withUnsafeMutableBufferPointer { lb in
                                try gradient.withUnsafeMutableBufferPointer { gb in
                                    try softmaxCrossEntropy(
                                        logits: xb, targets: tb, layout: layout, classWeights: wb, labelSmoothing: T(0.1),
                                        losses: lb, gradient: gb, gradientScale: T(0.5), upstream: ub, threads: threads)
                                }
                            }
                        }
                    }
                }
            }
            return [losses, gradient]
        }
        let q: [T] = data(7, scale: 1, as: T.self).map { T(abs(Double($0))) }
        try expectDeterministic("cross-entropy (probabilities) \(layout)") { threads in
            var losses = [T](repeating: 0, count: layout.rows), gradient = [T](repeating: 0, count: n), gq = gradient
            try x.withUnsafeBufferPointer { xb in
                try q.withUnsafeBufferPointer { qb in
                    try losses.withUnsafeMutableBufferPointer { lb in
                        try gradient.withUnsafeMutableBufferPointer { gb in
                            try gq.withUnsafeMutableBufferPointer { gqb in
                                try softmaxCrossEntropy(
                                    logits: xb, targets: qb, layout: layout, labelSmoothing: T(0.05), losses: lb, gradient: gb,
                                    targetGradient: gqb, threads: threads)
                            }
                        }
                    }
                }
            }
            return [losses, gradient, gq]
        }
    }
}

private func pointwiseKernels<T: KernelScalar>(_: T.Type) throws {
    let x: [T] = data(8, as: T.self), y: [T] = data(9, scale: 1, as: T.self).map { T(abs(Double($0)).truncatingRemainder(dividingBy: 1)) }
    let upstream: [T] = data(10, scale: 1, as: T.self)
    // Lengths that are not multiples of the block or of a vector.
    for count in [n, n - 13] {
        for kind in PointwiseLossKind.allCases {
            try expectDeterministic("pointwise \(kind) n=\(count)") { threads in
                var values = [T](repeating: 0, count: count), gradient = values
                let total = try x.withUnsafeBufferPointer { xb in
                    try y.withUnsafeBufferPointer { yb in
                        try upstream.withUnsafeBufferPointer { ub in
                            try values.withUnsafeMutableBufferPointer { vb in
                                try gradient.withUnsafeMutableBufferPointer { gb in
                                    try pointwiseLoss(
                                        kind, input: UnsafeBufferPointer(rebasing: xb[..<count]),
                                        target: UnsafeBufferPointer(rebasing: yb[..<count]), values: vb, gradient: gb,
                                        gradientScale: T(0.25), upstream: UnsafeBufferPointer(rebasing: ub[..<count]),
                                        threads: threads)
                                }
                            }
                        }
                    }
                }
                return [[total], values, gradient]
            }
        }
    }
}

@Suite struct DeterminismTests {
    @Test(arguments: [true, false]) func rowReductions(float: Bool) throws {
        if float { try rowKernels(Float.self) } else { try rowKernels(Double.self) }
    }

    @Test(arguments: [true, false]) func softmaxForwardAndBackward(float: Bool) throws {
        if float { try softmaxKernels(Float.self) } else { try softmaxKernels(Double.self) }
    }

    @Test(arguments: [true, false]) func fusedCrossEntropy(float: Bool) throws {
        if float { try crossEntropyKernels(Float.self) } else { try crossEntropyKernels(Double.self) }
    }

    @Test(arguments: [true, false]) func fusedPointwise(float: Bool) throws {
        if float { try pointwiseKernels(Float.self) } else { try pointwiseKernels(Double.self) }
    }

    /// Every other instruction set agrees with itself across thread counts too (the
    /// vectorized Float kernels differ between sets, but each is deterministic).
    @Test func eachInstructionSetIsDeterministic() throws {
        try TestSupport.holdingInstructionSet {
            let original = InstructionSet.active
            defer { InstructionSet.select(original) }
            for set in InstructionSet.allCases where set != original && InstructionSet.select(set) {
                try pointwiseKernels(Float.self)
                try softmaxKernels(Float.self)
            }
        }
    }
}
