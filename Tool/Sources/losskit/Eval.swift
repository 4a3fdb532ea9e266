import ArgumentParser
import Foundation
import Loss
import NumPyFiles
import ReferenceCases

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a loss on NumPy arrays and write its gradient.",
        discussion: """
            Reads .npy files (NumPy format 1.0-3.0; little-endian float32, float64,
            int32 or int64; C order), builds LOSS by its PyTorch name with PyTorch's
            option names, prints the loss and writes the gradient with respect to its
            first input as .npy. --input is the loss's first input whatever PyTorch
            calls it (input, input1, anchor, log_probs); --target is its target (or
            targets); --tensor NAME=FILE passes any other input by its PyTorch name
            (input2, positive, negative, input_lengths, var, ...), --weight the weight=
            constant (weight and pos_weight are constants, as in PyTorch). Integer
            arrays are passed as indices where the loss takes indices (class targets,
            lengths) and converted to floating point where it takes values (a margin
            loss's ±1 labels), as PyTorch promotes them; floating-point arrays as values.

            The precision is float unless --precision says otherwise or the input is
            float64. The gradient is written in that precision, with the input's shape.
            --loss-out and --grad-out are written only when both can be: nothing is
            written when either fails.
            Exit status: 0 on success, 1 for invalid arguments (unknown loss or option,
            shapes that do not fit, an index out of range), 2 when a file cannot be read
            or is not a supported .npy file, or an output cannot be written.

            Examples:
              losskit eval mse_loss --input pred.npy --target y.npy --grad-out grad.npy
              losskit eval cross_entropy --input logits.npy --target labels.npy \\
                  --option label_smoothing=0.1
              losskit eval binary_cross_entropy_with_logits --input x.npy \\
                  --target y.npy --tensor pos_weight=pw.npy
              losskit eval l1_loss --input a.npy --target b.npy \\
                  --option reduction=none --precision double
              losskit eval margin_ranking_loss --input s1.npy --tensor input2=s2.npy \\
                  --target y.npy
              losskit eval triplet_margin_loss --input a.npy --tensor positive=p.npy \\
                  --tensor negative=n.npy

            Under mpirun (see Guides/Distributed.md), --data-parallel splits the rows
            of every input across the ranks (the loss and gradient are identical to one
            process's, bit for bit); --vocab-parallel splits the classes of
            cross_entropy (the logits' columns, the class weights) or of
            linear_cross_entropy (the rows of linear_weight and linear_bias). Every rank
            reads the files and takes its slice ({rank} in a path reads one file per
            rank, taken whole); rank 0 prints the loss and writes the gathered outputs.
              mpirun -np 3 losskit eval cross_entropy --input x.npy --target t.npy \\
                  --option label_smoothing=0.1 --vocab-parallel --grad-out g.npy

            Write the arrays with NumPy:  numpy.save("pred.npy", numpy.asarray(pred,
            dtype=numpy.float32))
            """
    )

    @Argument(help: "The loss, by its PyTorch name (\(LossRegistry.functionNames.prefix(6).joined(separator: ", ")), ...).")
    var loss: String

    @Option(help: ArgumentHelp(
        "The loss's first input, whatever PyTorch calls it (input, input1, anchor, log_probs): predictions, logits, probabilities.",
        valueName: "file.npy"))
    var input: String

    @Option(help: ArgumentHelp("The target (or targets): values, or int class indices.", valueName: "file.npy"))
    var target: String?

    @Option(help: ArgumentHelp("Class or element weights (the weight= argument).", valueName: "file.npy"))
    var weight: String?

    @Option(name: .customLong("tensor"), help: ArgumentHelp("Another named input or constant (repeatable).", valueName: "name=file.npy"))
    var tensors: [String] = []

    @Option(name: .customLong("option"), help: ArgumentHelp("A loss option as PyTorch names it (repeatable).", valueName: "key=value"))
    var options: [String] = []

    @Option(help: ArgumentHelp("Where to write the gradient wrt the input.", valueName: "file.npy"))
    var gradOut: String?

    @Option(help: ArgumentHelp("Where to write the loss values (useful with reduction=none).", valueName: "file.npy"))
    var lossOut: String?

    @Option(help: "Compute in float, double, half or bfloat16 (default: the first input's dtype: double for float64, half for float16, float otherwise). Half and bfloat16 store 16 bits and compute in Float.")
    var precision: Precision?

    @Option(help: "Threads for the kernels that split rows, 1 to \(maximumThreadCount) (results do not depend on it).")
    var threads = 1

    @Flag(help: "Under mpirun: split the classes of cross_entropy or linear_cross_entropy across the ranks.")
    var vocabParallel = false

    @Flag(help: "Under mpirun: split every input's rows (axis 0) across the ranks; same loss and gradient bits as one process.")
    var dataParallel = false

    /// The files of `--input`, `--target`, `--weight` and every `--tensor name=file.npy`, by
    /// input name (`input` and `target` stand for the loss's first input and its target).
    func namedInputs() throws -> [(name: String, path: String)] {
        var named: [(name: String, path: String)] = [("input", input)]
        if let target { named.append(("target", target)) }
        if let weight { named.append(("weight", weight)) }
        for item in tensors {
            guard let eq = item.firstIndex(of: "="), eq != item.startIndex, item.index(after: eq) != item.endIndex else {
                throw ToolError.invalidArgument("--tensor \(item): expected name=file.npy, e.g. --tensor pos_weight=pw.npy")
            }
            named.append((String(item[..<eq]), String(item[item.index(after: eq)...])))
        }
        var seen = Set<String>()
        for n in named where !seen.insert(n.name).inserted {
            throw ToolError.invalidArgument("the input \(n.name) is given twice")
        }
        return named
    }

    func run() throws {
        if vocabParallel || dataParallel { return try runDistributed() }
        try reportingErrors("eval") {
            guard (1...maximumThreadCount).contains(threads) else {
                throw ToolError.invalidArgument("--threads must be between 1 and \(maximumThreadCount)")
            }
            let parsedOptions = try parseLossOptions(options)
            let named = try namedInputs()
            var arrays: [(name: String, array: NPYArray)] = []
            for n in named {
                do {
                    arrays.append((n.name, try NPYArray(contentsOf: n.path)))
                } catch let e as NPYError {
                    if case .io = e { throw ToolError.unreadable("\(e)") }
                    throw ToolError.unreadable("\(n.path): \(e)")
                }
            }
            let chosen = precision ?? {
                switch arrays[0].array.dtype {
                case .float64: return .double
                case .float16: return .half
                default: return .float
                }
            }()
            switch chosen {
            case .double: try evaluate(Double.self, arrays, parsedOptions)
            case .float: try evaluate(Float.self, arrays, parsedOptions)
            case .half: try evaluate(Float16.self, arrays, parsedOptions)
            case .bfloat16: try evaluate(BFloat16.self, arrays, parsedOptions)
            }
        }
    }

    func evaluate<T: KernelScalar>(_: T.Type, _ arrays: [(name: String, array: NPYArray)], _ options: [String: OptionValue]) throws {
        guard LossRegistry.functionNames.contains(loss) else {
            throw ToolError.invalidArgument("unknown loss '\(loss)'; choose one of: \(LossRegistry.functionNames.joined(separator: ", "))")
        }
        func values(_ a: NPYArray) throws -> Tensor<T> {
            switch a.values {
            case .float32(let v): return try Tensor(shape: a.shape, scalars: v.map { T($0) })
            case .float64(let v): return try Tensor(shape: a.shape, scalars: v.map { T($0) })
            default: return try Tensor(shape: a.shape, scalars: a.doubles.map { T($0) })
            }
        }
        // Shapes first, named by their input: a header claiming (2^62, 0) is refused before
        // anything is built from it.
        for (name, a) in arrays { _ = try checkedElementCount(a.shape, argument: name) }
        let specs = try LossRegistry.make(loss, options: options, as: T.self).inputSpecs
        let arrays = try namedForLoss(arrays, specs)
        try checkKinds(arrays, specs)
        var constants: [String: Tensor<T>] = [:]
        for (name, a) in arrays where LossRegistry.constantInputNames.contains(name) {
            constants[name] = try values(a)
        }
        var function = try LossRegistry.make(loss, options: options, constants: constants, as: T.self)
        // Integer arrays are indices where the loss takes indices (or either: class
        // targets), and are promoted to floating point where it takes values, as in PyTorch.
        var inputs = LossInputs<T>()
        for (name, a) in arrays where !LossRegistry.constantInputNames.contains(name) {
            let kind = function.inputSpecs.first { $0.name == name }?.kind
            if let ints = a.integers, kind != .values {
                inputs[name] = .indices(try Tensor(shape: a.shape, scalars: ints))
            } else {
                inputs[name] = .values(try values(a))
            }
        }
        if var ce = function as? CrossEntropyLoss<T> {
            ce.threads = threads
            function = ce
        } else if var axis = function as? AxisFunction<T> {
            axis.threads = threads
            function = axis
        }
        let expected = function.inputSpecs.map(\.name)
        for name in inputs.names where !expected.contains(name) {
            throw ToolError.invalidArgument(
                "\(loss) takes no input named \(name); its inputs are \(expected.joined(separator: ", "))"
                    + " and constants \(LossRegistry.constantInputNames.sorted().joined(separator: ", "))")
        }
        for spec in function.inputSpecs where inputs[spec.name] == nil && !spec.isOptional {
            throw ToolError.invalidArgument(
                "\(loss) needs its input \(spec.name) (\(spec.kind == .indices ? "integer indices" : "values")): pass "
                    + flag(for: spec.name, specs) + (flag(for: spec.name, specs).hasPrefix("--tensor") ? "=FILE.npy" : " FILE.npy"))
        }
        let first = specs[0].name
        let value = try function.forward(inputs)
        // The gradient too before anything is written: either every output is written or none.
        var gradient: Tensor<T>? = nil
        if gradOut != nil {
            guard function.differentiableInputs.contains(first) else {
                throw ToolError.invalidArgument("\(loss) has no gradient with respect to its input \(first); drop --grad-out")
            }
            let ones = try Tensor<T>(shape: value.shape, scalars: Array(repeating: 1, count: value.count))
            guard let g = try function.backward(inputs, upstream: ones)[first] else {
                throw ToolError.invalidArgument("\(loss) returned no gradient for its input \(first)")
            }
            gradient = g
        }
        let digits = T.self == Double.self ? 17 : 9
        func format(_ v: T) -> String { String(format: "%.\(digits)g", Double(v)) }
        if value.rank == 0 {
            print("\(loss): \(format(value[flat: 0]))")
        } else {
            let shown = value.scalars.prefix(20).map(format).joined(separator: " ")
            print("\(loss) (shape \(describeShape(value.shape))): \(shown)\(value.count > 20 ? " ..." : "")")
        }
        var outputs: [(path: String, tensor: Tensor<T>)] = []
        if let lossOut { outputs.append((lossOut, value)) }
        if let gradOut, let gradient { outputs.append((gradOut, gradient)) }
        try writeAll(outputs)
        if let lossOut { print("wrote \(lossOut)") }
        if let gradOut, let gradient {
            print("wrote \(gradOut) (gradient of the \(value.rank == 0 ? "loss" : "sum of the losses") with respect to \(first), shape \(describeShape(gradient.shape)))")
        }
    }

    /// The arrays under the loss's own names: `--input` is its first input, `--target` its
    /// `target` (or `targets`); `--tensor` and `--weight` arrays keep the names given.
    func namedForLoss(_ arrays: [(name: String, array: NPYArray)], _ specs: [InputSpec]) throws -> [(name: String, array: NPYArray)] {
        let names = specs.map(\.name)
        let targetName = names.contains("target") ? "target" : names.contains("targets") ? "targets" : nil
        var out: [(name: String, array: NPYArray)] = []
        for (k, item) in arrays.enumerated() {
            var name = item.name
            // The first two entries are --input and, when given, --target (see run()).
            if k == 0 { name = names[0] }
            if k == 1 && target != nil {
                guard let targetName else {
                    throw ToolError.invalidArgument(
                        "\(loss) takes no target; its inputs are \(names.joined(separator: ", ")): pass them with --tensor NAME=FILE.npy")
                }
                name = targetName
            }
            guard !out.contains(where: { $0.name == name }) else {
                throw ToolError.invalidArgument("the input \(name) is given twice (--input is \(names[0]) for \(loss))")
            }
            out.append((name, item.array))
        }
        return out
    }

    /// An integer array as the loss's first input (the predictions, whose gradient `eval`
    /// writes) is an argument error that says so, before the loss sees it; integer arrays
    /// for its other inputs are promoted where it takes values, as PyTorch promotes them.
    func checkKinds(_ arrays: [(name: String, array: NPYArray)], _ specs: [InputSpec]) throws {
        for (name, a) in arrays where a.dtype.isInteger {
            guard let spec = specs.first, spec.name == name, spec.kind == .values else { continue }
            throw ToolError.invalidArgument(
                "the array of \(flag(for: name, specs)) holds \(a.dtype.name) integers, but \(loss) takes floating-point values for \(name);"
                    + " save it as float32 or float64 (numpy.asarray(a, dtype=numpy.float32))")
        }
    }

    /// The command-line flag that passes the loss's input `name`.
    func flag(for name: String, _ specs: [InputSpec]) -> String {
        if name == specs.first?.name { return "--input" }
        if name == "target" || name == "targets" { return "--target" }
        if name == "weight" { return "--weight" }
        return "--tensor \(name)"
    }

    /// Writes every output or none: each goes to a temporary file beside its path first, and
    /// the temporaries are renamed into place only when all of them were written.
    func writeAll<T: KernelScalar>(_ outputs: [(path: String, tensor: Tensor<T>)]) throws {
        var written: [(temporary: String, path: String)] = []
        func discard() { for w in written { try? FileManager.default.removeItem(atPath: w.temporary) } }
        for (path, t) in outputs {
            // float64 for Double, float16 for Float16; Float and BFloat16 (which NumPy lacks) as float32.
            let values: NPYArray.Values
            if T.self == Double.self {
                values = .float64(t.scalars.map { Double($0) })
            } else if T.self == Float16.self {
                values = .float16(t.scalars.map { Float16($0) })
            } else {
                values = .float32(t.scalars.map { Float($0) })
            }
            let url = URL(fileURLWithPath: path)
            let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp").path
            do {
                try NPYArray(shape: t.shape, values: values).write(to: temporary)
            } catch {
                discard()
                throw ToolError.unreadable("\(path): \(errorReason(error)); choose another path (nothing was written)")
            }
            written.append((temporary, path))
        }
        // A directory in the way is the one way a rename fails after its temporary was written.
        for w in written {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: w.path, isDirectory: &isDirectory), isDirectory.boolValue {
                discard()
                throw ToolError.unreadable("\(w.path): is a directory; choose another path (nothing was written)")
            }
        }
        for w in written {
            if rename(w.temporary, w.path) != 0 {
                let reason = String(cString: strerror(errno))
                discard()
                throw ToolError.unreadable("\(w.path): cannot be written (\(reason)); choose another path (nothing was written)")
            }
        }
    }

    func errorReason(_ error: Error) -> String {
        if case NPYError.io(_, let reason) = error { return reason }
        return "\(error)"
    }
}
