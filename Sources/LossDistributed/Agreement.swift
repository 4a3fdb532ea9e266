import Loss

/// What every rank must hold the same of (or of which it holds its own part): a
/// fixed number of integers per rank, exchanged with one all-gather.
struct RankSignatures {
    /// `rows[r]` is rank r's signature.
    let rows: [[Int]]

    /// Field `i` of every rank.
    func field(_ i: Int) -> [Int] { rows.map { $0[i] } }

    /// Throws ``DistributedError/inconsistentAcrossRanks(what:detail:)`` unless field `i` is the same on every rank.
    func requireEqual(_ i: Int, _ what: String, describe: (Int) -> String = { String($0) }) throws {
        let values = field(i)
        guard Set(values).count <= 1 else {
            let detail = values.enumerated().map { "rank \($0.offset): \(describe($0.element))" }.joined(separator: ", ")
            throw DistributedError.inconsistentAcrossRanks(what: what, detail: detail)
        }
    }
}

extension Communicator {
    /// Runs `body` (this rank's validation, returning its signature of `length`
    /// integers), then exchanges every rank's signature and status with one
    /// all-gather. If `body` threw on any rank, every rank throws as
    /// ``agreeing(_:)`` does (the message of the lowest failing rank is broadcast).
    func exchangeSignatures(length: Int, _ body: () throws -> [Int]) throws -> RankSignatures {
        var localError: Error? = nil
        var signature = [Int](repeating: 0, count: length)
        do {
            let s = try body()
            precondition(s.count == length, "a signature of \(s.count) integers, expected \(length)")
            signature = s
        } catch {
            localError = error
        }
        let flat = try allGather([localError == nil ? 0 : 1] + signature, counts: Array(repeating: length + 1, count: size))
        let rows = (0..<size).map { Array(flat[($0 * (length + 1))..<(($0 + 1) * (length + 1))]) }
        if let failing = rows.firstIndex(where: { $0[0] != 0 }) {
            try throwAgreedFailure(failing: failing, localError: localError)
        }
        return RankSignatures(rows: rows.map { Array($0.dropFirst()) })
    }

    /// Broadcasts the failing rank's message and throws on every rank.
    func throwAgreedFailure(failing: Int, localError: Error?) throws -> Never {
        let text = rank == failing ? String(describing: localError!) : ""
        let length = try broadcast([text.utf8.count], root: failing)[0]
        let bytes = try broadcast(rank == failing ? Array(text.utf8) : [UInt8](repeating: 0, count: length), root: failing)
        if let localError { throw localError }
        throw DistributedError.failedOnRank(rank: failing, message: String(decoding: bytes, as: UTF8.self))
    }
}

/// FNV-1a over 64-bit words: a checksum to compare replicated values (targets,
/// options) across ranks with a few integers of communication.
struct Checksum {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(_ word: UInt64) {
        var w = word
        for _ in 0..<8 {
            value ^= w & 0xff
            value = value &* 0x100_0000_01b3
            w >>= 8
        }
    }

    mutating func add(_ i: Int) { add(UInt64(bitPattern: Int64(i))) }
    mutating func add<T: KernelScalar>(scalar v: T) { add(Double(v).bitPattern) }
    mutating func add(_ s: String) {
        add(s.utf8.count)
        for b in s.utf8 { add(UInt64(b)) }
    }

    /// The bytes of a buffer, eight at a time (then the rest).
    mutating func add(bytes: UnsafeRawBufferPointer) {
        add(bytes.count)
        var i = 0
        while i + 8 <= bytes.count {
            add(bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            i += 8
        }
        while i < bytes.count {
            add(UInt64(bytes[i]))
            i += 1
        }
    }

    mutating func add(indices t: UnsafeBufferPointer<Int>) {
        add(t.count)
        for i in t { add(i) }
    }

    var int: Int { Int(bitPattern: UInt(value)) }
}

/// A balanced contiguous split of `count` items (rows, classes) over `parts`:
/// part `p` gets `count / parts` items, one more for the first `count % parts`
/// parts, in order. The split the `losskit` tool uses for `--data-parallel` rows and
/// `--vocab-parallel` classes; the distributed losses accept any contiguous split.
public enum BalancedSplit {
    /// The items of part `part` (in `0..<parts`).
    public static func range(part: Int, of parts: Int, count: Int) -> Range<Int> {
        precondition(parts >= 1 && (0..<parts).contains(part) && count >= 0)
        let base = count / parts, extra = count % parts
        let start = part * base + Swift.min(part, extra)
        return start..<(start + base + (part < extra ? 1 : 0))
    }
}
