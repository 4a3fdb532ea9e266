/// How a matrix operand enters a product: as stored, or transposed.
public enum MatrixOperand: Sendable, Equatable {
    /// The row-major matrix as stored.
    case normal
    /// Its transpose.
    case transposed
}

/// `c = alpha · op(a) · op(b) + beta · c` for contiguous row-major matrices, with
/// `op(a)` of shape `(rows, inner)`, `op(b)` of shape `(inner, columns)` and `c` of
/// shape `(rows, columns)`: OpenBLAS's `sgemm`/`dgemm`.
///
/// `a` holds `rows · inner` elements (stored `(rows, inner)`, or `(inner, rows)`
/// when `opA` is `.transposed`), `b` holds `inner · columns`. With `beta = 0`, `c` is
/// written without being read.
/// - Throws: ``LossError/shapeMismatch(argument:expected:actual:)`` when a buffer
///   does not hold exactly its matrix, or a size is negative or too large for
///   OpenBLAS's 32-bit sizes; ``LossError/unsupportedScalar(_:)`` for a scalar type
///   other than `Float` and `Double`.
public func matrixMultiply<T: KernelScalar>(
    _ a: UnsafeBufferPointer<T>, _ b: UnsafeBufferPointer<T>, rows: Int, columns: Int, inner: Int,
    opA: MatrixOperand = .normal, opB: MatrixOperand = .normal, alpha: T = 1, beta: T = 0,
    into c: UnsafeMutableBufferPointer<T>
) throws {
    if isSixteenBit(T.self) {
        var cf = floatOutput(c)
        if beta != 0 { cf = floatCopy(UnsafeBufferPointer(c)) }
        try floatCopy(a).withUnsafeBufferPointer { af in
            try floatCopy(b).withUnsafeBufferPointer { bf in
                try withFloatMutableBuffer(&cf) {
                    try matrixMultiply(
                        af, bf, rows: rows, columns: columns, inner: inner, opA: opA, opB: opB, alpha: Float(alpha),
                        beta: Float(beta), into: $0!)
                }
            }
        }
        return storeRounded(cf, c)
    }
    _ = try requireCKernels(T.self)
    for (name, size) in [("rows", rows), ("columns", columns), ("inner", inner)] {
        guard size >= 0, size <= Int(Int32.max) else {
            throw LossError.shapeMismatch(
                argument: name, expected: "a size in [0, \(Int32.max)] (OpenBLAS's 32-bit sizes)", actual: String(size))
        }
    }
    func count(_ p: Int, _ q: Int, _ name: String) throws -> Int {
        let (n, overflow) = p.multipliedReportingOverflow(by: q)
        guard !overflow else {
            throw LossError.shapeMismatch(argument: name, expected: "a matrix whose size fits an Int", actual: "\(p) x \(q)")
        }
        return n
    }
    let (ca, cb, cc) = (try count(rows, inner, "a"), try count(inner, columns, "b"), try count(rows, columns, "c"))
    for (name, have, want) in [("a", a.count, ca), ("b", b.count, cb), ("c", c.count, cc)] where have != want {
        throw LossError.shapeMismatch(
            argument: name, expected: "\(want) elements for rows \(rows), columns \(columns), inner \(inner)",
            actual: "\(have) elements")
    }
    guard rows > 0, columns > 0 else { return }
    BLAS.gemm(
        transposeA: opA == .transposed, transposeB: opB == .transposed, m: rows, n: columns, k: inner, alpha: alpha,
        a: base(a), lda: opA == .transposed ? rows : inner, b: base(b), ldb: opB == .transposed ? inner : columns,
        beta: beta, c: base(c), ldc: columns)
}

/// The least-squares solution of `a · x ≈ b` for a row-major `(rows, columns)`
/// matrix `a` of full column rank with `rows ≥ columns`, and `b` of shape
/// `(rows, rightHandSides)`: LAPACK's `gels` (a QR factorization).
///
/// Both buffers are overwritten: the first `columns` rows of `b` hold the solution.
/// - Throws: ``LossError/shapeMismatch(argument:expected:actual:)`` for buffers of
///   the wrong size or `rows < columns`; ``LossError/notFullRank(argument:)`` when
///   `a` does not have full column rank.
public func solveLeastSquares<T: KernelScalar>(
    _ a: UnsafeMutableBufferPointer<T>, rows: Int, columns: Int, _ b: UnsafeMutableBufferPointer<T>,
    rightHandSides: Int = 1
) throws {
    if isSixteenBit(T.self) {
        var af: [Float]? = floatCopy(UnsafeBufferPointer(a)), bf: [Float]? = floatCopy(UnsafeBufferPointer(b))
        try withFloatMutableBuffer(&af) { ab in
            try withFloatMutableBuffer(&bf) { try solveLeastSquares(ab!, rows: rows, columns: columns, $0!, rightHandSides: rightHandSides) }
        }
        storeRounded(af, a)
        return storeRounded(bf, b)
    }
    _ = try requireCKernels(T.self)
    guard rows >= columns, columns >= 1, rightHandSides >= 1, rows <= Int(Int32.max) else {
        throw LossError.shapeMismatch(
            argument: "a", expected: "rows ≥ columns ≥ 1 and at least one right-hand side",
            actual: "\(rows) x \(columns) with \(rightHandSides) right-hand sides")
    }
    let (ca, oa) = rows.multipliedReportingOverflow(by: columns)
    let (cb, ob) = rows.multipliedReportingOverflow(by: rightHandSides)
    guard !oa, a.count == ca else {
        throw LossError.shapeMismatch(argument: "a", expected: "\(rows) x \(columns) elements", actual: "\(a.count) elements")
    }
    guard !ob, b.count == cb else {
        throw LossError.shapeMismatch(
            argument: "b", expected: "\(rows) x \(rightHandSides) elements", actual: "\(b.count) elements")
    }
    let info = BLAS.leastSquares(base(a), m: rows, n: columns, base(b), nrhs: rightHandSides)
    guard info == 0 else { throw LossError.notFullRank(argument: "a") }
}

/// OpenBLAS's own thread pool, which the matrix products use (LossKit's kernels
/// take a `threads:` argument instead).
public enum OpenBLAS {
    /// The number of threads OpenBLAS uses for every later call, process-wide.
    /// Not safe to change while another thread is inside an OpenBLAS call.
    public static var threadCount: Int {
        get { BLAS.threads }
        set { BLAS.threads = newValue }
    }
}
