import ArgumentParser
import Foundation
import Loss
import LossDistributed
import NumPyFiles

/// The ranks the tool runs on: `MPI_COMM_WORLD` under `mpirun` (or `mpiexec`),
/// one process otherwise.
enum Ranks {
    /// The communicator of this run (MPI is initialized only under an MPI launcher).
    static func communicator() throws -> any Communicator {
        do {
            return try MPICommunicator.worldOrSingleProcess()
        } catch {
            throw ToolError.invalidArgument("cannot start MPI: \(error)")
        }
    }
}

/// Runs a distributed command's `body` on every rank and turns errors into exit
/// statuses as ``reportingErrors(_:_:)`` does. The ranks agree on errors before
/// they communicate (the distributed losses do, and `body` uses
/// `communicator.agreeing` around its own local steps), so every rank fails
/// together: the rank whose input was bad prints its error (prefixed with its rank
/// when there are several), and rank 0 also prints which rank failed.
func reportingDistributedErrors(_ command: String, _ communicator: any Communicator, _ body: () throws -> Void) throws {
    let prefix = communicator.size > 1 ? "losskit \(command): rank \(communicator.rank): " : "losskit \(command): "
    do {
        try body()
    } catch let error as DistributedError {
        if case .failedOnRank = error, communicator.rank != 0 { throw ExitCode(1) }
        printError(prefix + printable("\(error)"))
        throw ExitCode(1)
    } catch let error as ToolError {
        printError(prefix + printable("\(error)"))
        throw ExitCode(error.exitStatus)
    } catch let error as LossError {
        printError(prefix + printable("\(error)"))
        throw ExitCode(1)
    }
}

/// Reading arrays on every rank.
enum DistributedFiles {
    /// Reads `path`; `{rank}` in it is replaced with this rank's number (a file per rank).
    static func read(_ path: String, rank: Int) throws -> (array: NPYArray, perRank: Bool) {
        let perRank = path.contains("{rank}")
        let resolved = path.replacingOccurrences(of: "{rank}", with: String(rank))
        do {
            return (try NPYArray(contentsOf: resolved), perRank)
        } catch {
            if case .io = error { throw ToolError.unreadable("\(error)") }
            throw ToolError.unreadable("\(resolved): \(error)")
        }
    }

    /// An array's values in `T` (integers too, for the values of a value input).
    static func values<T: KernelScalar>(_ a: NPYArray, as _: T.Type) throws -> Tensor<T> {
        switch a.values {
        case .float32(let v): return try Tensor(shape: a.shape, scalars: v.map { T($0) })
        case .float64(let v): return try Tensor(shape: a.shape, scalars: v.map { T($0) })
        default: return try Tensor(shape: a.shape, scalars: a.doubles.map { T($0) })
        }
    }

    /// Writes a tensor as .npy in its precision.
    static func write<T: KernelScalar>(_ t: Tensor<T>, to path: String) throws {
        let values: NPYArray.Values = T.self == Double.self ? .float64(t.scalars.map { Double($0) }) : .float32(t.scalars.map { Float($0) })
        do {
            try NPYArray(shape: t.shape, values: values).write(to: path)
        } catch {
            throw ToolError.unreadable("\(error); choose another path")
        }
    }
}

extension Tensor {
    /// Rows `range` of axis 0.
    func rows(_ range: Range<Int>) throws -> Tensor {
        let per = shape.dropFirst().reduce(1, *)
        return try Tensor(
            shape: [range.count] + shape.dropFirst(),
            scalars: Array(scalars[(range.lowerBound * per)..<(range.upperBound * per)]))
    }

    /// Columns `range` of axis 1 of a 2-d tensor.
    func columns(_ range: Range<Int>) throws -> Tensor {
        let n = shape[1]
        var out: [Scalar] = []
        out.reserveCapacity(shape[0] * range.count)
        withUnsafeBufferPointer { b in
            for r in 0..<shape[0] { out += b[(r * n + range.lowerBound)..<(r * n + range.upperBound)] }
        }
        return try Tensor(shape: [shape[0], range.count], scalars: out)
    }
}

extension Communicator {
    /// On rank 0, every rank's `local` values concatenated in rank order (as Doubles:
    /// exact for Float and Double); nil elsewhere.
    func gatherToRoot<T: KernelScalar>(_ local: [T]) throws -> [T]? {
        let counts = try allGather(local.count)
        return try gather(local.map { Double($0) }, counts: counts, root: 0)?.map { T($0) }
    }
}
