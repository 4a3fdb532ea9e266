import ArgumentParser
import Foundation
import Loss
import LossDistributed

/// `losskit bench linear-cross-entropy --vocab-parallel`: the vocab-parallel linear
/// head on every rank of `mpirun` (one rank without it), each rank holding only its
/// slice of the weight and its gradient.
extension Bench {
    /// A weight entry that depends on its position in the whole `V × D` matrix only,
    /// so every split (and one process alone) holds the same head: uniform in
    /// ±0.1 from a 64-bit mix of the index (splitmix64's finalizer).
    static func weightEntry(_ index: Int) -> Float {
        var z = UInt64(index) &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Float(Double(z >> 11) / Double(1 << 53) * 0.2 - 0.1)
    }

    func runVocabParallelLinearCrossEntropy() throws {
        let comm: any Communicator
        do {
            comm = try Ranks.communicator()
        } catch {
            printError("losskit bench: \(error)")
            throw ExitCode(1)
        }
        try reportingDistributedErrors("bench", comm) {
            let dims = try comm.agreeing { try parsedShape() }
            let (n, d, v) = (dims[0], dims[1], dims[2])
            let slice = BalancedSplit.range(part: comm.rank, of: comm.size, count: v)
            var g = SeededGenerator(seed: 1)
            let x = try Tensor(shape: [n, d], scalars: (0..<n * d).map { _ in Float(g.nextNormal()) })
            let targets = Tensor((0..<n).map { _ in Int.random(in: 0..<v, using: &g) })
            let w = try Tensor(shape: [slice.count, d], scalars: (slice.lowerBound * d..<slice.upperBound * d).map(Self.weightEntry))
            let head = VocabParallelLinearCrossEntropy<Float>()
            let previousBLASThreads = OpenBLAS.threadCount
            OpenBLAS.threadCount = threads
            defer { OpenBLAS.threadCount = previousBLASThreads }

            var value: Float = 0
            func step() throws -> UInt64 {
                let t0 = Timing.now()
                let r = try head.valueWithGradient(x, w, target: targets, communicator: comm)
                value = r.value.scalar ?? .nan
                return Timing.now() - t0
            }
            // The ranks run the same number of steps: rank 0 decides from its warm-up run.
            let warm = try step()
            let planned = repetitions ?? min(100, max(1, Int(1_000_000_000 / max(warm, 1))))
            let runs = try comm.broadcast([planned], root: 0)[0]
            var timings: [UInt64] = []
            for _ in 0..<runs { timings.append(try step()) }
            var report = BenchReport(op: op.rawValue, shape: dims, threads: threads, timings: timings, bytesMoved: 0, elements: n * v)
            report.extra = []
            let line: String
            if json {
                let fields = [
                    "\"rank\": \(comm.rank)", "\"ranks\": \(comm.size)",
                    "\"vocabulary_slice\": [\(slice.lowerBound), \(slice.upperBound)]",
                    "\"loss\": \(value.isFinite ? String(format: "%.9g", Double(value)) : "null")",
                ]
                line = String(report.json.dropLast()) + ", " + fields.joined(separator: ", ") + "}"
            } else {
                line = "rank \(comm.rank) of \(comm.size), classes \(slice.lowerBound)..<\(slice.upperBound): "
                    + report.text.replacingOccurrences(of: "\n", with: "; ")
                    + String(format: "; loss %.9g; peak RSS %d MiB", Double(value), Timing.peakRSS / (1 << 20))
            }
            // One line per rank, in rank order.
            for r in 0..<comm.size {
                if r == comm.rank {
                    print(line)
                    fflush(nil)
                }
                try comm.barrier()
            }
        }
    }
}
