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

    /// Every loss, given shapes without elements whose other sizes are huge (as a lying
    /// `.npy` header or reference file would claim) for all its inputs, either refuses them
    /// with a LossError or evaluates their rows, forward and backward, without trapping,
    /// allocating by the claimed rows or walking them one by one for long.
    @Test func everyLossBoundsTheRowsOfShapesWithoutElements() throws {
        let clock = ContinuousClock(), start = clock.now
        let shapes = [[1 << 62, 0], [0, 1 << 62], [1 << 40, 0, 3], [3, 0, 1 << 40], [maximumEmptyShapeRows + 1, 0],
                      [1 << 16, 0], [0, 1 << 16, 2], [2, 1 << 10, 0], [1 << 62, 4, 0]]
        for name in LossRegistry.functionNames {
            let loss = try LossRegistry.make(name, as: Float.self)
            for shape in shapes {
                for dropClassAxis in [false, true] {
                    do {
                        var inputs = LossInputs<Float>()
                        for (k, spec) in loss.inputSpecs.enumerated() {
                            // Targets of class losses drop the class axis; the other inputs keep the shape.
                            let s = dropClassAxis && k > 0 ? shape.enumerated().filter { $0.offset != 1 }.map(\.element) : shape
                            let count = s.contains(0) ? 0 : 1
                            switch spec.kind {
                            case .indices: inputs[spec.name] = .indices(try Tensor(shape: s, scalars: Array(repeating: 0, count: count)))
                            default: inputs[spec.name] = .values(try Tensor(shape: s, scalars: Array(repeating: 0, count: count)))
                            }
                        }
                        let y = try loss.forward(inputs)
                        _ = try loss.backward(inputs, upstream: try Tensor(shape: y.shape, scalars: Array(repeating: 1, count: y.count)))
                    } catch is LossError {
                        // refused: what most of these shapes should give
                    }
                }
            }
        }
        #expect(clock.now - start < .seconds(60))
    }

    /// The decoder builds the shapes a lying header would claim: a size 0 beside a huge one
    /// (refused, or evaluated when within maximumEmptyShapeRows), for losses of every kind.
    @Test func decoderBuildsShapesWithoutElementsAndHugeSizes() {
        var g = SeededGenerator(seed: 78)
        var refused = Set<String>(), evaluated = Set<String>()
        for _ in 0..<20_000 {
            let bytes = (0..<64).map { _ in UInt8.random(in: 0...255, using: &g) }
            let input = LossFuzzInput(bytes: bytes)
            for i in input.inputs where i.shape.contains(0) {
                let rows = i.shape.filter { $0 != 0 }.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
                if rows > maximumEmptyShapeRows { refused.insert(input.function) } else if rows >= 1 << 10 { evaluated.insert(input.function) }
            }
        }
        #expect(refused.count >= LossRegistry.functionNames.count * 3 / 4, "\(refused.count) functions")
        #expect(evaluated.count >= LossRegistry.functionNames.count / 2, "\(evaluated.count) functions")
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
