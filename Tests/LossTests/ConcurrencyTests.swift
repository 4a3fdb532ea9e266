import Dispatch
import Foundation
@testable import Loss
import Testing
import _TestSupport

// Losses are Sendable values; their inputs are read-only. Eight threads
// evaluating the same losses on the same (shared, some borrowed) inputs at once
// get exactly the serial results, forward and backward.

/// One loss with its inputs, evaluated to a flat list of numbers (value, then gradients by name).
private struct Job: Sendable {
    let name: String
    let loss: any LossFunction<Double>
    let inputs: LossInputs<Double>

    func run() throws -> [Double] {
        let y = try loss.forward(inputs)
        let upstream = try Tensor(shape: y.shape, scalars: (0..<y.count).map { 1 + Double($0 % 5) / 8 })
        let g = try loss.backward(inputs, upstream: upstream)
        return y.scalars + g.keys.sorted().flatMap { g[$0]!.scalars }
    }
}

private func normal(_ shape: [Int], _ seed: UInt64) -> Tensor<Double> { TestSupport.normal(shape, seed: seed) }
private func uniform(_ shape: [Int], _ seed: UInt64) -> Tensor<Double> { TestSupport.uniform(shape, in: 0.05...0.95, seed: seed) }

/// Memory the borrowed tensors read: written once at initialization, then only read,
/// and never freed, so sharing it across threads is safe.
nonisolated(unsafe) private let borrowedStorage: UnsafeBufferPointer<Double> = {
    let values = TestSupport.normal([64, 10], seed: 40).scalars
    let p = UnsafeMutableBufferPointer<Double>.allocate(capacity: values.count)
    _ = p.initialize(from: values)
    return UnsafeBufferPointer(p)
}()

private func jobs() throws -> [Job] {
    let logits = try Tensor(borrowing: borrowedStorage, shape: [64, 10])
    let targets = TestSupport.classIndices([64], classes: 10, seed: 41)
    let big = normal([256, 200], 42)  // big enough for the threaded kernels to split
    let bigTargets = TestSupport.classIndices([256], classes: 200, seed: 43)
    func make(_ f: String, _ options: [String: OptionValue] = [:]) throws -> any LossFunction<Double> {
        try LossRegistry.make(f, options: options, as: Double.self)
    }
    return [
        Job(name: "cross_entropy (borrowed)", loss: try make("cross_entropy", ["label_smoothing": .double(0.1)]),
            inputs: LossInputs(["input": .values(logits), "target": .indices(targets)])),
        Job(name: "cross_entropy threads 4", loss: CrossEntropyLoss<Double>(threads: 4),
            inputs: LossInputs(["input": .values(big), "target": .indices(bigTargets)])),
        Job(name: "mse threads 3", loss: MSELoss<Double>(threads: 3),
            inputs: LossInputs(["input": .values(big), "target": .values(normal([256, 200], 44))])),
        Job(name: "l1", loss: try make("l1_loss", ["reduction": .string("none")]),
            inputs: LossInputs(["input": .values(logits), "target": .values(normal([64, 10], 45))])),
        Job(name: "log_softmax threads 2", loss: AxisFunction<Double>(.logSoftmax, dim: 1, threads: 2),
            inputs: LossInputs(["input": .values(big)])),
        Job(name: "nll_loss", loss: try make("nll_loss"), inputs: LossInputs(["input": .values(logits), "target": .indices(targets)])),
        Job(name: "binary_cross_entropy", loss: try make("binary_cross_entropy"),
            inputs: LossInputs(["input": .values(uniform([64, 10], 46)), "target": .values(uniform([64, 10], 47))])),
        Job(name: "binary_cross_entropy_with_logits", loss: try make("binary_cross_entropy_with_logits"),
            inputs: LossInputs(["input": .values(logits), "target": .values(uniform([64, 10], 48))])),
        Job(name: "kl_div", loss: try make("kl_div", ["reduction": .string("batchmean")]),
            inputs: LossInputs(["input": .values(logits), "target": .values(uniform([64, 10], 49))])),
        Job(name: "triplet_margin_loss", loss: try make("triplet_margin_loss"),
            inputs: LossInputs(["anchor": .values(logits), "positive": .values(normal([64, 10], 50)), "negative": .values(normal([64, 10], 51))])),
        Job(name: "multivariate_gaussian_nll (LAPACK)", loss: try make("multivariate_gaussian_nll"),
            inputs: LossInputs([
                "input": .values(normal([8, 3], 52)), "target": .values(normal([8, 3], 53)),
                "covariance": .values(try Tensor(shape: [3, 3], scalars: [2, 0.5, 0.1, 0.5, 1.5, 0.2, 0.1, 0.2, 1])),
            ])),
        Job(name: "ctc_loss", loss: try make("ctc_loss"),
            inputs: LossInputs([
                "log_probs": .values(try AxisFunction<Double>(.logSoftmax, dim: 2).forward(LossInputs(["input": .values(normal([12, 2, 5], 54))]))),
                "targets": .indices(try Tensor(shape: [2, 3], scalars: [1, 2, 2, 3, 4, 1])),
                "input_lengths": .indices(Tensor([12, 10])), "target_lengths": .indices(Tensor([3, 2])),
            ])),
        Job(name: "focal_cross_entropy", loss: try make("focal_cross_entropy"),
            inputs: LossInputs(["input": .values(logits), "target": .indices(targets)])),
        Job(name: "multi_margin_loss", loss: try make("multi_margin_loss", ["p": .int(2)]),
            inputs: LossInputs(["input": .values(logits), "target": .indices(targets)])),
    ]
}

/// Per-thread results, stored under a lock (writing distinct elements of one
/// array from several threads is still a race on the array: ThreadSanitizer said so).
private final class Results: @unchecked Sendable {
    // Safe: every access to `slots` holds `lock`.
    private var slots: [[[Double]]?]
    private let lock = NSLock()
    init(_ count: Int) { slots = Array(repeating: nil, count: count) }
    func store(_ value: [[Double]], at index: Int) { lock.withLock { slots[index] = value } }
    subscript(index: Int) -> [[Double]]? { lock.withLock { slots[index] } }
}

@Suite struct ConcurrencyTests {
    @Test func eightThreadsGetTheSerialResults() throws {
        let all = try jobs()
        let serial = try all.map { try $0.run() }
        let threads = 8
        let results = Results(threads)
        let shared = all  // read-only, shared by every thread
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            // Each thread walks the jobs from a different start, so different losses overlap.
            let order = (0..<shared.count).map { (t + $0) % shared.count }
            var mine = [[Double]](repeating: [], count: shared.count)
            for _ in 0..<3 {
                for j in order { mine[j] = (try? shared[j].run()) ?? [.nan, -1] }
            }
            results.store(mine, at: t)
        }
        for t in 0..<threads {
            let got = try #require(results[t])
            for (j, job) in all.enumerated() {
                let same = got[j].count == serial[j].count
                    && zip(got[j], serial[j]).allSatisfy { $0.bitPattern == $1.bitPattern }
                #expect(same, "thread \(t), \(job.name)")
            }
        }
    }

    /// The same from Swift concurrency: a task group of eight child tasks.
    @Test func taskGroupGetsTheSerialResults() async throws {
        let all = try jobs()
        let serial = try all.map { try $0.run() }
        try await withThrowingTaskGroup(of: [[Double]].self) { group in
            for _ in 0..<8 { group.addTask { try all.map { try $0.run() } } }
            for try await got in group {
                #expect(got.count == serial.count)
                for (a, b) in zip(got, serial) {
                    #expect(a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern })
                }
            }
        }
    }

    /// Public value types that cross threads are Sendable (checked at compile time).
    @Test func publicTypesAreSendable() {
        func sendable<T: Sendable>(_: T.Type) {}
        sendable(Tensor<Float>.self)
        sendable(LossInputs<Double>.self)
        sendable(LossInput<Double>.self)
        sendable(LossError.self)
        sendable(AxisLayout.self)
        sendable(OptionValue.self)
        sendable(LossOptions<Double>.self)
        sendable(CrossEntropyLoss<Float>.self)
        sendable(ClosureDistance<Double>.self)
        sendable(GradientCheck.Report.self)
        sendable(InstructionSet.self)
    }
}
