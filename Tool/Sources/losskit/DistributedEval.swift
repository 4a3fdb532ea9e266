import ArgumentParser
import Foundation
import Loss
import LossDistributed
import NumPyFiles

/// `losskit eval --data-parallel` and `--vocab-parallel`: the same command on every
/// rank of `mpirun` (one rank without it). Every rank reads the files and takes its
/// slice (a path containing `{rank}` is read per rank and taken whole as the rank's
/// slice); rank 0 prints the loss and writes the gathered `--loss-out` and `--grad-out`.
extension Eval {
    /// The arrays and options every rank has read.
    struct DistributedSetup {
        var arrays: [(name: String, array: NPYArray, perRank: Bool)]
        var options: [String: OptionValue]
        var useDouble: Bool
    }

    func runDistributed() throws {
        let comm: any Communicator
        do {
            comm = try Ranks.communicator()
        } catch {
            printError("losskit eval: \(error)")
            throw ExitCode(1)
        }
        try reportingDistributedErrors("eval", comm) {
            let setup = try comm.agreeing { () -> DistributedSetup in
                guard !(vocabParallel && dataParallel) else {
                    throw ToolError.invalidArgument("choose one of --vocab-parallel and --data-parallel")
                }
                guard (1...maximumThreadCount).contains(threads) else {
                    throw ToolError.invalidArgument("--threads must be between 1 and \(maximumThreadCount)")
                }
                let parsed = try parseLossOptions(options)
                let arrays = try namedInputs().map { n -> (name: String, array: NPYArray, perRank: Bool) in
                    let (array, perRank) = try DistributedFiles.read(n.path, rank: comm.rank)
                    return (n.name, array, perRank)
                }
                let useDouble = precision.map { $0 == .double } ?? (arrays[0].array.dtype == .float64)
                return DistributedSetup(arrays: arrays, options: parsed, useDouble: useDouble)
            }
            if setup.useDouble {
                try evaluateDistributed(Double.self, setup, comm)
            } else {
                try evaluateDistributed(Float.self, setup, comm)
            }
        }
    }

    func evaluateDistributed<T: DistributedScalar>(_: T.Type, _ setup: DistributedSetup, _ comm: any Communicator) throws {
        if dataParallel {
            try evaluateDataParallel(T.self, setup, comm)
        } else if loss == "linear_cross_entropy" {
            try evaluateVocabParallelHead(T.self, setup, comm)
        } else {
            try evaluateVocabParallelCrossEntropy(T.self, setup, comm)
        }
    }

    /// Prints the value as `losskit eval` does (rank 0) and writes `--loss-out`.
    func report<T: KernelScalar>(value: Tensor<T>, _ comm: any Communicator) throws {
        guard comm.rank == 0 else { return }
        let digits = T.self == Double.self ? 17 : 9
        func format(_ v: T) -> String { String(format: "%.\(digits)g", Double(v)) }
        if value.rank == 0 {
            print("\(loss): \(format(value[flat: 0]))")
        } else {
            let shown = value.scalars.prefix(20).map(format).joined(separator: " ")
            print("\(loss) (shape \(describeShape(value.shape))): \(shown)\(value.count > 20 ? " ..." : "")")
        }
        if let lossOut {
            try DistributedFiles.write(value, to: lossOut)
            print("wrote \(lossOut)")
        }
    }

    /// Writes the gathered input gradient on rank 0.
    func writeGradient<T: KernelScalar>(_ g: Tensor<T>, reduced: Bool, _ comm: any Communicator) throws {
        guard comm.rank == 0, let gradOut else { return }
        try DistributedFiles.write(g, to: gradOut)
        print("wrote \(gradOut) (gradient of the \(reduced ? "loss" : "sum of the losses") with respect to input, shape \(describeShape(g.shape)))")
        fflush(nil)
    }

    // MARK: Data-parallel

    func evaluateDataParallel<T: DistributedScalar>(_: T.Type, _ setup: DistributedSetup, _ comm: any Communicator) throws {
        let prepared = try comm.agreeing { () -> (DataParallelLoss<T>, LossInputs<T>, rows: Int) in
            let first = setup.arrays[0]
            guard let n = first.array.shape.first else {
                throw ToolError.invalidArgument("--data-parallel splits the input's axis 0, but the input is a scalar")
            }
            var inputs = LossInputs<T>()
            var constants: [String: Tensor<T>] = [:]
            for (name, a, perRank) in setup.arrays {
                let isConstant = LossRegistry.constantInputNames.contains(name)
                // Inputs are split by rows (unless read per rank); a constant only when its axis 0 is the batch.
                let split = !perRank
                    && (isConstant ? !first.perRank && a.shape.count == first.array.shape.count && a.shape.first == n && n > 1 : true)
                if split && !first.perRank && a.shape.first != n {
                    throw ToolError.invalidArgument(
                        "\(name) has \(a.shape.first.map(String.init) ?? "no") rows on axis 0 but the input has \(n): "
                            + "--data-parallel splits every input by rows")
                }
                let mine = BalancedSplit.range(part: comm.rank, of: comm.size, count: a.shape.first ?? 0)
                if isConstant {
                    let t = try DistributedFiles.values(a, as: T.self)
                    constants[name] = split ? try t.rows(mine) : t
                } else if let ints = a.integers {
                    let t = try Tensor(shape: a.shape, scalars: ints)
                    inputs[name] = .indices(split ? try t.rows(mine) : t)
                } else {
                    let t = try DistributedFiles.values(a, as: T.self)
                    inputs[name] = .values(split ? try t.rows(mine) : t)
                }
            }
            let dp = try DataParallelLoss<T>(loss, options: setup.options, constants: constants)
            if gradOut != nil {
                let single = try LossRegistry.make(loss, options: setup.options, constants: constants, as: T.self)
                guard single.differentiableInputs.contains("input") else {
                    throw ToolError.invalidArgument("\(loss) has no gradient with respect to its input; drop --grad-out")
                }
            }
            return (dp, inputs, inputs[setup.arrays[0].name]?.shape.first ?? 0)
        }
        let (dp, inputs, _) = prepared
        let inputShape = inputs["input"]?.shape ?? []
        if gradOut != nil {
            let r = try dp.valueWithGradient(inputs, communicator: comm)
            try reportGathered(r.value, comm)
            let g = r.gradients["input"]!
            let rows = try comm.allReduce([inputShape.first ?? 0], .sum)[0]
            if let all = try comm.gatherToRoot(g.scalars) {
                try writeGradient(try Tensor(shape: [rows] + inputShape.dropFirst(), scalars: all), reduced: r.value.rank == 0, comm)
            }
        } else {
            try reportGathered(try dp.forward(inputs, communicator: comm), comm)
        }
    }

    /// A data-parallel value: the scalar, or the ranks' per-element values gathered by rows.
    func reportGathered<T: KernelScalar>(_ value: Tensor<T>, _ comm: any Communicator) throws {
        let isScalar = try comm.allReduce([value.rank == 0 ? 1 : 0], .min)[0] == 1
        guard !isScalar else { return try report(value: value, comm) }
        let rows = try comm.allReduce([value.shape.first ?? 0], .sum)[0]
        if let all = try comm.gatherToRoot(value.scalars) {
            try report(value: try Tensor(shape: [rows] + value.shape.dropFirst(), scalars: all), comm)
        }
    }

    // MARK: Vocab-parallel

    /// The options of the vocab-parallel losses; anything else is an error.
    struct VocabOptions {
        var ignoreIndex = -100, labelSmoothing = 0.0, zLoss = 0.0, softcap: Double? = nil
        var reduction = Reduction.mean

        init(_ options: [String: OptionValue], function: String, allowed: Set<String>) throws {
            for (key, value) in options {
                guard allowed.contains(key) else {
                    throw LossError.unsupportedOption(function: "\(function) (vocab-parallel)", option: key)
                }
                func number() throws -> Double {
                    switch value {
                    case .int(let i): return Double(i)
                    case .double(let d): return d
                    default: throw LossError.invalidOption(name: key, value: value.description, expected: "a number")
                    }
                }
                switch key {
                case "ignore_index":
                    guard case .int(let i) = value else {
                        throw LossError.invalidOption(name: key, value: value.description, expected: "an integer")
                    }
                    ignoreIndex = i
                case "label_smoothing": labelSmoothing = try number()
                case "z_loss": zLoss = try number()
                case "softcap":
                    if case .null = value { softcap = nil } else { softcap = try number() }
                case "reduction":
                    guard case .string(let s) = value, let r = Reduction(rawValue: s) else {
                        throw LossError.invalidOption(name: key, value: value.description, expected: "\"none\", \"mean\" or \"sum\"")
                    }
                    reduction = r
                default: break
                }
            }
        }
    }

    /// This rank's slice of an array split on `axis` into `parts` (or the array itself when read per rank).
    func vocabSlice<T>(_ t: Tensor<T>, axis: Int, perRank: Bool, _ comm: any Communicator) throws -> Tensor<T> {
        guard !perRank else { return t }
        let range = BalancedSplit.range(part: comm.rank, of: comm.size, count: t.shape[axis])
        return axis == 0 ? try t.rows(range) : try t.columns(range)
    }

    func evaluateVocabParallelCrossEntropy<T: DistributedScalar>(_: T.Type, _ setup: DistributedSetup, _ comm: any Communicator)
        throws
    {
        let prepared = try comm.agreeing { () -> (VocabParallelCrossEntropy<T>, Tensor<T>, Tensor<Int>) in
            guard loss == "cross_entropy" else {
                throw ToolError.invalidArgument("--vocab-parallel takes cross_entropy or linear_cross_entropy, not \(loss)")
            }
            let o = try VocabOptions(
                setup.options, function: loss, allowed: ["ignore_index", "label_smoothing", "z_loss", "reduction"])
            var logits: Tensor<T>? = nil, targets: Tensor<Int>? = nil, weights: Tensor<T>? = nil
            for (name, a, perRank) in setup.arrays {
                switch name {
                case "input":
                    guard a.shape.count == 2 else {
                        throw ToolError.invalidArgument("--vocab-parallel cross_entropy takes logits of shape (N, C), got \(describeShape(a.shape))")
                    }
                    logits = try vocabSlice(try DistributedFiles.values(a, as: T.self), axis: 1, perRank: perRank, comm)
                case "target":
                    guard let ints = a.integers else {
                        throw ToolError.invalidArgument("--vocab-parallel cross_entropy takes class indices (an integer array) as its target")
                    }
                    targets = try Tensor(shape: a.shape, scalars: ints)
                case "weight":
                    weights = try vocabSlice(try DistributedFiles.values(a, as: T.self), axis: 0, perRank: perRank, comm)
                default:
                    throw ToolError.invalidArgument("cross_entropy takes no input named \(name); its inputs are input, target and weight")
                }
            }
            guard let logits, let targets else {
                throw ToolError.invalidArgument("cross_entropy needs its target (integer indices): pass --target FILE.npy")
            }
            let l = VocabParallelCrossEntropy<T>(
                weight: weights, ignoreIndex: o.ignoreIndex, labelSmoothing: T(o.labelSmoothing), zLoss: T(o.zLoss),
                reduction: o.reduction)
            return (l, logits, targets)
        }
        let (ce, logits, targets) = prepared
        guard gradOut != nil else { return try report(value: try ce(logits, targets, communicator: comm), comm) }
        let r = try ce.valueWithGradient(logits, targets, communicator: comm)
        try report(value: r.value, comm)
        // Rank r's (N, C_r) columns, side by side on rank 0.
        let widths = try comm.allGather(logits.shape[1])
        if let all = try comm.gatherToRoot(r.gradient.scalars) {
            let n = logits.shape[0], total = widths.reduce(0, +)
            var full = [T](repeating: 0, count: n * total)
            var offset = 0, column = 0
            for w in widths {
                for row in 0..<n { for j in 0..<w { full[row * total + column + j] = all[offset + row * w + j] } }
                offset += n * w
                column += w
            }
            try writeGradient(try Tensor(shape: [n, total], scalars: full), reduced: r.value.rank == 0, comm)
        }
    }

    func evaluateVocabParallelHead<T: DistributedScalar>(_: T.Type, _ setup: DistributedSetup, _ comm: any Communicator) throws {
        let prepared = try comm.agreeing {
            () -> (VocabParallelLinearCrossEntropy<T>, Tensor<T>, Tensor<T>, Tensor<Int>, Tensor<T>?) in
            let o = try VocabOptions(
                setup.options, function: loss, allowed: ["ignore_index", "label_smoothing", "z_loss", "softcap", "reduction"])
            var x: Tensor<T>? = nil, w: Tensor<T>? = nil, b: Tensor<T>? = nil, targets: Tensor<Int>? = nil, weights: Tensor<T>? = nil
            for (name, a, perRank) in setup.arrays {
                switch name {
                case "input": x = try DistributedFiles.values(a, as: T.self)
                case "linear_weight":
                    guard a.shape.count == 2 else {
                        throw ToolError.invalidArgument("linear_weight must have shape (V, D), got \(describeShape(a.shape))")
                    }
                    w = try vocabSlice(try DistributedFiles.values(a, as: T.self), axis: 0, perRank: perRank, comm)
                case "linear_bias":
                    b = try vocabSlice(try DistributedFiles.values(a, as: T.self), axis: 0, perRank: perRank, comm)
                case "weight":
                    weights = try vocabSlice(try DistributedFiles.values(a, as: T.self), axis: 0, perRank: perRank, comm)
                case "target":
                    guard let ints = a.integers else {
                        throw ToolError.invalidArgument("linear_cross_entropy takes class indices (an integer array) as its target")
                    }
                    targets = try Tensor(shape: a.shape, scalars: ints)
                default:
                    throw ToolError.invalidArgument(
                        "linear_cross_entropy takes no input named \(name); its inputs are input, linear_weight, target, "
                            + "linear_bias and the constant weight")
                }
            }
            guard let x, let w, let targets else {
                throw ToolError.invalidArgument(
                    "linear_cross_entropy needs input, target and linear_weight: pass --tensor linear_weight=W.npy")
            }
            let head = VocabParallelLinearCrossEntropy<T>(
                weight: weights, ignoreIndex: o.ignoreIndex, labelSmoothing: T(o.labelSmoothing), zLoss: T(o.zLoss),
                softcap: o.softcap.map { T($0) }, reduction: o.reduction)
            return (head, x, w, targets, b)
        }
        let (head, x, w, targets, b) = prepared
        guard gradOut != nil else {
            return try report(value: try head(x, w, target: targets, linearBias: b, communicator: comm), comm)
        }
        let r = try head.valueWithGradient(x, w, target: targets, linearBias: b, communicator: comm)
        try report(value: r.value, comm)
        try writeGradient(r.inputGradient!, reduced: r.value.rank == 0, comm)
    }
}
