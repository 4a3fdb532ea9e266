import CLossMPI

/// Open MPI's `MPI_COMM_WORLD`: the processes `mpirun -np P` started.
///
/// Every MPI call LossKit makes goes through this type and the C shim behind it
/// (`Sources/CLossMPI/lk_mpi.c`). MPI is initialized by ``shared()`` (once per
/// process, `MPI_Init`) and finalized when the process exits. Errors are returned
/// by MPI rather than fatal, and thrown as ``DistributedError/communication(_:)``;
/// a rank that dies makes `mpirun` end the others.
///
/// A floating-point `sum` is reduced onto rank 0 and broadcast from it, so every
/// rank holds the same bits (`MPI_Allreduce` does not promise that); `max`, `min`
/// and integer sums use `MPI_Allreduce`.
public final class MPICommunicator: Communicator {
    /// This process's rank in `MPI_COMM_WORLD`.
    public let rank: Int
    /// The number of processes `mpirun` started.
    public let size: Int

    private init(rank: Int, size: Int) {
        self.rank = rank
        self.size = size
    }

    nonisolated(unsafe) private static var world: MPICommunicator?

    /// Whether this process was started by an MPI launcher (`mpirun`, `mpiexec`):
    /// Open MPI's or PMIx's environment variables are set.
    public static var isLaunchedByMPI: Bool { lkmpi_launched() != 0 }

    /// `MPI_COMM_WORLD`, initializing MPI on first use. Call it from one thread.
    /// - Throws: ``DistributedError/communication(_:)`` when MPI cannot start.
    public static func shared() throws -> MPICommunicator {
        if let world { return world }
        try check(lkmpi_init(), "MPI_Init")
        var rank: Int32 = 0, size: Int32 = 0
        try check(lkmpi_rank(&rank), "MPI_Comm_rank")
        try check(lkmpi_size(&size), "MPI_Comm_size")
        let communicator = MPICommunicator(rank: Int(rank), size: Int(size))
        world = communicator
        return communicator
    }

    /// The communicator a program should use: ``shared()`` under an MPI launcher,
    /// otherwise a ``SingleProcessCommunicator`` (MPI is not initialized at all).
    public static func worldOrSingleProcess() throws -> any Communicator {
        isLaunchedByMPI ? try shared() : SingleProcessCommunicator()
    }

    /// Ends every rank of the job with `code` (`MPI_Abort`): for a failure that the
    /// ranks cannot agree on, such as a crash of the program's own logic.
    public func abort(code: Int32) -> Never {
        lkmpi_abort(code)
        fatalError("MPI_Abort returned")
    }

    private static func check(_ code: Int32, _ call: String) throws {
        guard code != 0 else { return }
        var text = [CChar](repeating: 0, count: 512)
        lkmpi_error_string(code, &text, Int32(text.count))
        let message = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw DistributedError.communication("\(call): \(message) (MPI error \(code))")
    }

    private func checkRoot(_ root: Int) throws {
        guard (0..<size).contains(root) else {
            throw DistributedError.communication("root \(root) is not a rank of a group of \(size)")
        }
    }

    /// `MPI_Allreduce` in place; a floating-point sum is `MPI_Reduce` onto rank 0 then `MPI_Bcast`.
    public func allReduce<T: CommunicatorScalar>(_ values: UnsafeMutableBufferPointer<T>, _ operation: CollectiveOperation) throws {
        let type = T.communicatorType
        let pointer = UnsafeMutableRawPointer(values.baseAddress)
        if operation == .sum && (type == .float || type == .double) {
            try Self.check(lkmpi_reduce_broadcast(pointer, values.count, type.rawValue, operation.rawValue), "MPI_Reduce")
        } else {
            try Self.check(lkmpi_allreduce(pointer, values.count, type.rawValue, operation.rawValue), "MPI_Allreduce")
        }
    }

    /// Counts and displacements as MPI's ints.
    private func layout(_ counts: [Int]) throws -> (counts: [Int32], displacements: [Int32]) {
        var displacements: [Int32] = [], offset = 0
        for c in counts {
            guard offset <= Int(Int32.max), c <= Int(Int32.max) else {
                throw DistributedError.communication("a gather of more than \(Int32.max) elements")
            }
            displacements.append(Int32(offset))
            offset += c
        }
        guard offset <= Int(Int32.max) else {
            throw DistributedError.communication("a gather of more than \(Int32.max) elements")
        }
        return (counts.map { Int32($0) }, displacements)
    }

    /// `MPI_Allgatherv`.
    public func allGather<T: CommunicatorScalar>(
        _ local: UnsafeBufferPointer<T>, counts: [Int], into result: UnsafeMutableBufferPointer<T>
    ) throws {
        try checkGatherCounts(counts, local: local.count, result: result.count)
        let (c, d) = try layout(counts)
        try Self.check(
            lkmpi_allgatherv(
                UnsafeRawPointer(local.baseAddress), local.count, UnsafeMutableRawPointer(result.baseAddress), c, d,
                T.communicatorType.rawValue), "MPI_Allgatherv")
    }

    /// `MPI_Gatherv`.
    public func gather<T: CommunicatorScalar>(
        _ local: UnsafeBufferPointer<T>, counts: [Int], root: Int, into result: UnsafeMutableBufferPointer<T>?
    ) throws {
        try checkRoot(root)
        try checkGatherCounts(counts, local: local.count, result: rank == root ? result?.count ?? -1 : nil)
        let (c, d) = try layout(counts)
        try Self.check(
            lkmpi_gatherv(
                UnsafeRawPointer(local.baseAddress), local.count, UnsafeMutableRawPointer(result?.baseAddress), c, d,
                T.communicatorType.rawValue, Int32(root)), "MPI_Gatherv")
    }

    /// `MPI_Bcast`.
    public func broadcast<T: CommunicatorScalar>(_ values: UnsafeMutableBufferPointer<T>, root: Int) throws {
        try checkRoot(root)
        try Self.check(
            lkmpi_broadcast(UnsafeMutableRawPointer(values.baseAddress), values.count, T.communicatorType.rawValue, Int32(root)),
            "MPI_Bcast")
    }

    /// `MPI_Barrier`.
    public func barrier() throws {
        try Self.check(lkmpi_barrier(), "MPI_Barrier")
    }
}
