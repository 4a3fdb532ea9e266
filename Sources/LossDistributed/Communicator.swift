import Loss

/// The element types a ``Communicator`` moves: `Float`, `Double`, `Int` (64-bit) and `UInt8`.
public protocol CommunicatorScalar: Sendable, Comparable {
    /// How the element travels (MPI's datatype).
    static var communicatorType: CommunicatorScalarType { get }
    /// `self + other`, as a sum reduction adds (IEEE addition for the floating types).
    func adding(_ other: Self) -> Self
}

/// The datatype of a collective's elements.
public enum CommunicatorScalarType: Int32, Sendable, Equatable {
    /// 32-bit IEEE floating point.
    case float = 0
    /// 64-bit IEEE floating point.
    case double = 1
    /// 64-bit signed integer.
    case int = 2
    /// Unsigned byte.
    case byte = 3
}

extension Float: CommunicatorScalar {
    /// `MPI_FLOAT`.
    public static var communicatorType: CommunicatorScalarType { .float }
    /// IEEE single-precision addition.
    public func adding(_ other: Float) -> Float { self + other }
}

extension Double: CommunicatorScalar {
    /// `MPI_DOUBLE`.
    public static var communicatorType: CommunicatorScalarType { .double }
    /// IEEE double-precision addition.
    public func adding(_ other: Double) -> Double { self + other }
}

extension Int: CommunicatorScalar {
    /// `MPI_INT64_T`.
    public static var communicatorType: CommunicatorScalarType { .int }
    /// Wrapping addition (as MPI's integer sum).
    public func adding(_ other: Int) -> Int { self &+ other }
}

extension UInt8: CommunicatorScalar {
    /// `MPI_UNSIGNED_CHAR`.
    public static var communicatorType: CommunicatorScalarType { .byte }
    /// Wrapping addition (as MPI's integer sum).
    public func adding(_ other: UInt8) -> UInt8 { self &+ other }
}

/// The scalar types of the distributed losses: LossKit's `Float` and `Double`,
/// which kernels compute in and communicators move.
public protocol DistributedScalar: KernelScalar, CommunicatorScalar {}

extension Float: DistributedScalar {}
extension Double: DistributedScalar {}

/// How ``Communicator/allReduce(_:_:)`` combines the ranks' values, element by element.
public enum CollectiveOperation: Int32, Sendable, Equatable {
    /// The sum. For floating-point elements every rank receives the same bits, but
    /// they depend on the number of ranks (and on the implementation's order of
    /// additions): LossKit sums floating-point values this way only where it does not
    /// promise bitwise reproducibility across rank counts.
    case sum = 0
    /// The maximum (exact, so independent of the order).
    case max = 1
    /// The minimum (exact).
    case min = 2
}

/// A group of `size` processes (ranks) that run the same program and exchange
/// values with collective operations: every rank calls the same collectives in
/// the same order with the same counts, and each call returns when the rank's
/// part is done.
///
/// Three implementations: ``SingleProcessCommunicator`` (one rank, every
/// collective a copy; no MPI), ``MPICommunicator`` (Open MPI's `MPI_COMM_WORLD`)
/// and ``ThreadCommunicator`` (ranks simulated by threads of one process, for tests).
///
/// Errors: a collective that cannot complete throws ``DistributedError``. Bad input
/// on one rank must not leave the others waiting in a collective it never calls:
/// the distributed losses agree on every error before they communicate again (see
/// ``Communicator/agreeing(_:)``), so every rank throws.
public protocol Communicator: AnyObject, Sendable {
    /// This process's index in `0..<size`.
    var rank: Int { get }
    /// The number of ranks.
    var size: Int { get }

    /// Combines `values` of every rank element by element with `operation`, in place:
    /// afterwards every rank holds the same result.
    func allReduce<T: CommunicatorScalar>(_ values: UnsafeMutableBufferPointer<T>, _ operation: CollectiveOperation) throws

    /// Concatenates every rank's `local` in rank order into `result` on every rank:
    /// rank `r` contributes `counts[r]` elements (`local.count == counts[rank]`,
    /// `result.count == counts.reduce(0, +)`; `counts` is the same on every rank).
    func allGather<T: CommunicatorScalar>(
        _ local: UnsafeBufferPointer<T>, counts: [Int], into result: UnsafeMutableBufferPointer<T>) throws

    /// As ``allGather(_:counts:into:)``, but only `root` receives (`result` is read
    /// on the root only and may be nil elsewhere).
    func gather<T: CommunicatorScalar>(
        _ local: UnsafeBufferPointer<T>, counts: [Int], root: Int, into result: UnsafeMutableBufferPointer<T>?) throws

    /// Copies `root`'s `values` into every rank's `values` (the same count everywhere).
    func broadcast<T: CommunicatorScalar>(_ values: UnsafeMutableBufferPointer<T>, root: Int) throws

    /// Returns when every rank has called it.
    func barrier() throws
}

/// Errors of the distributed layer. Each is thrown on every rank (the ranks agree
/// on them), so no rank is left waiting in a collective.
public enum DistributedError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Another rank failed with `message` (its own error's description) before or
    /// during the same step; that rank throws its own error.
    case failedOnRank(rank: Int, message: String)
    /// Ranks disagree about something they must share: a shape, an option, the
    /// replicated targets. `detail` lists the values per rank.
    case inconsistentAcrossRanks(what: String, detail: String)
    /// A collective could not complete (MPI's error text, a mismatched or timed-out
    /// collective of the in-process group).
    case communication(String)

    /// A sentence naming what went wrong.
    public var description: String {
        let text: String
        switch self {
        case let .failedOnRank(rank, message): text = "Rank \(rank) failed: \(message)"
        case let .inconsistentAcrossRanks(what, detail): text = "The ranks disagree about \(what): \(detail)"
        case let .communication(message): text = "A collective failed: \(message)"
        }
        // One full stop, whatever punctuation the message brought with it.
        var trimmed = Substring(text)
        while let last = trimmed.last, last == "." || last == " " { trimmed.removeLast() }
        return trimmed + "."
    }
}

extension Communicator {
    /// Validates `counts` for a gather: one non-negative count per rank, this rank's matching `local`.
    func checkGatherCounts(_ counts: [Int], local: Int, result: Int?) throws {
        guard counts.count == size, counts.allSatisfy({ $0 >= 0 }) else {
            throw DistributedError.communication("a gather needs one non-negative count per rank, got \(counts)")
        }
        guard counts[rank] == local else {
            throw DistributedError.communication(
                "rank \(rank) contributes \(local) elements to a gather that expects \(counts[rank])")
        }
        if let result, result != counts.reduce(0, +) {
            throw DistributedError.communication(
                "a gather of \(counts.reduce(0, +)) elements into a buffer of \(result)")
        }
    }

    // MARK: Array conveniences

    /// `values` combined over the ranks (see ``allReduce(_:_:)``).
    public func allReduce<T: CommunicatorScalar>(_ values: [T], _ operation: CollectiveOperation) throws -> [T] {
        var out = values
        try out.withUnsafeMutableBufferPointer { try allReduce($0, operation) }
        return out
    }

    /// One value per rank, in rank order.
    public func allGather<T: CommunicatorScalar>(_ value: T) throws -> [T] {
        try allGather([value], counts: Array(repeating: 1, count: size))
    }

    /// Every rank's `local` concatenated in rank order, with the counts given (the same on every rank).
    public func allGather<T: CommunicatorScalar>(_ local: [T], counts: [Int]) throws -> [T] {
        try checkGatherCounts(counts, local: local.count, result: nil)
        return try gatherIntoNew(local, counts: counts, root: nil)
    }

    /// Every rank's `local` concatenated in rank order, whatever the counts (which are exchanged first).
    public func allGatherVariable<T: CommunicatorScalar>(_ local: [T]) throws -> [T] {
        let counts = try allGather(local.count)
        return try allGather(local, counts: counts)
    }

    /// On `root`, every rank's `local` concatenated in rank order; elsewhere nil.
    public func gather<T: CommunicatorScalar>(_ local: [T], counts: [Int], root: Int) throws -> [T]? {
        try checkGatherCounts(counts, local: local.count, result: nil)
        let all = try gatherIntoNew(local, counts: counts, root: root)
        return rank == root ? all : nil
    }

    /// `root`'s `values` on every rank (each rank passes an array of the same count).
    public func broadcast<T: CommunicatorScalar>(_ values: [T], root: Int) throws -> [T] {
        var out = values
        try out.withUnsafeMutableBufferPointer { try broadcast($0, root: root) }
        return out
    }

    /// A gather (to `root`, or to every rank when nil) into a new array.
    private func gatherIntoNew<T: CommunicatorScalar>(_ local: [T], counts: [Int], root: Int?) throws -> [T] {
        let receives = root == nil || root == rank
        let total = receives ? counts.reduce(0, +) : 0
        guard total > 0 else {
            // Nothing to receive: no array storage is made (an empty array with
            // `unsafeUninitializedCapacity` writes its count into the shared empty storage,
            // which ranks on threads would write at once).
            let out = UnsafeMutableBufferPointer<T>(start: nil, count: 0)
            try local.withUnsafeBufferPointer { l in
                if let root {
                    try gather(l, counts: counts, root: root, into: receives ? out : nil)
                } else {
                    try allGather(l, counts: counts, into: out)
                }
            }
            return []
        }
        return try [T](unsafeUninitializedCapacity: total) { out, initialized in
            try local.withUnsafeBufferPointer { l in
                if let root {
                    try gather(l, counts: counts, root: root, into: receives ? out : nil)
                } else {
                    try allGather(l, counts: counts, into: out)
                }
            }
            initialized = total  // every element was written by the gather
        }
    }

    // MARK: Agreement on errors

    /// Runs `body` on every rank, then agrees on the outcome with one collective:
    /// if `body` threw on any rank, every rank throws (the rank that failed its own
    /// error, the others ``DistributedError/failedOnRank(rank:message:)`` with the
    /// message of the lowest failing rank); otherwise every rank returns its result.
    ///
    /// Call it around each rank's local validation and computation between
    /// collectives, so that bad input on one rank never leaves the others waiting in
    /// a collective it does not reach. Costs one `min` reduction of one integer, and
    /// a broadcast of the message when some rank failed.
    public func agreeing<R>(_ body: () throws -> R) throws -> R {
        let outcome: Result<R, Error>
        do { outcome = .success(try body()) } catch { outcome = .failure(error) }
        var localError: Error? = nil
        if case .failure(let e) = outcome { localError = e }
        try agree(onError: localError)
        return try outcome.get()
    }

    /// The agreement step of ``agreeing(_:)`` for an error already caught (or nil):
    /// throws on every rank when `error` is non-nil on any.
    public func agree(onError error: Error?) throws {
        let failing = try allReduce([error == nil ? size : rank], .min)[0]
        guard failing < size else { return }
        try throwAgreedFailure(failing: failing, localError: error)
    }
}
