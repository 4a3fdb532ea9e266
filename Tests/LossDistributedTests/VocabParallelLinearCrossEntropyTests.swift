import Loss
import LossDistributed
import Testing
import _TestSupport

struct HeadVariant: CustomStringConvertible, Sendable {
    var name: String
    var bias = false, weighted = false, ignore = false
    var smoothing = 0.0, zLoss = 0.0
    var softcap: Double? = nil
    var reduction = Reduction.mean
    var description: String { name }

    static let all: [HeadVariant] = [
        HeadVariant(name: "plain"),
        HeadVariant(name: "bias + smoothing", bias: true, smoothing: 0.1),
        HeadVariant(name: "weights + ignore + smoothing", weighted: true, ignore: true, smoothing: 0.25),
        HeadVariant(name: "z-loss + softcap + bias", bias: true, zLoss: 1e-2, softcap: 2.5),
        HeadVariant(name: "everything, sum", bias: true, weighted: true, ignore: true, smoothing: 0.1, zLoss: 1e-3, softcap: 3, reduction: .sum),
        HeadVariant(name: "ignore, none", ignore: true, reduction: .none),
    ]
}

@Suite struct VocabParallelLinearCrossEntropyTests {
    static let (n, d, v) = (23, 7, 31)

    @Test(arguments: HeadVariant.all) func agreesWithTheSingleProcessHead(variant: HeadVariant) throws {
        let (n, d, v) = (Self.n, Self.d, Self.v)
        let x = TestSupport.normal([n, d], seed: 61)
        let w = TestSupport.normal([v, d], scale: 0.8, seed: 62)
        let b = variant.bias ? TestSupport.normal([v], seed: 63) : nil
        var t = TestSupport.classIndices([n], classes: v, seed: 64).scalars
        if variant.ignore { for i in stride(from: 1, to: n, by: 4) { t[i] = -100 } }
        let targets = Tensor(t)
        let classWeights = variant.weighted ? TestSupport.uniform([v], in: 0.3...3, seed: 65) : nil
        let upstream: Tensor<Double>? = variant.reduction == .none ? TestSupport.uniform([n], in: -1...2, seed: 66) : nil
        let single = LinearCrossEntropyLoss<Double>(
            weight: classWeights, labelSmoothing: variant.smoothing, zLoss: variant.zLoss, softcap: variant.softcap,
            reduction: variant.reduction, chunkRows: 5)
        var inputs = LossInputs<Double>(["input": .values(x), "linear_weight": .values(w), "target": .indices(targets)])
        if let b { inputs["linear_bias"] = .values(b) }
        let expectedValue = try single.forward(inputs)
        let expected = try single.backward(inputs, upstream: upstream ?? Tensor(scalar: 1))

        for split in [[31], [16, 15], [11, 10, 10], [0, 20, 11]] {
            let results = try onRanks(split.count) { comm in
                let start = split[..<comm.rank].reduce(0, +), range = start..<(start + split[comm.rank])
                let head = VocabParallelLinearCrossEntropy<Double>(
                    weight: classWeights.map { elements($0, range) }, labelSmoothing: variant.smoothing, zLoss: variant.zLoss,
                    softcap: variant.softcap, reduction: variant.reduction, chunkRows: 5)
                return try head.valueWithGradient(
                    x, try rows(w, range), target: targets, linearBias: b.map { elements($0, range) }, upstream: upstream,
                    communicator: comm)
            }
            #expect(relativeToLargest(results[0].value.scalars, expectedValue.scalars) < 1e-12, "split \(split)")
            for r in results {
                #expect(r.value.scalars == results[0].value.scalars)
                #expect(relativeToLargest(r.inputGradient!.scalars, expected["input"]!.scalars) < 1e-12, "split \(split)")
            }
            let weightGradient = results.flatMap { $0.weightGradient!.scalars }
            #expect(relativeToLargest(weightGradient, expected["linear_weight"]!.scalars) < 1e-12, "split \(split)")
            if let gb = expected["linear_bias"] {
                #expect(relativeToLargest(results.flatMap { $0.biasGradient!.scalars }, gb.scalars) < 1e-12, "split \(split)")
            }
        }
    }

    @Test func scratchFollowsTheWholeVocabularysChunkSize() throws {
        // With the budget of a 4-row chunk of the whole vocabulary, each of 2 ranks uses
        // 4-row chunks of its half: the same chunk count, half the scratch.
        let (n, d, v) = (16, 4, 64)
        let budget = 4 * (v + 1) * 8 + 4 * (v + 1) * 8 / 31
        #expect(try linearCrossEntropyChunkRows(tokens: n, vocabulary: v, budgetBytes: budget, scalar: Double.self) == 4)
        let x = TestSupport.normal([n, d], seed: 71), w = TestSupport.normal([v, d], seed: 72)
        let targets = TestSupport.classIndices([n], classes: v, seed: 73)
        let single = try LinearCrossEntropyLoss<Double>(memoryBudget: budget).valueWithGradient(x, w, target: targets)
        let results = try onRanks(2) { comm in
            try VocabParallelLinearCrossEntropy<Double>(memoryBudget: budget).valueWithGradient(
                x, try rows(w, BalancedSplit.range(part: comm.rank, of: 2, count: v)), target: targets, communicator: comm)
        }
        #expect(abs(results[0].value.scalar! - single.value.scalar!) < 1e-12)
    }

    @Test func mismatchedInputsAcrossRanksAreAnErrorOnEveryRank() {
        let x = TestSupport.normal([5, 3], seed: 81), w = TestSupport.normal([9, 3], seed: 82)
        let errors = errorsOnRanks(3) { comm in
            let mine = comm.rank == 2 ? x.map { $0 + 1 } : x
            _ = try VocabParallelLinearCrossEntropy<Double>()(
                mine, try rows(w, BalancedSplit.range(part: comm.rank, of: 3, count: 9)), target: Tensor([0, 1, 2, 3, 4]),
                communicator: comm)
        }
        #expect(errors.allSatisfy { $0?.contains("disagree about the input, targets and upstream") == true }, "\(errors)")
        let hidden = errorsOnRanks(2) { comm in
            let wr = try rows(w, BalancedSplit.range(part: comm.rank, of: 2, count: 9))
            _ = try VocabParallelLinearCrossEntropy<Double>()(
                x, comm.rank == 1 ? try columns(wr, 0..<2) : wr, target: Tensor([0, 1, 2, 3, 4]), communicator: comm)
        }
        #expect(hidden[1]?.contains("Wrong shape for linear_weight") == true, "\(hidden)")
        #expect(hidden[0]?.hasPrefix("Rank 1 failed: Wrong shape for linear_weight") == true, "\(hidden)")
    }
}
