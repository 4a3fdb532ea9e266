import Foundation
import NumPyFiles
import Testing

/// `--data-parallel`, `--vocab-parallel` and `train` without mpirun: one rank, the
/// same code as under mpirun (Tests/MPI/run.sh runs them with 2 and 3 ranks).
@Suite struct DistributedCommandTests {
    static func temporaryFolder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("losskit-distributed-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Logits (N, C) and targets (N) with a seeded generator.
    static func writeCrossEntropy(_ folder: String, rows: Int, classes: Int) throws {
        var state: UInt64 = 7
        func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53)
        }
        try NPYArray(shape: [rows, classes], values: .float32((0..<rows * classes).map { _ in Float(6 * next() - 3) }))
            .write(to: folder + "/x.npy")
        try NPYArray(shape: [rows], values: .int64((0..<rows).map { _ in Int64(next() * Double(classes)) }))
            .write(to: folder + "/t.npy")
    }

    @Test func oneRankDataParallelEvalIsBitwiseThePlainEval() throws {
        let f = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: f) }
        try Self.writeCrossEntropy(f, rows: 50, classes: 7)
        let args = ["eval", "cross_entropy", "--input", f + "/x.npy", "--target", f + "/t.npy", "--option", "label_smoothing=0.1"]
        let plain = try runLossKit(args + ["--grad-out", f + "/g.npy", "--loss-out", f + "/l.npy"])
        let parallel = try runLossKit(args + ["--grad-out", f + "/gp.npy", "--loss-out", f + "/lp.npy", "--data-parallel"])
        #expect(plain.status == 0 && parallel.status == 0, "\(parallel.stderr)")
        #expect(parallel.stdout == plain.stdout.replacingOccurrences(of: "/g.npy", with: "/gp.npy").replacingOccurrences(of: "/l.npy", with: "/lp.npy"))
        for (a, b) in [("g", "gp"), ("l", "lp")] {
            #expect(try Data(contentsOf: URL(fileURLWithPath: "\(f)/\(a).npy")) == Data(contentsOf: URL(fileURLWithPath: "\(f)/\(b).npy")))
        }
    }

    @Test func oneRankVocabParallelEvalAgreesWithThePlainEval() throws {
        let f = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: f) }
        try Self.writeCrossEntropy(f, rows: 40, classes: 11)
        let args = ["eval", "cross_entropy", "--input", f + "/x.npy", "--target", f + "/t.npy", "--option", "label_smoothing=0.2"]
        let plain = try runLossKit(args + ["--grad-out", f + "/g.npy"])
        let parallel = try runLossKit(args + ["--grad-out", f + "/gp.npy", "--vocab-parallel"])
        #expect(plain.status == 0 && parallel.status == 0, "\(parallel.stderr)")
        let a = try NPYArray(contentsOf: f + "/gp.npy").doubles, b = try NPYArray(contentsOf: f + "/g.npy").doubles
        #expect(TestSupport.maxRelativeDifference(a, b, floor: b.map(abs).max()!) < 1e-6)
        let loss = { (s: String) in Double(s.split(separator: "\n")[0].split(separator: " ").last ?? "") ?? .nan }
        #expect(abs(loss(parallel.stdout) - loss(plain.stdout)) <= 1e-6 * loss(plain.stdout))
    }

    @Test func distributedEvalErrorsSayWhatToDo() throws {
        let f = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: f) }
        try Self.writeCrossEntropy(f, rows: 5, classes: 3)
        let both = try runLossKit(["eval", "cross_entropy", "--input", f + "/x.npy", "--target", f + "/t.npy",
                                   "--data-parallel", "--vocab-parallel"])
        #expect(both.status == 1 && both.stderr.contains("choose one of --vocab-parallel and --data-parallel"))
        let wrongLoss = try runLossKit(["eval", "mse_loss", "--input", f + "/x.npy", "--target", f + "/x.npy", "--vocab-parallel"])
        #expect(wrongLoss.status == 1 && wrongLoss.stderr.contains("--vocab-parallel takes cross_entropy or linear_cross_entropy"))
        let ctc = try runLossKit(["eval", "ctc_loss", "--input", f + "/x.npy", "--data-parallel"])
        #expect(ctc.status == 1 && ctc.stderr.contains("ctc_loss (data-parallel) is not supported"), "\(ctc.stderr)")
        let missing = try runLossKit(["eval", "cross_entropy", "--input", f + "/x{rank}.npy", "--data-parallel"])
        #expect(missing.status == 2 && missing.stderr.contains("x0.npy"), "\(missing.stderr)")
    }

    @Test func vocabParallelBenchPrintsItsRankAndPeakMemory() throws {
        let r = try runLossKit(["bench", "linear-cross-entropy", "--shape", "32x8x301", "--vocab-parallel", "--json", "--repeat", "2"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(json?["rank"] as? Int == 0 && json?["ranks"] as? Int == 1 && json?["runs"] as? Int == 2)
        #expect((json?["peak_rss_bytes"] as? Int ?? 0) > 0)
        #expect(json?["vocabulary_slice"] as? [Int] == [0, 301])
    }
}
