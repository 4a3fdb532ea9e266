import Loss
import LossDistributed

/// Runs `body` on `ranks` simulated ranks (threads) and returns their results in
/// rank order, or throws the first rank's error.
func onRanks<R: Sendable>(_ ranks: Int, _ body: @escaping @Sendable (ThreadCommunicator) throws -> R) throws -> [R] {
    try ThreadCommunicator.run(ranks: ranks, timeout: 30, body).map { try $0.get() }
}

/// Every rank's error description (nil for a rank that succeeded).
func errorsOnRanks(_ ranks: Int, _ body: @escaping @Sendable (ThreadCommunicator) throws -> Void) -> [String?] {
    ThreadCommunicator.run(ranks: ranks, timeout: 30, body).map { result in
        if case .failure(let e) = result { return String(describing: e) }
        return nil
    }
}

/// Columns `range` of a row-major (rows, columns) tensor.
func columns<T>(_ t: Tensor<T>, _ range: Range<Int>) throws -> Tensor<T> {
    let rows = t.shape[0], n = t.shape[1]
    var out: [T] = []
    out.reserveCapacity(rows * range.count)
    for r in 0..<rows { for c in range { out.append(t[flat: r * n + c]) } }
    return try Tensor(shape: [rows, range.count], scalars: out)
}

/// Elements `range` of a 1-d tensor.
func elements<T>(_ t: Tensor<T>, _ range: Range<Int>) -> Tensor<T> {
    Tensor(Array(t.scalars[range]))
}

/// Leading-axis rows `range` of a tensor.
func rows<T>(_ t: Tensor<T>, _ range: Range<Int>) throws -> Tensor<T> {
    let per = t.shape.dropFirst().reduce(1, *)
    return try Tensor(shape: [range.count] + t.shape.dropFirst(), scalars: Array(t.scalars[(range.lowerBound * per)..<(range.upperBound * per)]))
}

/// Exactly the same bits (NaN payloads and signed zeros included).
func bitwiseEqual<T: BinaryFloatingPoint>(_ a: [T], _ b: [T]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { x, y in
        x.sign == y.sign && x.exponentBitPattern == y.exponentBitPattern && x.significandBitPattern == y.significandBitPattern
    }
}

/// The largest |a - b| over the largest |b|.
func relativeToLargest(_ a: [Double], _ b: [Double]) -> Double {
    let scale = b.map(abs).max() ?? 0
    let diff = zip(a, b).map { abs($0 - $1) }.max() ?? 0
    return scale == 0 ? diff : diff / scale
}
