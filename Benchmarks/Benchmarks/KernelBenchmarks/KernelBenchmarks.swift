import Benchmark
import Kernels
import Loss

/// Random inputs built once per benchmark.
struct Inputs {
    let rows: Int, columns: Int
    let x: [Float], y: [Float], targets: [Int]

    init(rows: Int, columns: Int) {
        self.rows = rows
        self.columns = columns
        var g = SeededGenerator(seed: 7)
        x = (0..<rows * columns).map { _ in Float(3 * g.nextNormal()) }
        y = (0..<rows * columns).map { _ in Float(Double.random(in: 0..<1, using: &g)) }
        targets = (0..<rows).map { _ in Int.random(in: 0..<columns, using: &g) }
    }

    var layout: AxisLayout { AxisLayout(outer: rows, length: columns) }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = Benchmark.Configuration(
        metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident],
        warmupIterations: 3,
        scalingFactor: .one,
        maxDuration: .seconds(2),
        maxIterations: 1_000
    )

    // The harness's own cost per sample: subtract its allocations from the kernels' counts.
    Benchmark("baseline: empty measured loop") { benchmark in
        var total = 0
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations { total &+= i }
        blackHole(total)
    }

    for (rows, columns) in [(256, 1000), (4096, 1000), (64, 32000)] {
        let inputs = Inputs(rows: rows, columns: columns)
        let name = "\(rows)x\(columns)"

        // The kernels: zero allocations per call is part of what is measured (mallocCountTotal).
        Benchmark("softmaxCrossEntropy forward+backward \(name)") { benchmark in
            var losses = [Float](repeating: 0, count: rows), gradient = [Float](repeating: 0, count: rows * columns)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                inputs.x.withUnsafeBufferPointer { x in
                    inputs.targets.withUnsafeBufferPointer { t in
                        losses.withUnsafeMutableBufferPointer { l in
                            gradient.withUnsafeMutableBufferPointer { g in
                                try! softmaxCrossEntropy(
                                    logits: x, targets: t, layout: inputs.layout, losses: l, gradient: g,
                                    gradientScale: 1 / Float(rows))
                            }
                        }
                    }
                }
            }
            blackHole(losses)
        }

        Benchmark("logSoftmax \(name)") { benchmark in
            var out = [Float](repeating: 0, count: rows * columns)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                inputs.x.withUnsafeBufferPointer { x in
                    out.withUnsafeMutableBufferPointer { try! logSoftmax(x, layout: inputs.layout, into: $0) }
                }
            }
            blackHole(out)
        }

        Benchmark("softmax \(name)") { benchmark in
            var out = [Float](repeating: 0, count: rows * columns)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                inputs.x.withUnsafeBufferPointer { x in
                    out.withUnsafeMutableBufferPointer { try! softmax(x, layout: inputs.layout, into: $0) }
                }
            }
            blackHole(out)
        }

        Benchmark("logSumExp \(name)") { benchmark in
            var out = [Float](repeating: 0, count: rows)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                inputs.x.withUnsafeBufferPointer { x in
                    out.withUnsafeMutableBufferPointer { try! logSumExp(x, layout: inputs.layout, into: $0) }
                }
            }
            blackHole(out)
        }

        Benchmark("rowSum/rowMax \(name)") { benchmark in
            var out = [Float](repeating: 0, count: rows)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                inputs.x.withUnsafeBufferPointer { x in
                    out.withUnsafeMutableBufferPointer {
                        try! rowSum(x, layout: inputs.layout, into: $0)
                        try! rowMax(x, layout: inputs.layout, into: $0)
                    }
                }
            }
            blackHole(out)
        }
    }

    let pointwise = Inputs(rows: 1, columns: 1 << 22)
    for kind in PointwiseLossKind.allCases {
        Benchmark("pointwise \(kind) forward+backward 4194304") { benchmark in
            var gradient = [Float](repeating: 0, count: pointwise.columns)
            var total: Float = 0
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                pointwise.x.withUnsafeBufferPointer { x in
                    pointwise.y.withUnsafeBufferPointer { y in
                        gradient.withUnsafeMutableBufferPointer { g in
                            total += try! pointwiseLoss(kind, input: x, target: y, gradient: g, gradientScale: 1 / Float(x.count))
                        }
                    }
                }
            }
            blackHole(total)
        }
    }

    // The 16-bit kernels: zero allocations per call too (each thread's Float workspace is made
    // by its first call, in the warm-up iterations, and kept).
    func sixteenBit<T: KernelScalar>(_: T.Type, _ type: String) {
        for (rows, columns) in [(4096, 1000), (64, 32000), (1024, 100)] {
            let inputs = Inputs(rows: rows, columns: columns)
            let x = inputs.x.map { T($0) }, y = inputs.y.map { T($0) }
            let layout = inputs.layout, name = "\(type) \(rows)x\(columns)"
            Benchmark("softmaxCrossEntropy forward+backward \(name)") { benchmark in
                var losses = [T](repeating: 0, count: rows), gradient = [T](repeating: 0, count: rows * columns)
                benchmark.startMeasurement()
                for _ in benchmark.scaledIterations {
                    x.withUnsafeBufferPointer { xb in
                        inputs.targets.withUnsafeBufferPointer { t in
                            losses.withUnsafeMutableBufferPointer { l in
                                gradient.withUnsafeMutableBufferPointer { g in
                                    try! softmaxCrossEntropy(
                                        logits: xb, targets: t, layout: layout, losses: l, gradient: g,
                                        gradientScale: T(1 / Float(rows)), threads: 2)
                                }
                            }
                        }
                    }
                }
                blackHole(losses)
            }
            Benchmark("softmax/logSoftmax/logSumExp/rowSum \(name)") { benchmark in
                var out = [T](repeating: 0, count: rows * columns), rowsOut = [T](repeating: 0, count: rows)
                benchmark.startMeasurement()
                for _ in benchmark.scaledIterations {
                    x.withUnsafeBufferPointer { xb in
                        out.withUnsafeMutableBufferPointer {
                            try! softmax(xb, layout: layout, into: $0, threads: 2)
                            try! logSoftmax(xb, layout: layout, into: $0, threads: 2)
                        }
                        rowsOut.withUnsafeMutableBufferPointer {
                            try! logSumExp(xb, layout: layout, into: $0, threads: 2)
                            try! rowSum(xb, layout: layout, into: $0, threads: 2)
                        }
                    }
                }
                blackHole(out)
            }
            Benchmark("pointwise squaredError \(name)") { benchmark in
                var gradient = [T](repeating: 0, count: x.count)
                var total = T.zero
                benchmark.startMeasurement()
                for _ in benchmark.scaledIterations {
                    x.withUnsafeBufferPointer { xb in
                        y.withUnsafeBufferPointer { yb in
                            gradient.withUnsafeMutableBufferPointer {
                                total += try! pointwiseLoss(.squaredError, input: xb, target: yb, gradient: $0, threads: 2)
                            }
                        }
                    }
                }
                blackHole(total)
            }
        }
    }
    sixteenBit(Float16.self, "Float16")
    sixteenBit(BFloat16.self, "BFloat16")

    // The loss layer (allocates its outputs, as a value-returning API must).
    let small = Inputs(rows: 256, columns: 1000)
    let logits = try! Tensor(shape: [256, 1000], scalars: small.x), classes = Tensor(small.targets)
    Benchmark("CrossEntropyLoss.valueWithGradient 256x1000") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try! CrossEntropyLoss<Float>().valueWithGradient(logits, classes))
        }
    }
    Benchmark("softmax (AxisFunction) 256x1000") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try! AxisFunction<Float>(.softmax, dim: 1)(logits))
        }
    }
    // One loss per way the loss layer computes: a pointwise kernel (MSE), its own Swift loop
    // (smooth L1, KL divergence), the shared elementwise loops (soft margin, BCE). Called
    // from this module, as an application calls them: each runs the Float specialization
    // of its forward and backward passes.
    let pairs = Inputs(rows: 1, columns: 1 << 18)
    let a = try! Tensor(shape: [pairs.columns], scalars: pairs.y.map { 0.01 + 0.98 * $0 })
    let b = try! Tensor(shape: [pairs.columns], scalars: pairs.y.reversed().map { 0.01 + 0.98 * $0 })
    func lossBenchmark<L: InputTargetLoss>(_ name: String, _ loss: L) where L.Scalar == Float {
        Benchmark("\(name).valueWithGradient 262144") { benchmark in
            for _ in benchmark.scaledIterations { blackHole(try! loss.valueWithGradient(a, b)) }
        }
    }
    lossBenchmark("MSELoss", MSELoss<Float>())
    lossBenchmark("SmoothL1Loss", SmoothL1Loss<Float>())
    lossBenchmark("KLDivLoss", KLDivLoss<Float>())
    lossBenchmark("SoftMarginLoss", SoftMarginLoss<Float>())
    lossBenchmark("BCELoss", BCELoss<Float>())
}
