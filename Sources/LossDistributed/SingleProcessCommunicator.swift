/// The communicator of one process alone: rank 0 of 1. Every collective returns
/// the rank's own values (a reduction leaves them unchanged, a gather copies them),
/// so the distributed losses run the same code without MPI, and with one rank they
/// give exactly what the single-process losses give.
public final class SingleProcessCommunicator: Communicator {
    /// The communicator of this process alone.
    public init() {}

    /// Always 0.
    public var rank: Int { 0 }
    /// Always 1.
    public var size: Int { 1 }

    /// Leaves `values` as they are (the reduction of one rank's values).
    public func allReduce<T: CommunicatorScalar>(_ values: UnsafeMutableBufferPointer<T>, _ operation: CollectiveOperation) throws {}

    /// Copies `local` into `result` (`counts` must be `[local.count]`).
    public func allGather<T: CommunicatorScalar>(
        _ local: UnsafeBufferPointer<T>, counts: [Int], into result: UnsafeMutableBufferPointer<T>
    ) throws {
        try checkGatherCounts(counts, local: local.count, result: result.count)
        if !local.isEmpty { _ = result.initialize(from: local) }
    }

    /// Copies `local` into `result` (root 0 only).
    public func gather<T: CommunicatorScalar>(
        _ local: UnsafeBufferPointer<T>, counts: [Int], root: Int, into result: UnsafeMutableBufferPointer<T>?
    ) throws {
        guard root == 0 else { throw DistributedError.communication("root \(root) is not a rank of a group of 1") }
        try checkGatherCounts(counts, local: local.count, result: result?.count ?? 0)
        if let result, !local.isEmpty { _ = result.initialize(from: local) }
    }

    /// Leaves `values` as they are (root 0 only).
    public func broadcast<T: CommunicatorScalar>(_ values: UnsafeMutableBufferPointer<T>, root: Int) throws {
        guard root == 0 else { throw DistributedError.communication("root \(root) is not a rank of a group of 1") }
    }

    /// Returns at once.
    public func barrier() throws {}
}
