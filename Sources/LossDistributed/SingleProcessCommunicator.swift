/// The communicator of one process alone: rank 0 of 1. Every collective returns
/// the rank's own values (a reduction leaves them unchanged, a gather copies them),
/// so the distributed losses run the same code without MPI, and with one rank they
/// give exactly what the single-process losses give.
public final class SingleProcessCommunicator: Communicator {
    public init() {}

    public var rank: Int { 0 }
    public var size: Int { 1 }

    public func allReduce<T: CommunicatorScalar>(_ values: UnsafeMutableBufferPointer<T>, _ operation: CollectiveOperation) throws {}

    public func allGather<T: CommunicatorScalar>(
        _ local: UnsafeBufferPointer<T>, counts: [Int], into result: UnsafeMutableBufferPointer<T>
    ) throws {
        try checkGatherCounts(counts, local: local.count, result: result.count)
        if !local.isEmpty { _ = result.initialize(from: local) }
    }

    public func gather<T: CommunicatorScalar>(
        _ local: UnsafeBufferPointer<T>, counts: [Int], root: Int, into result: UnsafeMutableBufferPointer<T>?
    ) throws {
        guard root == 0 else { throw DistributedError.communication("root \(root) is not a rank of a group of 1") }
        try checkGatherCounts(counts, local: local.count, result: result?.count ?? 0)
        if let result, !local.isEmpty { _ = result.initialize(from: local) }
    }

    public func broadcast<T: CommunicatorScalar>(_ values: UnsafeMutableBufferPointer<T>, root: Int) throws {
        guard root == 0 else { throw DistributedError.communication("root \(root) is not a rank of a group of 1") }
    }

    public func barrier() throws {}
}
