import Glibc
import Loss
import LossDistributed
import Testing
import _TestSupport

@Suite struct CommunicatorTests {
    @Test func singleProcessCollectivesReturnTheRanksOwnValues() throws {
        let c = SingleProcessCommunicator()
        #expect(c.rank == 0 && c.size == 1)
        #expect(try c.allReduce([1.5, -2], .sum) == [1.5, -2])
        #expect(try c.allGather([3, 4], counts: [2]) == [3, 4])
        #expect(try c.gather([Float(1)], counts: [1], root: 0) == [1])
        #expect(try c.broadcast([7], root: 0) == [7])
        #expect(throws: DistributedError.self) { try c.broadcast([7], root: 1) }
        try c.barrier()
    }

    @Test(arguments: [1, 2, 3, 5]) func threadCollectivesCombineInRankOrder(ranks: Int) throws {
        let results = try onRanks(ranks) { c in
            let r = Double(c.rank)
            let sum = try c.allReduce([r, 1, 0.1], .sum)
            let max = try c.allReduce([r, -r], .max)
            let min = try c.allReduce([c.rank + 10], .min)
            let gathered = try c.allGatherVariable(Array(repeating: c.rank, count: c.rank + 1))
            let rooted = try c.gather([Float(c.rank)], counts: Array(repeating: 1, count: c.size), root: c.size - 1)
            let broadcast = try c.broadcast([UInt8(c.rank), 9], root: c.size - 1)
            try c.barrier()
            return (sum, max, min, gathered, rooted, broadcast)
        }
        // Sums added in rank order, the same bits on every rank.
        var expectedPoint1 = 0.1
        for _ in 1..<ranks { expectedPoint1 = expectedPoint1 + 0.1 }
        let total = Double((0..<ranks).reduce(0, +))
        for (rank, r) in results.enumerated() {
            #expect(r.0 == [total, Double(ranks), expectedPoint1])
            #expect(r.1 == [Double(ranks - 1), 0])
            #expect(r.2 == [10])
            #expect(r.3 == (0..<ranks).flatMap { Array(repeating: $0, count: $0 + 1) })
            #expect(r.4 == (rank == ranks - 1 ? (0..<ranks).map(Float.init) : nil))
            #expect(r.5 == [UInt8(ranks - 1), 9])
        }
    }

    @Test func mismatchedCollectivesFailOnEveryRankInsteadOfHanging() {
        // Different counts.
        let counts = errorsOnRanks(3) { c in _ = try c.allReduce(Array(repeating: 1.0, count: c.rank == 1 ? 2 : 3), .sum) }
        #expect(counts.allSatisfy { $0?.contains("different collectives") == true }, "\(counts)")
        // A rank that returns while the others wait.
        let departed = errorsOnRanks(3) { c in if c.rank != 2 { try c.barrier() } }
        #expect(departed[0] != nil && departed[1] != nil && departed[2] == nil, "\(departed)")
    }

    @Test func aRankThatHangsMakesTheOthersFailAfterTheTimeout() {
        let results = ThreadCommunicator.run(ranks: 2, timeout: 0.2) { c in
            if c.rank == 1 { usleep(600_000) }  // late by three timeouts
            try c.barrier()
        }
        for r in results {
            guard case .failure(let e) = r else {
                Issue.record("a rank passed a barrier the other reached too late")
                continue
            }
            #expect("\(e)".contains("waited more than 0.2 s in barrier"), "\(e)")
        }
    }

    @Test func agreementMakesEveryRankThrowTheFailingRanksError() {
        struct Local: Error, CustomStringConvertible { var description: String { "bad data on this rank" } }
        let errors = errorsOnRanks(3) { c in
            try c.agreeing { if c.rank == 1 { throw Local() } }
            try c.barrier()  // never reached: every rank threw above
        }
        #expect(errors[1] == "bad data on this rank")
        for r in [0, 2] { #expect(errors[r] == "Rank 1 failed: bad data on this rank.", "\(errors)") }
        // No failure: every rank gets its own result.
        let fine = try? onRanks(2) { c in try c.agreeing { c.rank * 10 } }
        #expect(fine == [0, 10])
    }

    @Test func balancedSplitCoversEveryItemOnce() {
        for count in [0, 1, 7, 1003] {
            for parts in 1...5 {
                let ranges = (0..<parts).map { BalancedSplit.range(part: $0, of: parts, count: count) }
                #expect(ranges.first!.lowerBound == 0 && ranges.last!.upperBound == count)
                for (a, b) in zip(ranges, ranges.dropFirst()) { #expect(a.upperBound == b.lowerBound) }
                #expect(ranges.map(\.count).max()! - ranges.map(\.count).min()! <= 1)
            }
        }
    }
}

/// Without MPI: the distributed losses on `SingleProcessCommunicator` give what the
/// single-process losses give.
@Suite struct SingleProcessTests {
    @Test func dataParallelOnOneProcessIsBitwiseTheLoss() throws {
        let x = TestSupport.normal([40, 9], scale: 2, seed: 101).converted(to: Float.self)
        let t = TestSupport.classIndices([40], classes: 9, seed: 102)
        let single = try CrossEntropyLoss<Float>(labelSmoothing: 0.2).valueWithGradient(x, t)
        let r = try DataParallelLoss<Float>("cross_entropy", options: ["label_smoothing": .double(0.2)]).valueWithGradient(
            LossInputs(["input": .values(x), "target": .indices(t)]), communicator: SingleProcessCommunicator())
        #expect(bitwiseEqual(r.value.scalars, single.value.scalars))
        #expect(bitwiseEqual(r.gradients["input"]!.scalars, single.gradient.scalars))
    }

    @Test func vocabParallelOnOneProcessAgreesWithTheLoss() throws {
        let x = TestSupport.normal([30, 17], scale: 2, seed: 103)
        let t = TestSupport.classIndices([30], classes: 17, seed: 104)
        let single = try CrossEntropyLoss<Double>(labelSmoothing: 0.1).valueWithGradient(x, t)
        let r = try VocabParallelCrossEntropy<Double>(labelSmoothing: 0.1)
            .valueWithGradient(x, t, communicator: SingleProcessCommunicator())
        #expect(abs(r.value.scalar! - single.value.scalar!) < 1e-13)
        #expect(relativeToLargest(r.gradient.scalars, single.gradient.scalars) < 1e-13)
    }
}
