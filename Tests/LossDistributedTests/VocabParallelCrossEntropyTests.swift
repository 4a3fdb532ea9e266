import Loss
import LossDistributed
import Testing
import _TestSupport

/// One configuration of the vocab-parallel options.
struct VocabVariant: CustomStringConvertible, Sendable {
    var name: String
    var weighted = false
    var ignore = false
    var smoothing = 0.0
    var zLoss = 0.0
    var reduction = Reduction.mean
    var description: String { name }

    static let all: [VocabVariant] = [
        VocabVariant(name: "plain"),
        VocabVariant(name: "smoothing", smoothing: 0.1),
        VocabVariant(name: "weights + ignore + smoothing", weighted: true, ignore: true, smoothing: 0.2),
        VocabVariant(name: "weights, sum", weighted: true, reduction: .sum),
        VocabVariant(name: "ignore + smoothing, none", ignore: true, smoothing: 0.3, reduction: .none),
        VocabVariant(name: "z-loss + weights + smoothing + ignore", weighted: true, ignore: true, smoothing: 0.1, zLoss: 1e-2),
    ]
}

/// Splits of 53 classes over ranks: balanced ones and an uneven one with an empty slice.
let vocabSplits: [[Int]] = [[53], [27, 26], [18, 18, 17], [0, 30, 23], [10, 1, 40, 2]]

@Suite struct VocabParallelCrossEntropyTests {
    static let n = 37, v = 53

    struct Case: Sendable {
        var logits: Tensor<Double>, targets: Tensor<Int>, weights: Tensor<Double>?
    }

    static func data(_ variant: VocabVariant) -> Case {
        let logits = TestSupport.normal([n, v], scale: 4, seed: 11)
        var targets = TestSupport.classIndices([n], classes: v, seed: 12).scalars
        if variant.ignore { for i in stride(from: 0, to: n, by: 5) { targets[i] = -100 } }
        let weights = variant.weighted ? TestSupport.uniform([v], in: 0.2...2, seed: 13) : nil
        return Case(logits: logits, targets: Tensor(targets), weights: weights)
    }

    /// The reference: LinearCrossEntropyLoss with the identity as its weight, whose
    /// logits are the input itself (it has class weights, smoothing and the z-loss).
    static func reference(_ c: Case, _ variant: VocabVariant) throws -> (value: [Double], gradient: [Double]) {
        var identity = [Double](repeating: 0, count: v * v)
        for i in 0..<v { identity[i * v + i] = 1 }
        let head = LinearCrossEntropyLoss<Double>(
            weight: c.weights, labelSmoothing: variant.smoothing, zLoss: variant.zLoss, reduction: variant.reduction)
        let r = try head.valueWithGradient(c.logits, try Tensor(shape: [v, v], scalars: identity), target: c.targets)
        return (r.value.scalars, r.gradient.scalars)
    }

    @Test(arguments: VocabVariant.all) func agreesWithTheSingleProcessLossForEverySplit(variant: VocabVariant) throws {
        let c = Self.data(variant)
        let expected = try Self.reference(c, variant)
        if variant.zLoss == 0 {
            // Without the z-loss the reference is plain cross-entropy.
            let ce = try CrossEntropyLoss<Double>(
                weight: c.weights, labelSmoothing: variant.smoothing, reduction: variant.reduction
            ).valueWithGradient(c.logits, c.targets)
            #expect(relativeToLargest(ce.value.scalars, expected.value) < 1e-12)
        }
        for split in vocabSplits {
            let results = try onRanks(split.count) { comm in
                let start = split[..<comm.rank].reduce(0, +), range = start..<(start + split[comm.rank])
                let loss = VocabParallelCrossEntropy<Double>(
                    weight: c.weights.map { elements($0, range) }, labelSmoothing: variant.smoothing, zLoss: variant.zLoss,
                    reduction: variant.reduction)
                let r = try loss.valueWithGradient(try columns(c.logits, range), c.targets, communicator: comm)
                return (r.value.scalars, r.gradient)
            }
            // The ranks' gradients side by side are the gradient of the whole logits.
            var gradient = [Double](repeating: 0, count: Self.n * Self.v)
            for (rank, r) in results.enumerated() {
                let start = split[..<rank].reduce(0, +)
                for row in 0..<Self.n { for j in 0..<split[rank] { gradient[row * Self.v + start + j] = r.1[flat: row * split[rank] + j] } }
                #expect(r.0 == results[0].0, "every rank has the same loss")
            }
            #expect(relativeToLargest(results[0].0, expected.value) < 1e-12, "split \(split)")
            #expect(relativeToLargest(gradient, expected.gradient) < 1e-12, "split \(split)")
        }
    }

    @Test func floatAgreesWithCrossEntropyLossWithinOneMillionth() throws {
        let logits = TestSupport.normal([64, 301], scale: 6, seed: 21).converted(to: Float.self)
        let targets = TestSupport.classIndices([64], classes: 301, seed: 22)
        let expected = try CrossEntropyLoss<Float>(labelSmoothing: 0.1).valueWithGradient(logits, targets)
        for ranks in [1, 2, 3] {
            let results = try onRanks(ranks) { comm in
                let range = BalancedSplit.range(part: comm.rank, of: comm.size, count: 301)
                return try VocabParallelCrossEntropy<Float>(labelSmoothing: 0.1)
                    .valueWithGradient(try columns(logits, range), targets, communicator: comm)
            }
            let value = Double(results[0].value.scalar!), reference = Double(expected.value.scalar!)
            #expect(abs(value - reference) / reference < 1e-6)
            var gradient = [Double](repeating: 0, count: 64 * 301)
            for (rank, r) in results.enumerated() {
                let range = BalancedSplit.range(part: rank, of: ranks, count: 301)
                for row in 0..<64 { for (j, c) in range.enumerated() { gradient[row * 301 + c] = Double(r.gradient[flat: row * range.count + j]) } }
            }
            #expect(relativeToLargest(gradient, expected.gradient.scalars.map(Double.init)) < 1e-6)
        }
    }

    @Test func largeLogitsDoNotOverflow() throws {
        // exp(x) overflows Double at x = 710: every term is taken from x - max.
        let logits = TestSupport.normal([8, 40], scale: 3, offset: 5000, seed: 31)
        let targets = TestSupport.classIndices([8], classes: 40, seed: 32)
        let expected = try CrossEntropyLoss<Double>(labelSmoothing: 0.2).valueWithGradient(logits, targets)
        let results = try onRanks(3) { comm in
            try VocabParallelCrossEntropy<Double>(labelSmoothing: 0.2).valueWithGradient(
                try columns(logits, BalancedSplit.range(part: comm.rank, of: 3, count: 40)), targets, communicator: comm)
        }
        #expect(abs(results[0].value.scalar! - expected.value.scalar!) < 1e-12 * expected.value.scalar!)
    }

    @Test func badInputOnOneRankIsAnErrorOnEveryRank() {
        let logits = TestSupport.normal([6, 10], seed: 41)
        let targets = Tensor([0, 1, 2, 3, 4, 5])
        func run(_ body: @escaping @Sendable (ThreadCommunicator) throws -> Void) -> [String?] { errorsOnRanks(3, body) }
        // Wrong weight shape on rank 2 only.
        let weight = run { comm in
            let range = BalancedSplit.range(part: comm.rank, of: 3, count: 10)
            let w = Tensor<Double>(Array(repeating: 1, count: range.count + (comm.rank == 2 ? 1 : 0)))
            _ = try VocabParallelCrossEntropy<Double>(weight: w)(try columns(logits, range), targets, communicator: comm)
        }
        #expect(weight[2]?.contains("Wrong shape for weight") == true, "\(weight)")
        #expect(weight[0] == weight[1] && weight[0]?.hasPrefix("Rank 2 failed: Wrong shape for weight") == true, "\(weight)")
        // Rows that differ across ranks.
        let rowsDiffer = run { comm in
            let x = try columns(logits, BalancedSplit.range(part: comm.rank, of: 3, count: 10))
            let mine = comm.rank == 1 ? try rows(x, 0..<5) : x
            _ = try VocabParallelCrossEntropy<Double>()(mine, comm.rank == 1 ? elements(targets, 0..<5) : targets, communicator: comm)
        }
        #expect(rowsDiffer.allSatisfy { $0?.contains("disagree about the number of rows N") == true }, "\(rowsDiffer)")
        // Targets that differ across ranks.
        let targetsDiffer = run { comm in
            let t = comm.rank == 0 ? Tensor([0, 1, 2, 3, 4, 9]) : targets
            _ = try VocabParallelCrossEntropy<Double>()(
                try columns(logits, BalancedSplit.range(part: comm.rank, of: 3, count: 10)), t, communicator: comm)
        }
        #expect(targetsDiffer.allSatisfy { $0?.contains("disagree about the targets") == true }, "\(targetsDiffer)")
        // A target outside the whole vocabulary (10 classes over all ranks).
        let outOfRange = run { comm in
            _ = try VocabParallelCrossEntropy<Double>()(
                try columns(logits, BalancedSplit.range(part: comm.rank, of: 3, count: 10)), Tensor([0, 1, 2, 3, 4, 10]),
                communicator: comm)
        }
        #expect(outOfRange.allSatisfy { $0 == "target[5] is 10, outside the valid range [0, 10)." }, "\(outOfRange)")
    }

    @Test func nanLogitsGiveNaNOnEveryRank() throws {
        var x = TestSupport.normal([4, 9], seed: 51).scalars
        x[2 * 9 + 7] = .nan  // row 2, on the last rank's slice
        let logits = try Tensor(shape: [4, 9], scalars: x)
        let results = try onRanks(3) { comm in
            try VocabParallelCrossEntropy<Double>(reduction: .none).valueWithGradient(
                try columns(logits, BalancedSplit.range(part: comm.rank, of: 3, count: 9)), Tensor([0, 1, 2, 3]),
                communicator: comm)
        }
        for r in results {
            #expect(r.value[flat: 2].isNaN && !r.value[flat: 0].isNaN && !r.value[flat: 3].isNaN)
        }
    }
}
