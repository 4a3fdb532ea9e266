import Kernels
import Loss

/// A LossKit loss (built by its PyTorch name, as ``LossRegistry`` builds it) over a
/// batch whose rows are split across ranks, with the loss and the gradients
/// **bitwise identical** to one process computing the whole batch, for any number
/// of ranks and any split.
///
/// Each rank passes its own rows: a contiguous slice of the batch axis (axis 0) of
/// every input, rank 0 the first rows, rank 1 the next, and so on (any sizes, zero
/// included; ``BalancedSplit`` gives the usual one). A constant (`weight`,
/// `pos_weight`) is either the same on every rank (class weights, a weight
/// broadcast over the rows) or split with the rows (an elementwise weight, whose
/// axis 0 is the batch); the ranks check that each is one or the other.
///
/// ## Reduction
/// - `none`: each rank gets the per-element losses of its rows (and their gradients
///   for the upstream slice it passes); nothing is communicated beyond validation
///   (and, with gradients, one agreement after the backward pass).
/// - `sum`, `mean` (and `kl_div`'s `batchmean`, and `rmse`): the rank's per-element
///   losses are gathered to rank 0 in row order, which reduces the whole batch with
///   the same kernel as the single-process loss (the Double-accumulating row sum, or
///   the pointwise kernels' fixed blocks for `mse_loss`, `l1_loss` and
///   `binary_cross_entropy_with_logits` without weights) and divides by the
///   **global** denominator, computed as the single-process loss computes it: the
///   element count, PyTorch's weighted-mean rule for class-index targets (the sum of
///   `w_t` over rows not ignored, added in row order), the count of rows not
///   ignored (`cross_entropy_z_loss`), the number of rows (`batchmean`), or the sum
///   of an elementwise `weight` (`l1_loss`, `mse_loss`). Rank 0 broadcasts the value
///   and the denominator; each rank then computes the gradient of its rows with the
///   global scale `upstream / denominator`, the same number the single process
///   multiplies each row's gradient by.
///
/// This works because every supported loss computes each row's value and gradient
/// from that row alone (the kernels' results do not depend on which other rows are
/// in the call: tested for every split), and because the only cross-row operations,
/// the reduction and the denominator, are redone on the gathered rows exactly.
///
/// ## Communication per call
/// One all-gather of 10 integers per rank (validation status, row and element
/// counts, checksums of shapes, options and constants) and, for `sum`/`mean`,
/// one gather to rank 0 of the rank's per-element losses (and per-row denominator
/// terms) as Doubles, one broadcast of two numbers, and two agreements (a `min` of one
/// integer each: after rank 0's reduction and after the local backward pass).
///
/// ## Not offered
/// `ctc_loss` (batch on axis 1 of `log_probs`, per-sequence Double accumulation),
/// `linear_cross_entropy` (its weight gradient sums over the batch: see
/// ``VocabParallelLinearCrossEntropy``), and the axis functions (`softmax`, `sum`, ...),
/// which are not losses over a batch.
public struct DataParallelLoss<Scalar: DistributedScalar>: Sendable {
    /// The loss's PyTorch name.
    public let function: String
    /// Its options, PyTorch-named (including `reduction`).
    public let options: [String: OptionValue]
    /// This rank's constants (`weight`, `pos_weight`).
    public let constants: [String: Tensor<Scalar>]
    /// The loss with reduction `none` (per-element values) and `sum` (the gradient with a given scale).
    let perElementLoss: any LossFunction<Scalar>, sumLoss: any LossFunction<Scalar>
    /// A checksum of the precision, the function, its options and its constants' names.
    let optionsChecksum: Int
    /// Per name of ``LossRegistry/constantInputNames`` (sorted): a checksum of the whole
    /// constant, one of its shape after axis 0, its rank and its axis 0 (zeros when absent).
    let constantChecksums: [(whole: Int, split: Int, rank: Int, rows: Int?)]

    /// The names ``init(_:options:constants:)`` accepts.
    public static var supportedFunctions: [String] {
        LossRegistry.functionNames.filter { !unsupported.contains($0) }
    }

    static var unsupported: Set<String> { dataParallelUnsupported }
}

let dataParallelUnsupported: Set<String> = [
    "ctc_loss", "linear_cross_entropy", "softmax", "log_softmax", "logsumexp", "sum", "mean", "amax",
]

extension DataParallelLoss {

    /// The loss `function` with `options` and this rank's `constants`.
    /// - Throws: ``LossError/unsupportedFunction(_:)`` for a name outside
    ///   ``supportedFunctions``, and what ``LossRegistry/make(_:options:constants:as:)`` throws for bad options.
    public init(_ function: String, options: [String: OptionValue] = [:], constants: [String: Tensor<Scalar>] = [:]) throws {
        guard LossRegistry.functionNames.contains(function), !Self.unsupported.contains(function) else {
            throw LossError.unsupportedFunction("\(function) (data-parallel)")
        }
        self.function = function
        self.options = options
        self.constants = constants
        _ = try LossRegistry.make(function, options: options, constants: constants, as: Scalar.self)
        perElementLoss = try Self.loss(function, options, constants, reduction: "none")
        sumLoss = try Self.loss(function, options, constants, reduction: "sum")
        var o = Checksum()
        o.add(MemoryLayout<Scalar>.size)
        o.add(function)
        for key in options.keys.sorted() {
            o.add(key)
            o.add(options[key]!.description)
        }
        for name in constants.keys.sorted() { o.add(name) }
        optionsChecksum = o.int
        constantChecksums = LossRegistry.constantInputNames.sorted().map { name in
            guard let c = constants[name] else { return (0, 0, 0, nil) }
            var whole = Checksum(), split = Checksum()
            for dim in c.shape { whole.add(dim) }
            c.withUnsafeBufferPointer { whole.add(bytes: UnsafeRawBufferPointer($0)) }
            split.add(c.rank)
            for dim in c.shape.dropFirst() { split.add(dim) }
            return (whole.int, split.int, c.rank, c.shape.first)
        }
    }

    /// The reduction named by the options: `none`, `mean`, `sum` or `batchmean`.
    var reductionName: String {
        if function == "rmse" { return "mean" }
        if case .string(let s)? = options["reduction"] { return s }
        return "mean"
    }

    /// The loss with another reduction (`rmse` is the mean of `mse_loss`).
    static func loss(
        _ function: String, _ options: [String: OptionValue], _ constants: [String: Tensor<Scalar>], reduction: String
    ) throws -> any LossFunction<Scalar> {
        var o = options
        o["reduction"] = .string(reduction)
        return try LossRegistry.make(function == "rmse" ? "mse_loss" : function, options: o, constants: constants, as: Scalar.self)
    }

    /// How the single-process loss sums its per-element values.
    enum SumKernel { case rows, pointwise }

    /// What the single-process `mean` divides by.
    enum Denominator {
        case count
        case targetWeights(ignoreIndex: Int, weight: Tensor<Scalar>?)
        case keptTargets(ignoreIndex: Int)
        case batchRows
        case weightSum
    }

    var sumKernel: SumKernel {
        switch function {
        case "mse_loss", "l1_loss", "rmse": return constants["weight"] == nil ? .pointwise : .rows
        case "binary_cross_entropy_with_logits":
            return constants["weight"] == nil && constants["pos_weight"] == nil ? .pointwise : .rows
        default: return .rows
        }
    }

    func denominator(indexTargets: Bool) -> Denominator {
        let ignore: Int = {
            if case .int(let i)? = options["ignore_index"] { return i }
            return -100
        }()
        switch function {
        case "cross_entropy" where indexTargets, "nll_loss": return .targetWeights(ignoreIndex: ignore, weight: constants["weight"])
        case "cross_entropy_z_loss": return .keptTargets(ignoreIndex: ignore)
        case "kl_div" where reductionName == "batchmean": return .batchRows
        case "mse_loss", "l1_loss": return constants["weight"] == nil ? .count : .weightSum
        default: return .count
        }
    }

    /// The loss of the whole batch (collective). For `none`, this rank's per-element losses.
    public func forward(_ inputs: LossInputs<Scalar>, communicator: any Communicator) throws -> Tensor<Scalar> {
        try evaluate(inputs, upstream: nil, gradients: false, communicator).value
    }

    /// The loss of the whole batch and the gradients of this rank's inputs (collective).
    /// `upstream` is the gradient of the value (a scalar; for `none`, this rank's
    /// slice of the per-element upstream); nil means ones.
    public func valueWithGradient(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>? = nil, communicator: any Communicator)
        throws -> (value: Tensor<Scalar>, gradients: [String: Tensor<Scalar>])
    {
        let r = try evaluate(inputs, upstream: upstream, gradients: true, communicator)
        return (r.value, r.gradients)
    }

    func evaluate(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>?, gradients: Bool, _ comm: any Communicator) throws
        -> (value: Tensor<Scalar>, gradients: [String: Tensor<Scalar>])
    {
        let reduction = reductionName
        let perElement = perElementLoss
        var values: [Scalar] = [], valueShape: [Int] = []
        var terms: [Double] = []  // per-row denominator terms (rows not ignored), in row order
        var localRows = 0
        var indexTargets = false
        let constantNames = LossRegistry.constantInputNames.sorted()
        let signatures = try comm.exchangeSignatures(length: 5 + 2 * constantChecksums.count) {
            try perElement.validate(inputs)
            let input = try firstInput(inputs, perElement)
            guard !input.shape.isEmpty else {
                throw LossError.shapeMismatch(
                    argument: perElement.inputSpecs[0].name, expected: "a batch axis (axis 0) to split across ranks",
                    actual: describeShape(input.shape))
            }
            localRows = input.shape[0]
            if case .indices? = inputs["target"] { indexTargets = true }
            var shapes = Checksum()
            for name in inputs.names {
                shapes.add(name)
                for dim in inputs[name]!.shape.dropFirst() { shapes.add(dim) }
                guard inputs[name]!.shape.first == localRows else {
                    throw LossError.shapeMismatch(
                        argument: name, expected: "\(localRows) rows on axis 0, as \(perElement.inputSpecs[0].name) has",
                        actual: describeShape(inputs[name]!.shape))
                }
            }
            // Per constant: a checksum of all of it (for one the same on every rank) and of its
            // shape after axis 0 when that axis holds this rank's rows (for one split with them).
            var constantFields: [Int] = []
            for c in constantChecksums {
                constantFields += [c.whole, c.rank == input.shape.count && c.rows == localRows ? c.split : 0]
            }
            var o = Checksum()
            o.add(optionsChecksum)
            o.add(gradients ? 1 : 0)
            if let upstream, reduction != "none" { o.add(scalar: upstream[flat: 0]) }
            if let upstream, reduction == "none" {
                for dim in upstream.shape.dropFirst() { shapes.add(dim) }
            }
            if localRows > 0 {
                let v = try perElement.forward(inputs)
                values = v.scalars
                valueShape = v.shape
                terms = try denominatorTerms(inputs)
            }
            return [localRows, values.count, terms.count, shapes.int, o.int] + constantFields
        }
        try signatures.requireEqual(3, "the shapes of the inputs after the batch axis", describe: { "checksum \($0)" })
        try signatures.requireEqual(4, "the loss, its options, its constants' names and the upstream gradient",
                                    describe: { "checksum \($0)" })
        for (i, name) in constantNames.enumerated() {
            let whole = signatures.field(5 + 2 * i), split = signatures.field(6 + 2 * i)
            guard Set(whole).count == 1 || (Set(split).count == 1 && split[0] != 0) else {
                throw DistributedError.inconsistentAcrossRanks(
                    what: "the constant \(name)",
                    detail: "it is neither the same on every rank nor split with the rows (axis 0 of the rank's rows, "
                        + "the same shape after it)")
            }
        }

        if reduction == "none" {
            let value = try Tensor(shape: localRows > 0 ? valueShape : [0], scalars: values)
            guard gradients else { return (value, [:]) }
            let grads = try comm.agreeing { () -> [String: Tensor<Scalar>] in
                guard localRows > 0 else { return try zeroGradients(inputs, perElement) }
                let u = try upstream ?? Tensor(shape: valueShape, scalars: Array(repeating: 1, count: values.count))
                return try perElement.backward(inputs, upstream: u)
            }
            return (value, grads)
        }

        // Rank 0 reduces the gathered values as the single-process loss would.
        let valueCounts = signatures.field(1), termCounts = signatures.field(2)
        let counts = zip(valueCounts, termCounts).map { $0 + $1 }
        let mine = values.map { Double($0) } + terms
        var result = [Double](repeating: 0, count: 2)
        if let all = try comm.gather(mine, counts: counts, root: 0) {
            var allValues: [Scalar] = [], allTerms: [Double] = []
            allValues.reserveCapacity(valueCounts.reduce(0, +))
            var offset = 0
            for r in 0..<comm.size {
                allValues += all[offset..<(offset + valueCounts[r])].map { Scalar($0) }
                allTerms += all[(offset + valueCounts[r])..<(offset + counts[r])]
                offset += counts[r]
            }
            result = try comm.agreeing {
                try reduceOnRoot(allValues, terms: allTerms, rows: signatures.field(0).reduce(0, +), indexTargets: indexTargets)
            }
        } else {
            try comm.agree(onError: nil)
        }
        result = try comm.broadcast(result, root: 0)
        let value = Scalar(result[0]), denominator = Scalar(result[1])
        guard gradients else { return (Tensor(scalar: value), [:]) }

        // The gradient of this rank's rows with the global scale.
        let u = upstream?[flat: 0] ?? 1
        let scale: Scalar
        if function == "rmse" {
            // As RMSELoss: the scale u / (2 rmse) (0 at rmse = 0) of the mean squared error's backward.
            let s: Scalar = value == 0 ? 0 : u / (2 * value)
            scale = s / denominator
        } else {
            scale = reduction == "sum" ? u : u / denominator
        }
        let grads = try comm.agreeing { () -> [String: Tensor<Scalar>] in
            guard localRows > 0 else { return try zeroGradients(inputs, sumLoss) }
            return try sumLoss.backward(inputs, upstream: Tensor(scalar: scale))
        }
        return (Tensor(scalar: value), grads)
    }

    /// The loss's first input (the one whose axis 0 is the batch).
    private func firstInput(_ inputs: LossInputs<Scalar>, _ loss: any LossFunction<Scalar>) throws -> LossInput<Scalar> {
        let name = loss.inputSpecs[0].name
        guard let input = inputs[name] else { throw LossError.missingInput(name: name, expected: "a tensor with a batch axis") }
        return input
    }

    /// Zero gradients for a rank without rows (every differentiable input given as values).
    private func zeroGradients(_ inputs: LossInputs<Scalar>, _ loss: any LossFunction<Scalar>) throws -> [String: Tensor<Scalar>] {
        var out: [String: Tensor<Scalar>] = [:]
        for spec in loss.inputSpecs where spec.differentiable {
            if case .values(let t)? = inputs[spec.name] { out[spec.name] = try Tensor(zeros: t.shape) }
        }
        return out
    }

    /// This rank's terms of the mean's denominator that are not a count: `w_t` per
    /// row not ignored, or the elementwise weights.
    private func denominatorTerms(_ inputs: LossInputs<Scalar>) throws -> [Double] {
        let indexTargets: Bool = { if case .indices? = inputs["target"] { return true } else { return false } }()
        guard reductionName == "mean" || function == "rmse" else { return [] }
        switch denominator(indexTargets: indexTargets) {
        case .targetWeights(let ignore, let weight):
            let t = try inputs.indices("target")
            return t.scalars.filter { $0 != ignore }.map { index in weight.map { Double($0[flat: index]) } ?? 1 }
        case .keptTargets(let ignore):
            return try inputs.indices("target").scalars.filter { $0 != ignore }.map { _ in 1 }
        case .weightSum:
            return constants["weight"]!.scalars.map { Double($0) }
        case .count, .batchRows:
            return []
        }
    }

    /// On rank 0: `[value, denominator]` of the whole batch from its gathered values.
    private func reduceOnRoot(_ values: [Scalar], terms: [Double], rows: Int, indexTargets: Bool) throws -> [Double] {
        let total: Scalar
        switch sumKernel {
        case .rows: total = try values.withUnsafeBufferPointer { try sum($0) }
        case .pointwise: total = PointwiseSum.blocked(values)
        }
        let reduction = reductionName
        if reduction == "sum" { return [Double(total), 1] }
        let denominator: Scalar
        switch self.denominator(indexTargets: indexTargets) {
        case .count:
            if values.isEmpty && function != "rmse" { return [Double(Scalar.nan), 0] }  // as the single-process mean of nothing
            denominator = Scalar(values.count)
        case .batchRows: denominator = Scalar(rows)
        case .keptTargets: denominator = Scalar(terms.count)
        case .targetWeights:
            var d = 0.0
            for t in terms { d += t }  // in row order, as the single-process loss adds them
            denominator = Scalar(d)
        case .weightSum:
            denominator = try terms.map { Scalar($0) }.withUnsafeBufferPointer { try sum($0) }
        }
        if function == "rmse" {
            let mean: Scalar = values.isEmpty ? .nan : total / denominator
            return [Double(Scalar.sqrt(mean)), Double(denominator)]
        }
        return [Double(total / denominator), Double(denominator)]
    }
}

/// The sum of ``pointwiseLoss(_:input:target:values:gradient:gradientScale:upstream:threads:)``'s
/// per-element values as that kernel adds them (`lk_pointwise` in CLossKernels):
/// blocks whose size is fixed by the count alone (`max(⌈n / 256⌉, 16384)` rounded up
/// to 16), Float blocks added in 16 Double lanes (lane `i mod 16`) then combined
/// pairwise (lanes `i + 8`, `i + 4`, `i + 2`, `i + 1`), Double blocks added in order,
/// and the blocks' partial sums added in order. The data-parallel losses use it to
/// reduce the gathered values of `mse_loss`, `l1_loss` and
/// `binary_cross_entropy_with_logits` to the same bits as one process.
enum PointwiseSum {
    static func blocked<T: KernelScalar>(_ values: [T]) -> T {
        let n = values.count
        var wanted = (n + 255) / 256
        if wanted < 1 << 14 { wanted = 1 << 14 }
        let block = (wanted + 15) / 16 * 16
        var total = 0.0
        var lo = 0
        while lo < n {
            let count = Swift.min(block, n - lo)
            var partial = 0.0
            if T.self == Float.self {
                var lanes = [Double](repeating: 0, count: 16)
                let padded = (count + 15) / 16 * 16
                for i in 0..<padded { lanes[i % 16] += i < count ? Double(values[lo + i]) : 0 }
                for w in [8, 4, 2] { for i in 0..<w { lanes[i] = lanes[i] + lanes[i + w] } }
                partial = lanes[0] + lanes[1]
            } else {
                for i in 0..<count { partial += Double(values[lo + i]) }
            }
            total += partial
            lo += block
        }
        return T(total)
    }
}
