#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Ranks simulated by threads of one process: ``run(ranks:timeout:_:)`` starts one
/// thread per rank, each with its own communicator, and the collectives exchange
/// values through shared memory. For tests of multi-rank code inside one process
/// (no MPI needed), and for trying out a distributed program on one machine.
///
/// Deterministic: a reduction combines the ranks' values in rank order
/// (`((v0 ∘ v1) ∘ v2) ∘ ...`), so a run gives the same bits every time.
///
/// Stricter than MPI, to catch mistakes: every rank must call the same collective
/// with the same element type, operation, count and root; otherwise every rank
/// throws ``DistributedError/communication(_:)``. A rank that returns (or throws)
/// while others wait in a collective, or a collective that waits longer than the
/// timeout, makes the waiting ranks throw instead of hanging.
public final class ThreadCommunicator: Communicator {
    /// This thread's rank in its group.
    public let rank: Int
    /// The number of threads (ranks) of the group.
    public var size: Int { group.size }
    let group: ThreadGroup

    init(rank: Int, group: ThreadGroup) {
        self.rank = rank
        self.group = group
    }

    /// Runs `body` on `ranks` threads, one communicator each, and returns each
    /// rank's outcome in rank order once all have finished.
    /// - Parameter timeout: seconds a rank waits in one collective before it throws.
    public static func run<R: Sendable>(
        ranks: Int, timeout: Double = 60, _ body: @escaping @Sendable (ThreadCommunicator) throws -> R
    ) -> [Result<R, Error>] {
        precondition(ranks >= 1, "a group needs at least one rank")
        let group = ThreadGroup(size: ranks, timeout: timeout)
        let results = ResultSlots<R>(count: ranks)
        var threads: [pthread_t] = []
        for r in 0..<ranks {
            let task = ThreadTask {
                let outcome: Result<R, Error>
                do { outcome = .success(try body(ThreadCommunicator(rank: r, group: group))) } catch { outcome = .failure(error) }
                results.set(r, outcome)
                group.depart()
            }
            threads.append(task.start())
        }
        for t in threads { pthread_join(t, nil) }
        return results.values
    }

    /// Combines the ranks' values in rank order (`((v0 ∘ v1) ∘ v2) ∘ ...`), the same bits on every rank.
    public func allReduce<T: CommunicatorScalar>(_ values: UnsafeMutableBufferPointer<T>, _ operation: CollectiveOperation) throws {
        let all = try group.exchange(
            rank, Contribution(kind: "allReduce", type: T.communicatorType, operation: operation.rawValue, count: values.count,
                               bytes: Array(UnsafeRawBufferPointer(UnsafeBufferPointer(values)))))
        for i in values.indices {
            var v = all[0].element(i, as: T.self)
            for r in 1..<all.count {
                let w = all[r].element(i, as: T.self)
                switch operation {
                case .sum: v = v.adding(w)
                case .max: v = w > v ? w : v
                case .min: v = w < v ? w : v
                }
            }
            values[i] = v
        }
    }

    /// Concatenates the ranks' values in rank order.
    public func allGather<T: CommunicatorScalar>(
        _ local: UnsafeBufferPointer<T>, counts: [Int], into result: UnsafeMutableBufferPointer<T>
    ) throws {
        let all = try group.exchange(rank, try gatherContribution("allGather", local, counts: counts, root: -1, result: result.count))
        try concatenate(all, counts: counts, into: result)
    }

    /// Concatenates the ranks' values in rank order on `root`.
    public func gather<T: CommunicatorScalar>(
        _ local: UnsafeBufferPointer<T>, counts: [Int], root: Int, into result: UnsafeMutableBufferPointer<T>?
    ) throws {
        try checkRoot(root)
        let expected = rank == root ? result?.count ?? -1 : nil
        let all = try group.exchange(rank, try gatherContribution("gather", local, counts: counts, root: root, result: expected))
        if rank == root, let result { try concatenate(all, counts: counts, into: result) }
    }

    /// Copies `root`'s values to every rank.
    public func broadcast<T: CommunicatorScalar>(_ values: UnsafeMutableBufferPointer<T>, root: Int) throws {
        try checkRoot(root)
        let all = try group.exchange(
            rank, Contribution(kind: "broadcast", type: T.communicatorType, root: root, count: values.count,
                               bytes: rank == root ? Array(UnsafeRawBufferPointer(UnsafeBufferPointer(values))) : []))
        for i in values.indices { values[i] = all[root].element(i, as: T.self) }
    }

    /// Returns when every rank of the group has called it.
    public func barrier() throws {
        _ = try group.exchange(rank, Contribution(kind: "barrier", type: .byte, count: 0, bytes: []))
    }

    private func checkRoot(_ root: Int) throws {
        guard (0..<size).contains(root) else {
            throw DistributedError.communication("root \(root) is not a rank of a group of \(size)")
        }
    }

    private func gatherContribution<T: CommunicatorScalar>(
        _ kind: String, _ local: UnsafeBufferPointer<T>, counts: [Int], root: Int, result: Int?
    ) throws -> Contribution {
        try checkGatherCounts(counts, local: local.count, result: result)
        return Contribution(
            kind: kind, type: T.communicatorType, root: root, count: -1, counts: counts,
            bytes: Array(UnsafeRawBufferPointer(local)))
    }

    private func concatenate<T: CommunicatorScalar>(
        _ all: [Contribution], counts: [Int], into result: UnsafeMutableBufferPointer<T>
    ) throws {
        var offset = 0
        for (r, c) in all.enumerated() {
            for i in 0..<counts[r] { result[offset + i] = c.element(i, as: T.self) }
            offset += counts[r]
        }
    }
}

/// One rank's part of a collective: what it called and its bytes.
struct Contribution: Sendable {
    var kind: String
    var type: CommunicatorScalarType
    var operation: Int32 = -1
    var root: Int = -1
    /// The element count (-1 where counts per rank apply).
    var count: Int
    var counts: [Int] = []
    var bytes: [UInt8]

    /// What every rank must agree on.
    var signature: String { "\(kind) of \(type) (operation \(operation), root \(root), count \(count), counts \(counts))" }

    func element<T: CommunicatorScalar>(_ i: Int, as _: T.Type) -> T {
        bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.stride, as: T.self) }
    }
}

/// The shared state of a ``ThreadCommunicator`` group: one round of contributions
/// at a time, completed when every rank has contributed.
final class ThreadGroup: @unchecked Sendable {
    let size: Int
    let timeout: Double
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    // Guarded by mutex:
    private var pending: [Contribution?]
    private var arrived = 0
    private var round = 0
    private var completed: [Contribution] = []
    private var departed = 0
    private var failure: String? = nil

    init(size: Int, timeout: Double) {
        self.size = size
        self.timeout = timeout
        pending = Array(repeating: nil, count: size)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        pthread_cond_destroy(condition)
        mutex.deallocate()
        condition.deallocate()
    }

    /// A rank's thread has finished: no further contributions will come from it.
    func depart() {
        pthread_mutex_lock(mutex)
        departed += 1
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    /// Contributes `mine` as `rank` and returns every rank's contribution of the same round.
    func exchange(_ rank: Int, _ mine: Contribution) throws -> [Contribution] {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if let failure { throw DistributedError.communication(failure) }
        pending[rank] = mine
        arrived += 1
        let myRound = round
        if arrived == size {
            completed = pending.map { $0! }
            pending = Array(repeating: nil, count: size)
            arrived = 0
            round += 1
            pthread_cond_broadcast(condition)
        } else {
            let deadline = Self.deadline(after: timeout)
            while round == myRound {
                if let failure { throw DistributedError.communication(failure) }
                if departed > 0 {
                    fail("a rank returned while rank \(rank) waits in \(mine.kind)")
                    throw DistributedError.communication(failure!)
                }
                var until = deadline
                if pthread_cond_timedwait(condition, mutex, &until) == ETIMEDOUT, round == myRound {
                    fail("rank \(rank) waited more than \(timeout) s in \(mine.kind)")
                    throw DistributedError.communication(failure!)
                }
            }
        }
        let all = completed
        let signatures = all.map(\.signature)
        if Set(signatures).count > 1 {
            let detail = signatures.enumerated().map { "rank \($0.offset): \($0.element)" }.joined(separator: "; ")
            throw DistributedError.communication("the ranks called different collectives: \(detail)")
        }
        return all
    }

    /// Marks the group failed (caller holds the mutex) and wakes every waiting rank.
    private func fail(_ message: String) {
        if failure == nil { failure = message }
        pthread_cond_broadcast(condition)
    }

    private static func deadline(after seconds: Double) -> timespec {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let whole = Int(seconds), fraction = Int((seconds - Double(whole)) * 1e9)
        var ns = now.tv_nsec + fraction
        var s = now.tv_sec + whole
        if ns >= 1_000_000_000 {
            ns -= 1_000_000_000
            s += 1
        }
        return timespec(tv_sec: s, tv_nsec: ns)
    }
}

/// Results written by the rank threads.
final class ResultSlots<R>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var slots: [Result<R, Error>?]

    init(count: Int) {
        slots = Array(repeating: nil, count: count)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func set(_ i: Int, _ value: Result<R, Error>) {
        pthread_mutex_lock(mutex)
        slots[i] = value
        pthread_mutex_unlock(mutex)
    }

    var values: [Result<R, Error>] {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return slots.map { $0! }
    }
}

/// A closure run on a new POSIX thread.
final class ThreadTask: @unchecked Sendable {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }

    func start() -> pthread_t {
        let context = Unmanaged.passRetained(self).toOpaque()
        #if canImport(Glibc)
        var thread = pthread_t()
        #else
        var thread: pthread_t? = nil
        #endif
        let rc = pthread_create(&thread, nil, { context in
            let task = Unmanaged<ThreadTask>.fromOpaque(context!).takeRetainedValue()
            task.body()
            return nil
        }, context)
        precondition(rc == 0, "pthread_create failed (\(rc))")
        #if canImport(Glibc)
        return thread
        #else
        return thread!
        #endif
    }
}
