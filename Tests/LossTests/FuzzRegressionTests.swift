import Foundation
import Loss
import Testing
import _TestSupport

/// Replays every input the loss fuzzer (Fuzz/, target FuzzLoss) found and that was
/// fixed, from Tests/Fixtures/fuzz/loss/: each must now run without trapping, and
/// Float must agree with Double as the fuzzer requires.
@Suite struct LossFuzzRegressionTests {
    static var fixtures: [String] {
        let dir = TestSupport.repositoryRoot + "/Tests/Fixtures/fuzz/loss"
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted().map { dir + "/" + $0 }
    }

    @Test func crashersReplayCleanly() throws {
        for path in Self.fixtures {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            let input = LossFuzzInput(bytes: bytes)
            #expect(input.floatDoubleMismatch() == nil, "\(path)")
        }
    }

    /// The decoder itself is deterministic and total: a fixed sweep of byte strings never traps.
    @Test func decoderSweep() {
        var g = SeededGenerator(seed: 77)
        for length in stride(from: 0, to: 400, by: 3) {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &g) }
            let input = LossFuzzInput(bytes: bytes)
            #expect(input.floatDoubleMismatch() == nil, "\(bytes)")
        }
    }
}
