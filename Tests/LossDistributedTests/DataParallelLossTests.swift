import Loss
@testable import LossDistributed
import ReferenceCases
import Testing
import _TestSupport

/// A loss evaluation split by rows: every input (and constant of the input's shape) sliced on axis 0.
struct SplitEvaluation<T: DistributedScalar>: @unchecked Sendable {
    var function: String
    var options: [String: OptionValue]
    var inputs: LossInputs<T>
    var constants: [String: Tensor<T>]
    var upstream: Tensor<T>

    /// The first input's rows.
    var rowCount: Int { inputs[inputs.names[0]]!.shape[0] }

    /// Whether every input has the first input's rows on axis 0 (what splitting needs).
    var splittable: Bool {
        let n = inputs[inputs.names[0]]?.shape.first
        return n != nil && inputs.names.allSatisfy { inputs[$0]!.shape.first == n }
    }

    func slice(_ range: Range<Int>) throws -> (LossInputs<T>, [String: Tensor<T>], Tensor<T>) {
        let first = inputs[inputs.names[0]]!.shape
        var local = LossInputs<T>()
        for name in inputs.names {
            switch inputs[name]! {
            case .values(let t): local[name] = .values(try rows(t, range))
            case .indices(let t): local[name] = .indices(try rows(t, range))
            }
        }
        var constantsHere: [String: Tensor<T>] = [:]
        for (name, c) in constants {
            // Split with the rows when its axis 0 is the batch (an elementwise or per-row weight).
            let perRow = c.rank == first.count && c.shape[0] == first[0] && first[0] > 1
            constantsHere[name] = perRow ? try rows(c, range) : c
        }
        let up = upstream.rank == 0 ? upstream : try rows(upstream, range)
        return (local, constantsHere, up)
    }
}

/// Runs `e` on `split.count` simulated ranks and returns the value (gathered for
/// `none`) and the gradients concatenated along axis 0.
func dataParallel<T: DistributedScalar>(_ e: SplitEvaluation<T>, split: [Int]) throws
    -> (value: [T], gradients: [String: [T]])
{
    let results = try onRanks(split.count) { comm in
        let start = split[..<comm.rank].reduce(0, +)
        let (inputs, constants, upstream) = try e.slice(start..<(start + split[comm.rank]))
        let loss = try DataParallelLoss<T>(e.function, options: e.options, constants: constants)
        return try loss.valueWithGradient(inputs, upstream: upstream, communicator: comm)
    }
    let none = results[0].value.rank > 0 || e.upstream.rank > 0
    let value = none ? results.flatMap { $0.value.scalars } : results[0].value.scalars
    if !none { for r in results { #expect(bitwiseEqual(r.value.scalars, value), "every rank has the same value") } }
    var gradients: [String: [T]] = [:]
    for name in results[0].gradients.keys { gradients[name] = results.flatMap { $0.gradients[name]!.scalars } }
    return (value, gradients)
}

/// The splits of `n` rows tried: balanced over 2, 3 and 4 ranks, and uneven ones with an empty rank.
func rowSplits(_ n: Int) -> [[Int]] {
    var splits = [2, 3, 4].map { p in (0..<p).map { BalancedSplit.range(part: $0, of: p, count: n).count } }
    splits.append([0, n])
    if n >= 3 { splits.append([n - 2, 0, 2]) }
    return splits
}

@Suite struct DataParallelLossTests {
    /// Every bundled PyTorch case of a supported loss whose inputs share a batch axis,
    /// in both precisions: loss and gradients bitwise identical to one process for every split.
    @Test(arguments: [("torch-cases.json", 100), ("torch-cases-seed1.json", 100), ("torch-cases-edges.json", 4), ("torch-cases-kinks.json", 10)])
    func matchesOneProcessBitwiseOnTheReferenceCases(file: String, minimum: Int) throws {
        let cases = try ReferenceFile(contentsOf: TestSupport.repositoryRoot + "/Tests/Fixtures/" + file).cases
        var checked = 0
        for c in cases where DataParallelLoss<Float>.supportedFunctions.contains(c.function) {
            if try check(c, as: Float.self) { checked += 1 }
            _ = try check(c, as: Double.self)
        }
        #expect(checked >= minimum, "\(file): only \(checked) cases could be split")
    }

    /// Checks one case; false when it cannot be split or the single process rejects it.
    func check<T: DistributedScalar>(_ c: ReferenceCase, as _: T.Type) throws -> Bool {
        var inputs = LossInputs<T>()
        var constants: [String: Tensor<T>] = [:]
        for (name, t) in c.inputs {
            if LossRegistry.constantInputNames.contains(name) {
                constants[name] = try t.tensor(T.self)
            } else if t.dtype == .int64 {
                inputs[name] = .indices(try t.indexTensor())
            } else {
                inputs[name] = .values(try t.tensor(T.self))
            }
        }
        let e = SplitEvaluation(function: c.function, options: c.options, inputs: inputs, constants: constants,
                                upstream: try c.upstream.tensor(T.self))
        guard e.splittable, e.rowCount >= 2 else { return false }
        let single: (value: [T], gradients: [String: Tensor<T>])
        do {
            let loss = try LossRegistry.make(c.function, options: c.options, constants: constants, as: T.self)
            single = (try loss.forward(inputs).scalars, try loss.backward(inputs, upstream: e.upstream))
        } catch {
            return false  // a bad-input case
        }
        for split in rowSplits(e.rowCount) {
            let d: (value: [T], gradients: [String: [T]])
            do { d = try dataParallel(e, split: split) } catch {
                Issue.record("\(c.id) \(T.self) split \(split): \(error)")
                continue
            }
            #expect(bitwiseEqual(d.value, single.value), "\(c.id) \(T.self) split \(split): \(d.value) vs \(single.value)")
            for (name, g) in single.gradients {
                #expect(bitwiseEqual(d.gradients[name] ?? [], g.scalars), "\(c.id) \(T.self) split \(split): gradient of \(name)")
            }
        }
        return true
    }

    @Test func largeCrossEntropyWithWeightsIgnoreAndSmoothingIsBitwiseIdentical() throws {
        let (n, classes) = (1500, 103)
        let x = TestSupport.normal([n, classes], scale: 3, seed: 91).converted(to: Float.self)
        var t = TestSupport.classIndices([n], classes: classes, seed: 92).scalars
        for i in stride(from: 0, to: n, by: 7) { t[i] = -100 }
        let w = TestSupport.uniform([classes], in: 0.1...3, seed: 93).converted(to: Float.self)
        let options: [String: OptionValue] = ["label_smoothing": .double(0.1)]
        let single = try CrossEntropyLoss<Float>(weight: w, labelSmoothing: 0.1).valueWithGradient(x, Tensor(t))
        let e = SplitEvaluation<Float>(
            function: "cross_entropy", options: options, inputs: LossInputs(["input": .values(x), "target": .indices(Tensor(t))]),
            constants: ["weight": w], upstream: Tensor(scalar: 1))
        for split in [[1500], [750, 750], [500, 500, 500], [1, 998, 501], [0, 1500, 0]] {
            let d = try dataParallel(e, split: split)
            #expect(bitwiseEqual(d.value, single.value.scalars), "split \(split)")
            #expect(bitwiseEqual(d.gradients["input"]!, single.gradient.scalars), "split \(split)")
        }
    }

    @Test(arguments: ["mse_loss", "l1_loss", "binary_cross_entropy_with_logits", "rmse"])
    func pointwiseLossesOverManyBlocksAreBitwiseIdentical(function: String) throws {
        // 3 × 20011 elements: several of the kernel's 16384-element blocks, split off their boundaries.
        let x = TestSupport.normal([20011, 3], seed: 94).converted(to: Float.self)
        let y = function.hasPrefix("binary")
            ? TestSupport.uniform([20011, 3], in: 0...1, seed: 95).converted(to: Float.self)
            : TestSupport.normal([20011, 3], seed: 95).converted(to: Float.self)
        let inputs = LossInputs<Float>(["input": .values(x), "target": .values(y)])
        let loss = try LossRegistry.make(function, as: Float.self)
        let value = try loss.forward(inputs).scalars, gradients = try loss.backward(inputs, upstream: Tensor(scalar: 1))
        let e = SplitEvaluation<Float>(function: function, options: [:], inputs: inputs, constants: [:], upstream: Tensor(scalar: 1))
        for split in [[10000, 10011], [6000, 7000, 7011]] {
            let d = try dataParallel(e, split: split)
            #expect(bitwiseEqual(d.value, value), "\(function) split \(split)")
            #expect(bitwiseEqual(d.gradients["input"]!, gradients["input"]!.scalars), "\(function) split \(split)")
        }
    }

    @Test func badInputOnOneRankIsAnErrorOnEveryRank() {
        let x = TestSupport.normal([9, 4], seed: 96)
        let t = Tensor([0, 1, 2, 3, 0, 1, 2, 3, 4])  // 4 is out of range, in the last rank's rows
        let outOfRange = errorsOnRanks(3) { comm in
            let range = BalancedSplit.range(part: comm.rank, of: 3, count: 9)
            _ = try DataParallelLoss<Double>("cross_entropy").valueWithGradient(
                LossInputs(["input": .values(try rows(x, range)), "target": .indices(elements(t, range))]), communicator: comm)
        }
        #expect(outOfRange[2] == "target[2] is 4, outside the valid range [0, 4).", "\(outOfRange)")
        #expect(outOfRange[0] == "Rank 2 failed: target[2] is 4, outside the valid range [0, 4).", "\(outOfRange)")
        #expect(outOfRange[1] == outOfRange[0])
        let shapes = errorsOnRanks(2) { comm in
            let mine = comm.rank == 0 ? try rows(x, 0..<4) : try columns(try rows(x, 4..<9), 0..<3)
            let targets = comm.rank == 0 ? elements(t, 0..<4) : Tensor([0, 1, 2, 0, 1])
            _ = try DataParallelLoss<Double>("cross_entropy")
                .forward(LossInputs(["input": .values(mine), "target": .indices(targets)]), communicator: comm)
        }
        #expect(shapes.allSatisfy { $0?.contains("disagree about the shapes of the inputs after the batch axis") == true }, "\(shapes)")
        let options = errorsOnRanks(2) { comm in
            _ = try DataParallelLoss<Double>("mse_loss", options: comm.rank == 0 ? [:] : ["reduction": .string("sum")])
                .forward(LossInputs(["input": .values(x), "target": .values(x)]), communicator: comm)
        }
        #expect(options.allSatisfy { $0?.contains("disagree about the loss, its options") == true }, "\(options)")
    }

    @Test func unsupportedLossesAreNamed() {
        #expect(throws: LossError.unsupportedFunction("ctc_loss (data-parallel)")) { try DataParallelLoss<Float>("ctc_loss") }
        #expect(DataParallelLoss<Float>.supportedFunctions.contains("cross_entropy"))
    }
}

@Suite struct PointwiseSumTests {
    /// The mirrored block order gives the kernel's own sum, for each kind, both precisions,
    /// across block boundaries (values of either sign for the logistic loss with targets outside [0, 1]).
    @Test func equalsThePointwiseKernelsSum() throws {
        for n in [0, 1, 17, 16384, 16385, 70001, 300_000] {
            let x = TestSupport.normal([n], scale: 2, seed: 97), y = TestSupport.normal([n], scale: 2, seed: 98)
            for kind in PointwiseLossKind.allCases {
                func compare<T: DistributedScalar>(_: T.Type) throws {
                    let xs = x.scalars.map { T($0) }, ys = y.scalars.map { T($0) }
                    var values = [T](repeating: 0, count: n)
                    let total = try xs.withUnsafeBufferPointer { xb in
                        try ys.withUnsafeBufferPointer { yb in
                            try values.withUnsafeMutableBufferPointer { try pointwiseLoss(kind, input: xb, target: yb, values: $0) }
                        }
                    }
                    #expect(bitwiseEqual([PointwiseSum.blocked(values)], [total]), "\(kind) \(T.self) n \(n)")
                }
                try compare(Float.self)
                try compare(Double.self)
            }
        }
    }
}
