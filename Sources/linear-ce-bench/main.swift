// Release-mode measurements for LinearCrossEntropyLoss (too slow for the debug test suite).
//
//   swift build -c release --product linear-ce-bench
//   .build/release/linear-ce-bench memory   # peak RSS at N=8192, D=256, V=128256 (Float)
//   .build/release/linear-ce-bench time [runs]  # N=1024, D=512, V=32000, 1 thread: fused vs the three GEMMs
//   .build/release/linear-ce-bench breakdown    # the same, stage by stage (GEMMs, softmax kernel)
//   .build/release/linear-ce-bench kernel       # the softmax part alone (D = 0)
//
// `memory` resets the kernel's high-water mark (/proc/self/clear_refs) after the
// inputs and gradient buffers exist, runs the fused loss with the default 64 MiB
// budget and reports VmHWM minus the resident size before the call.
import CLossKernels
import Foundation
import Loss

func statusKiB(_ field: String) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return -1 }
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? -1
    }
    return -1
}

func resetPeak() {
    // Writing 5 resets VmHWM to the current RSS (Linux >= 4.0).
    try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
}

/// Deterministic pseudo-random values in [-scale, scale].
func fill(_ b: UnsafeMutableBufferPointer<Float>, seed: UInt64, scale: Float) {
    var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    for i in b.indices {
        s = s &* 6364136223846793005 &+ 1442695040888963407
        b[i] = (Float(Int32(truncatingIfNeeded: s >> 32)) / Float(Int32.max)) * scale
    }
}

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// CPU time of the process: with one OpenBLAS thread and one kernel thread, all
/// work runs on the calling thread, and this is less disturbed by other processes
/// sharing the cores than wall time.
func cpuNow() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s[s.count / 2] }

struct Problem {
    let n: Int, d: Int, v: Int
    let x: UnsafeMutableBufferPointer<Float>, w: UnsafeMutableBufferPointer<Float>
    let targets: UnsafeMutableBufferPointer<Int>
    init(n: Int, d: Int, v: Int) {
        self.n = n; self.d = d; self.v = v
        x = .allocate(capacity: n * d); w = .allocate(capacity: v * d); targets = .allocate(capacity: n)
        fill(x, seed: 1, scale: 1)
        fill(w, seed: 2, scale: 1 / Float(d).squareRoot())
        for i in 0..<n { targets[i] = (i &* 7919 &+ 13) % v }
    }
}

func runFused(_ p: Problem, gx: UnsafeMutableBufferPointer<Float>, gw: UnsafeMutableBufferPointer<Float>,
              losses: UnsafeMutableBufferPointer<Float>, budget: Int) throws {
    var options = LinearCrossEntropyOptions<Float>()
    options.chunkRows = try linearCrossEntropyChunkRows(tokens: p.n, vocabulary: p.v, budgetBytes: budget, scalar: Float.self)
    try linearCrossEntropy(
        input: UnsafeBufferPointer(p.x), weight: UnsafeBufferPointer(p.w), bias: nil,
        targets: UnsafeBufferPointer(p.targets), shape: LinearHeadShape(tokens: p.n, hidden: p.d, vocabulary: p.v),
        options: options, losses: losses, gradients: LinearCrossEntropyGradients(input: gx, weight: gw, bias: nil),
        gradientScale: 1 / Float(p.n))
}

func memory() throws {
    BLAS.threads = 1
    let p = Problem(n: 8192, d: 256, v: 128_256)
    let gx = UnsafeMutableBufferPointer<Float>.allocate(capacity: p.n * p.d)
    let gw = UnsafeMutableBufferPointer<Float>.allocate(capacity: p.v * p.d)
    let losses = UnsafeMutableBufferPointer<Float>.allocate(capacity: p.n)
    gx.initialize(repeating: 0); gw.initialize(repeating: 0); losses.initialize(repeating: 0)
    let inputsMiB = Double((p.n * p.d + p.v * p.d) * 4 + p.n * 8) / 1048576
    let gradsMiB = Double((p.n * p.d + p.v * p.d + p.n) * 4) / 1048576
    let logitsMiB = Double(p.n * p.v * 4) / 1048576
    print("N=\(p.n) D=\(p.d) V=\(p.v) Float: inputs \(String(format: "%.1f", inputsMiB)) MiB, gradients+losses \(String(format: "%.1f", gradsMiB)) MiB, materialized logits would be \(String(format: "%.0f", logitsMiB)) MiB")
    let chunk = try linearCrossEntropyChunkRows(tokens: p.n, vocabulary: p.v, budgetBytes: 64 << 20, scalar: Float.self)
    print("default budget 64 MiB -> \(chunk) rows per chunk (\(String(format: "%.1f", Double(chunk * (p.v + 1) * 4) / 1048576)) MiB scratch)")
    for warm in [false] {
        if warm {
            // OpenBLAS allocates its work buffers once per process, on first use: count them or not.
            let a = [Float](repeating: 1, count: 512 * 512)
            var c = [Float](repeating: 0, count: 512 * 512)
            a.withUnsafeBufferPointer { ab in c.withUnsafeMutableBufferPointer { cb in
                BLAS.gemm(transposeA: false, transposeB: true, m: 512, n: 512, k: 512, alpha: 1, a: ab.baseAddress!, lda: 512,
                          b: ab.baseAddress!, ldb: 512, beta: 0, c: cb.baseAddress!, ldc: 512) } }
        }
        resetPeak()
        let before = statusKiB("VmRSS")
        let t0 = now()
        try runFused(p, gx: gx, gw: gw, losses: losses, budget: 64 << 20)
        let t1 = now()
        let peak = statusKiB("VmHWM")
        print(String(format: "%@: RSS before %.1f MiB, peak %.1f MiB, extra %.1f MiB (%.2f s)",
                     warm ? "second call (OpenBLAS buffers already allocated)" : "first call (includes OpenBLAS's first-use buffers)",
                     Double(before) / 1024, Double(peak) / 1024, Double(peak - before) / 1024, t1 - t0))
    }
    // The Loss-level API returns fresh gradient arrays: subtract them.
    gx.deallocate(); gw.deallocate()
    try Tensor.withBorrowing(UnsafeBufferPointer(p.x).span, shape: [p.n, p.d]) { x in
        try Tensor.withBorrowing(UnsafeBufferPointer(p.w).span, shape: [p.v, p.d]) { w in
            let t = Tensor(UnsafeBufferPointer(p.targets).map { $0 })
            resetPeak()
            let before = statusKiB("VmRSS")
            let r = try LinearCrossEntropyLoss<Float>().valueWithGradient(x, w, target: t)
            let peak = statusKiB("VmHWM")
            print(String(format: "LinearCrossEntropyLoss.valueWithGradient: extra %.1f MiB beyond the %.1f MiB of returned gradients (loss %.4f)",
                         Double(peak - before) / 1024 - gradsMiB, gradsMiB, r.value.scalar!))
        }
    }
}

func time(runs: Int) throws {
    BLAS.threads = 1
    let p = Problem(n: 1024, d: 512, v: 32000)
    let gx = UnsafeMutableBufferPointer<Float>.allocate(capacity: p.n * p.d)
    let gw = UnsafeMutableBufferPointer<Float>.allocate(capacity: p.v * p.d)
    let losses = UnsafeMutableBufferPointer<Float>.allocate(capacity: p.n)
    let logits = UnsafeMutableBufferPointer<Float>.allocate(capacity: p.n * p.v)
    gx.initialize(repeating: 0); gw.initialize(repeating: 0); logits.initialize(repeating: 0)
    let chunk = try linearCrossEntropyChunkRows(tokens: p.n, vocabulary: p.v, budgetBytes: 64 << 20, scalar: Float.self)
    print("N=\(p.n) D=\(p.d) V=\(p.v) Float, 1 OpenBLAS thread, 1 kernel thread, chunk \(chunk) rows; median of \(runs)")
    let xb = p.x.baseAddress!, wb = p.w.baseAddress!, lb = logits.baseAddress!
    func gemmsAlone(rows: Int) {
        var start = 0
        while start < p.n {
            let k = min(rows, p.n - start)
            BLAS.gemm(transposeA: false, transposeB: true, m: k, n: p.v, k: p.d, alpha: 1, a: xb + start * p.d, lda: p.d,
                      b: wb, ldb: p.d, beta: 0, c: lb, ldc: p.v)
            BLAS.gemm(transposeA: false, transposeB: false, m: k, n: p.d, k: p.v, alpha: 1, a: lb, lda: p.v, b: wb, ldb: p.d,
                      beta: 0, c: gx.baseAddress! + start * p.d, ldc: p.d)
            BLAS.gemm(transposeA: true, transposeB: false, m: p.v, n: p.d, k: k, alpha: 1, a: lb, lda: p.v,
                      b: xb + start * p.d, ldb: p.d, beta: start == 0 ? 0 : 1, c: gw.baseAddress!, ldc: p.d)
            start += k
        }
    }
    var fused: [Double] = [], whole: [Double] = [], chunked: [Double] = [], single: [Double] = []
    var fusedWall: [Double] = [], wholeWall: [Double] = [], chunkedWall: [Double] = [], singleWall: [Double] = []
    try runFused(p, gx: gx, gw: gw, losses: losses, budget: 64 << 20)  // warm-up
    for _ in 0..<runs {
        var w0 = now(), t0 = cpuNow()
        gemmsAlone(rows: p.n)
        whole.append(cpuNow() - t0); wholeWall.append(now() - w0)
        w0 = now(); t0 = cpuNow()
        gemmsAlone(rows: chunk)
        chunked.append(cpuNow() - t0); chunkedWall.append(now() - w0)
        w0 = now(); t0 = cpuNow()
        try runFused(p, gx: gx, gw: gw, losses: losses, budget: 64 << 20)
        fused.append(cpuNow() - t0); fusedWall.append(now() - w0)
        w0 = now(); t0 = cpuNow()
        try runFused(p, gx: gx, gw: gw, losses: losses, budget: 256 << 20)
        single.append(cpuNow() - t0); singleWall.append(now() - w0)
    }
    for (label, a, b, c, r) in [("CPU time", whole, chunked, fused, single), ("wall time", wholeWall, chunkedWall, fusedWall, singleWall)] {
        let g = median(a), ch = median(b), f = median(c), fr = median(r)
        print("\(label), median:")
        print(String(format: "  three GEMMs, whole batch (N x V logits): %.3f s  (%.1f GFLOP/s)", g, 6.0 * Double(p.n * p.d * p.v) / g / 1e9))
        print(String(format: "  three GEMMs, same chunks:                %.3f s", ch))
        print(String(format: "  fused linear cross-entropy:              %.3f s  = %.3fx whole-batch GEMMs, %.3fx chunked GEMMs", f, f / g, f / ch))
        print(String(format: "  fused, 256 MiB budget (one chunk):      %.3f s  = %.3fx whole-batch GEMMs, %.3fx chunked GEMMs", fr, fr / g, fr / ch))
        func list(_ xs: [Double]) -> String { xs.map { String(format: "%.3f", $0) }.joined(separator: " ") }
        print("  runs: GEMMs [\(list(a))], chunked [\(list(b))], fused [\(list(c))], fused one chunk [\(list(r))]")
    }
}

/// The softmax part alone: D = 0 makes the logits zeros (a memset) and skips the GEMMs.
func kernel(runs: Int) throws {
    print("instruction set: \(InstructionSet.active)")
    let p = Problem(n: 1024, d: 0, v: 32000)
    let losses = UnsafeMutableBufferPointer<Float>.allocate(capacity: p.n)
    let gx = UnsafeMutableBufferPointer<Float>.allocate(capacity: 0), gw = UnsafeMutableBufferPointer<Float>.allocate(capacity: 0)
    var times: [Double] = []
    for _ in 0..<runs {
        let t0 = cpuNow()
        try runFused(p, gx: gx, gw: gw, losses: losses, budget: 64 << 20)
        times.append(cpuNow() - t0)
    }
    print(String(format: "memset + kernel, N=1024 V=32000: %.1f ms (%.2f ns/logit)", median(times) * 1e3, median(times) * 1e9 / Double(p.n * p.v)))
}

/// Where the time goes: the fused loop re-enacted stage by stage on a scratch buffer
/// that is allocated (and faulted in) once.
func breakdown(runs: Int) throws {
    BLAS.threads = 1
    let p = Problem(n: 1024, d: 512, v: 32000)
    let chunk = try linearCrossEntropyChunkRows(tokens: p.n, vocabulary: p.v, budgetBytes: 64 << 20, scalar: Float.self)
    let gx = UnsafeMutablePointer<Float>.allocate(capacity: p.n * p.d), gw = UnsafeMutablePointer<Float>.allocate(capacity: p.v * p.d)
    let sb = UnsafeMutablePointer<Float>.allocate(capacity: chunk * p.v)
    sb.initialize(repeating: 0, count: chunk * p.v)
    let losses = UnsafeMutablePointer<Float>.allocate(capacity: p.n)
    let tb = UnsafeMutableRawPointer(p.targets.baseAddress!).assumingMemoryBound(to: Int64.self)
    var stages = [[Double]](repeating: [], count: 4)
    var without = [[Double]](repeating: [], count: 4)
    for run in 0..<(2 * runs) {
        let withKernel = run % 2 == 0
        var acc = [0.0, 0.0, 0.0, 0.0]
        var start = 0
        while start < p.n {
            let k = min(chunk, p.n - start)
            var t0 = cpuNow()
            BLAS.gemm(transposeA: false, transposeB: true, m: k, n: p.v, k: p.d, alpha: 1, a: p.x.baseAddress! + start * p.d, lda: p.d,
                      b: p.w.baseAddress!, ldb: p.d, beta: 0, c: sb, ldc: p.v)
            acc[0] += cpuNow() - t0; t0 = cpuNow()
            if withKernel {
                lk_lce_rows_f32(sb, nil, tb + start, nil, -100, 0, 0, 0, k, p.v, losses + start, nil, 1 / Float(p.n), 1, 1)
            }
            acc[1] += cpuNow() - t0; t0 = cpuNow()
            BLAS.gemm(transposeA: false, transposeB: false, m: k, n: p.d, k: p.v, alpha: 1, a: sb, lda: p.v, b: p.w.baseAddress!,
                      ldb: p.d, beta: 0, c: gx + start * p.d, ldc: p.d)
            acc[2] += cpuNow() - t0; t0 = cpuNow()
            BLAS.gemm(transposeA: true, transposeB: false, m: p.v, n: p.d, k: k, alpha: 1, a: sb, lda: p.v,
                      b: p.x.baseAddress! + start * p.d, ldb: p.d, beta: start == 0 ? 0 : 1, c: gw, ldc: p.d)
            acc[3] += cpuNow() - t0
            start += k
        }
        for i in 0..<4 { if withKernel { stages[i].append(acc[i]) } else { without[i].append(acc[i]) } }
    }
    let names = ["logits GEMM", "kernel", "dX GEMM", "dW GEMM"]
    for i in 0..<4 {
        print(String(format: "  %@: %.1f ms (without the kernel: %.1f ms)", names[i], median(stages[i]) * 1e3, median(without[i]) * 1e3))
    }
}

let args = CommandLine.arguments.dropFirst()
switch args.first {
case "memory": try memory()
case "kernel": try kernel(runs: 5)
case "breakdown": try breakdown(runs: 3)
case "time": try time(runs: args.count > 1 ? Int(args[args.startIndex + 1]) ?? 5 : 5)
default: print("usage: linear-ce-bench memory | time [runs]")
}
