import ArgumentParser
import Foundation
import Loss

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time one kernel or loss on random inputs (median and minimum of repeated runs).",
        discussion: """
            OP is one of: \(Operation.allCases.map(\.rawValue).joined(separator: ", ")).
            cross-entropy and the pointwise losses (mse, l1, bce-with-logits) time the forward \
            and the backward pass together (class-index targets, mean reduction), as a training \
            step needs them; cross-entropy-forward times the forward pass alone.
            linear-cross-entropy takes --shape NxDxV (tokens, hidden size, vocabulary) and times \
            the fused linear + cross-entropy with all three gradients (64 MiB of scratch, OpenBLAS \
            with --threads threads); it also reports gemm_ns, the same three GEMMs alone on the \
            same chunks. With --vocab-parallel (under mpirun, or as one rank without it) it runs \
            the vocab-parallel head instead: each rank holds its slice of the weight rows and \
            of their gradient, and prints one line (JSON: with rank and peak_rss_bytes).
            Inputs are prepared once, then the operation is warmed up and timed REPEAT times \
            (by default as many as fit in about one second). Output buffers are allocated once: \
            the kernels themselves allocate nothing.

            Examples:
              losskit bench cross-entropy --shape 4096x1000 --threads 2
              losskit bench mse --shape 4194304 --json
              losskit bench cross-entropy --shape 1024x32000 --dtype bfloat16
              losskit bench linear-cross-entropy --shape 1024x512x32000
              mpirun -np 2 losskit bench linear-cross-entropy --shape 2048x256x128256 \\
                  --vocab-parallel --json
            """
    )

    enum Operation: String, CaseIterable, ExpressibleByArgument {
        case crossEntropy = "cross-entropy"
        case crossEntropyForward = "cross-entropy-forward"
        case softmax
        case logSoftmax = "log-softmax"
        case logsumexp
        case mse
        case l1
        case bceWithLogits = "bce-with-logits"
        case linearCrossEntropy = "linear-cross-entropy"
    }

    @Argument(help: "The operation to time.")
    var op: Operation

    @Option(help: "The input shape: ROWSxCOLUMNS for row operations (e.g. 4096x1000), or a count (e.g. 4194304).")
    var shape: String

    @Option(help: "Threads for the kernel, 1 to \(maximumThreadCount).")
    var threads: Int = 1

    @Option(name: .customLong("repeat"), help: "Timed runs, 1 to \(Timing.maximumRuns) (default: as many as fit in about one second).")
    var repetitions: Int?

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    /// The element type of the timed buffers.
    enum ScalarType: String, CaseIterable, ExpressibleByArgument {
        case float, double, float16, bfloat16
    }

    @Option(help: "The element type: float, double, float16 or bfloat16 (16-bit types compute in Float).")
    var dtype: ScalarType = .float

    @Option(help: """
        Row operations (softmax, log-softmax, logsumexp, cross-entropy): positions after each \
        class, the class axis not last. ROWSxCOLUMNS becomes ROWS x COLUMNS x INNER elements \
        with COLUMNS classes, as logits (N, C, H*W) with INNER = H*W.
        """)
    var inner: Int = 1

    @Flag(help: "linear-cross-entropy only: the vocab-parallel head, one line per rank (under mpirun).")
    var vocabParallel = false

    @Option(help: """
        Start each buffer this many floats (0-15) past a 64-byte boundary. The default, 0, \
        aligns them as PyTorch's allocator aligns tensors; Swift arrays start 32 or 48 bytes \
        past one, which costs the kernels up to 10%.
        """)
    var offset: Int = 0

    func validate() throws {
        guard (1...maximumThreadCount).contains(threads) else {
            throw ValidationError("--threads must be between 1 and \(maximumThreadCount) (the kernels' pool), got \(threads)")
        }
        if let repetitions, !(1...Timing.maximumRuns).contains(repetitions) {
            throw ValidationError("--repeat must be between 1 and \(Timing.maximumRuns), got \(repetitions)")
        }
        guard (0..<16).contains(offset) else { throw ValidationError("--offset must be 0 to 15, got \(offset)") }
        let dims = try parsedShape()
        if inner != 1 {
            guard inner >= 1, inner <= 1 << 24 else { throw ValidationError("--inner must be 1 to \(1 << 24), got \(inner)") }
            guard [.crossEntropy, .crossEntropyForward, .softmax, .logSoftmax, .logsumexp].contains(op), dims.count == 2 else {
                throw ValidationError("--inner applies to softmax, log-softmax, logsumexp and cross-entropy with --shape ROWSxCOLUMNS")
            }
        }
        if vocabParallel && op != .linearCrossEntropy {
            throw ValidationError("--vocab-parallel applies to linear-cross-entropy only")
        }
        if op == .linearCrossEntropy && dtype != .float {
            throw ValidationError("linear-cross-entropy is timed in float only (its baseline is Float GEMMs)")
        }
    }

    /// `4096x1000` → [4096, 1000]; rejects empty, zero and non-numeric sizes.
    func parsedShape() throws -> [Int] {
        let parts = shape.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        let dims = parts.map { Int($0) }
        let rank = op == .linearCrossEntropy ? 3 : nil
        guard !dims.isEmpty, dims.allSatisfy({ $0 != nil && $0! > 0 }), rank.map({ dims.count == $0 }) ?? (dims.count <= 2)
        else {
            throw ValidationError(
                op == .linearCrossEntropy
                    ? "--shape must be NxDxV (tokens x hidden x vocabulary) for linear-cross-entropy, got \"\(shape)\""
                    : "--shape must be ROWSxCOLUMNS or a count of positive integers, got \"\(shape)\"")
        }
        let sizes = dims.map { $0! }
        func product(_ values: [Int]) -> Int? {
            values.reduce(Int?(1)) { acc, d in
                guard let acc else { return nil }
                let r = acc.multipliedReportingOverflow(by: d)
                return r.overflow ? nil : r.partialValue
            }
        }
        // The buffers the benchmark allocates: the tensor itself, or for linear-cross-entropy
        // the input (N x D) and the weight (V x D); its N x V logits are never materialized.
        let buffers = op == .linearCrossEntropy ? [[sizes[0], sizes[1]], [sizes[2], sizes[1]]] : [sizes]
        for b in buffers {
            guard let count = product(b), count <= 1 << 31 else { throw ValidationError("--shape \(shape) is too large") }
        }
        return sizes
    }

    func run() throws {
        if vocabParallel { return try runVocabParallelLinearCrossEntropy() }
        if op == .linearCrossEntropy { return try runLinearCrossEntropy() }
        switch dtype {
        case .float: try run(Float.self)
        case .double: try run(Double.self)
        case .float16: try run(Float16.self)
        case .bfloat16: try run(BFloat16.self)
        }
    }

    /// Times the operation on buffers of `T`.
    func run<T: KernelScalar>(_: T.Type) throws {
        let dims = try parsedShape()
        let count = dims.reduce(1, *) * inner
        let rows = (dims.count == 2 ? dims[0] : 1) * inner, columns = dims.count == 2 ? dims[1] : count
        var g = SeededGenerator(seed: 1)
        let x = AlignedBuffer<T>(count: count, offset: offset) { _ in T(3 * g.nextNormal()) }
        let y = AlignedBuffer<T>(count: count, offset: offset) { _ in T(Double.random(in: 0..<1, using: &g)) }
        let targets = (0..<rows).map { _ in Int.random(in: 0..<columns, using: &g) }
        let out = AlignedBuffer<T>(count: count, offset: offset) { _ in 0 }
        var losses = [T](repeating: 0, count: rows)
        let layout = AxisLayout(outer: rows / inner, length: columns, inner: inner)
        let threads = self.threads
        var sink: Double = 0

        // One run of the operation on the prepared buffers.
        let step: () throws -> Void = {
            let xb = UnsafeBufferPointer(x.buffer), yb = UnsafeBufferPointer(y.buffer), ob = out.buffer
            switch op {
            case .crossEntropy, .crossEntropyForward:
                try targets.withUnsafeBufferPointer { tb in
                    try losses.withUnsafeMutableBufferPointer { lb in
                        try softmaxCrossEntropy(
                            logits: xb, targets: tb, layout: layout, losses: lb,
                            gradient: op == .crossEntropy ? ob : nil, gradientScale: T(1 / Double(rows)), threads: threads)
                        sink += Double(try sum(UnsafeBufferPointer(lb)))
                    }
                }
            case .softmax: try Kernels.softmax(xb, layout: layout, into: ob, threads: threads)
            case .logSoftmax: try Kernels.logSoftmax(xb, layout: layout, into: ob, threads: threads)
            case .logsumexp:
                try losses.withUnsafeMutableBufferPointer { try Kernels.logSumExp(xb, layout: layout, into: $0, threads: threads) }
            case .mse, .l1, .bceWithLogits:
                let kind: PointwiseLossKind = op == .mse ? .squaredError : op == .l1 ? .absoluteError : .logisticWithLogits
                sink += Double(try pointwiseLoss(
                    kind, input: xb, target: yb, gradient: ob, gradientScale: T(1 / Double(count)), threads: threads))
            case .linearCrossEntropy: break  // runLinearCrossEntropy
            }
        }

        let timings = try Timing.measure(repetitions: repetitions, step)
        let bytes = Double(count * MemoryLayout<T>.size) * bytesPerElement
        let report = BenchReport(
            op: op.rawValue, shape: inner == 1 ? dims : dims + [inner], threads: threads, timings: timings, bytesMoved: bytes, elements: count,
            dtype: dtype.rawValue)
        print(json ? report.json : report.text)
        if sink.isNaN { printError("warning: the benchmarked result was NaN") }
    }

    /// Elements each element moves at the memory floor (read inputs once, write outputs once).
    var bytesPerElement: Double {
        switch op {
        case .crossEntropy, .softmax, .logSoftmax: return 2  // read logits, write gradient/probabilities
        case .crossEntropyForward, .logsumexp: return 1  // read logits
        case .mse, .l1, .bceWithLogits: return 3  // read input and target, write gradient
        case .linearCrossEntropy: return 0
        }
    }

    /// Fused linear + cross-entropy with its three gradients, against the same GEMMs alone.
    func runLinearCrossEntropy() throws {
        let dims = try parsedShape()
        let (n, d, v) = (dims[0], dims[1], dims[2])
        var g = SeededGenerator(seed: 1)
        let x = (0..<n * d).map { _ in Float(g.nextNormal()) }
        let w = (0..<v * d).map { _ in Float(0.05 * g.nextNormal()) }
        let targets = (0..<n).map { _ in Int.random(in: 0..<v, using: &g) }
        var losses = [Float](repeating: 0, count: n)
        var dx = [Float](repeating: 0, count: n * d), dw = [Float](repeating: 0, count: v * d)
        var options = LinearCrossEntropyOptions<Float>()
        options.threads = threads
        options.chunkRows = try linearCrossEntropyChunkRows(tokens: n, vocabulary: v, budgetBytes: 64 << 20, scalar: Float.self)
        let previousBLASThreads = OpenBLAS.threadCount
        OpenBLAS.threadCount = threads
        defer { OpenBLAS.threadCount = previousBLASThreads }
        let shape = LinearHeadShape(tokens: n, hidden: d, vocabulary: v)
        var workspace = [Float](
            repeating: 0, count: linearCrossEntropyWorkspaceCount(chunkRows: options.chunkRows, vocabulary: v))

        let fused = try Timing.measure(repetitions: repetitions) {
            try x.withUnsafeBufferPointer { xb in
                try w.withUnsafeBufferPointer { wb in
                    try targets.withUnsafeBufferPointer { tb in
                        try losses.withUnsafeMutableBufferPointer { lb in
                            try dx.withUnsafeMutableBufferPointer { dxb in
                                try dw.withUnsafeMutableBufferPointer { dwb in
                                    try workspace.withUnsafeMutableBufferPointer { ws in
                                        try linearCrossEntropy(
                                            input: xb, weight: wb, bias: nil, targets: tb, shape: shape, options: options,
                                            losses: lb,
                                            gradients: LinearCrossEntropyGradients(input: dxb, weight: dwb, bias: nil),
                                            gradientScale: 1 / Float(n), workspace: ws)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        // The same three GEMMs per chunk (logits, input gradient, accumulated weight gradient).
        let k = options.chunkRows
        var scratch = [Float](repeating: 0, count: k * v)
        let gemms = try Timing.measure(repetitions: repetitions) {
            try x.withUnsafeBufferPointer { xb in
                try w.withUnsafeBufferPointer { wb in
                    try scratch.withUnsafeMutableBufferPointer { sb in
                        try dx.withUnsafeMutableBufferPointer { dxb in
                            try dw.withUnsafeMutableBufferPointer { dwb in
                                var start = 0
                                while start < n {
                                    let rows = min(k, n - start)
                                    let xs = xb.slice(start * d, rows * d), s = sb.slice(0, rows * v)
                                    let sm = UnsafeBufferPointer(s)
                                    try matrixMultiply(xs, wb, rows: rows, columns: v, inner: d, opB: .transposed, into: s)
                                    try matrixMultiply(
                                        sm, wb, rows: rows, columns: d, inner: v, into: dxb.slice(start * d, rows * d))
                                    try matrixMultiply(
                                        sm, xs, rows: v, columns: d, inner: rows, opA: .transposed, beta: start == 0 ? 0 : 1,
                                        into: dwb)
                                    start += rows
                                }
                            }
                        }
                    }
                }
            }
        }
        var report = BenchReport(
            op: op.rawValue, shape: inner == 1 ? dims : dims + [inner], threads: threads, timings: fused, bytesMoved: 0, elements: n * v)
        let gemmMedian = gemms.sorted()[gemms.count / 2]
        report.extra = [("gemm_ns", gemmMedian)]
        if json {
            print(report.json)
        } else {
            print(report.text)
            print(String(format: "  fused / GEMMs alone: %.3f (chunks of %d rows)", Double(report.median) / Double(gemmMedian), k))
            print("  peak RSS \(Timing.peakRSS / (1 << 20)) MiB (inputs and gradients: \((n * d + v * d) * 8 / (1 << 20)) MiB)")
        }
    }
}

/// Monotonic wall-clock timing with warm-up.
enum Timing {
    /// The most timed runs: their timings are kept (8 bytes each), and the default stops here too.
    static let maximumRuns = 100_000

    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// Warms up, then times `repetitions` runs (default: about one second's worth, 5 to 100,000).
    static func measure(repetitions: Int?, _ step: () throws -> Void) throws -> [UInt64] {
        var warm: [UInt64] = []
        let warmStart = now()
        while warm.count < 3 || (now() - warmStart < 100_000_000 && warm.count < 50) {
            let t0 = now()
            try step()
            warm.append(now() - t0)
        }
        let estimate = max(warm.sorted()[warm.count / 2], 1)
        let runs = min(repetitions ?? max(5, Int(1_000_000_000 / estimate)), maximumRuns)
        var times: [UInt64] = []
        times.reserveCapacity(runs)
        for _ in 0..<runs {
            let t0 = now()
            try step()
            times.append(now() - t0)
        }
        return times
    }

    /// Peak resident set size of this process, in bytes.
    static var peakRSS: Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }
}

struct BenchReport {
    var op: String
    var shape: [Int]
    var threads: Int
    var timings: [UInt64]
    var bytesMoved: Double
    var elements: Int
    /// The element type timed (`float`, `double`, `float16`, `bfloat16`).
    var dtype = "float"
    var extra: [(String, UInt64)] = []

    var median: UInt64 { timings.sorted()[timings.count / 2] }
    var minimum: UInt64 { timings.min()! }
    var shapeText: String { shape.map(String.init).joined(separator: "x") }

    var json: String {
        var fields = [
            "\"op\": \(jsonString(op))", "\"shape\": \(jsonString(shapeText))", "\"dtype\": \(jsonString(dtype))",
            "\"threads\": \(threads)",
            "\"median_ns\": \(median)", "\"min_ns\": \(minimum)", "\"runs\": \(timings.count)",
            "\"peak_rss_bytes\": \(Timing.peakRSS)",
        ]
        fields += extra.map { "\"\($0.0)\": \($0.1)" }
        return "{" + fields.joined(separator: ", ") + "}"
    }

    var text: String {
        let seconds = Double(median) / 1e9
        var lines = [
            "\(op) \(shapeText) \(dtype), \(threads) thread\(threads == 1 ? "" : "s"), \(timings.count) runs, \(InstructionSet.active) kernels",
            String(format: "  median %.3f ms, min %.3f ms", Double(median) / 1e6, Double(minimum) / 1e6),
        ]
        if bytesMoved > 0 {
            lines.append(String(
                format: "  %.3g elements/s, %.2f GB/s moved at the memory floor", Double(elements) / seconds,
                bytesMoved / seconds / 1e9))
        }
        lines += extra.map { String(format: "  %@: %.3f ms", $0.0, Double($0.1) / 1e6) }
        return lines.joined(separator: "\n")
    }
}

/// A buffer starting `offset` elements past a 64-byte boundary, for the benchmark's inputs
/// and outputs; freed with the object.
final class AlignedBuffer<T> {
    let buffer: UnsafeMutableBufferPointer<T>
    private let base: UnsafeMutableRawPointer

    init(count: Int, offset: Int, _ value: (Int) -> T) {
        base = .allocate(byteCount: (count + offset) * MemoryLayout<T>.stride + 64, alignment: 64)
        let start = base.bindMemory(to: T.self, capacity: count + offset) + offset
        buffer = UnsafeMutableBufferPointer(start: start, count: count)
        for i in 0..<count { buffer[i] = value(i) }
    }

    deinit { base.deallocate() }
}
