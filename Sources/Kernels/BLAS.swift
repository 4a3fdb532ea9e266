import COpenBLAS

/// Every BLAS and LAPACK call LossKit makes goes through this file, as thin
/// wrappers visible inside the package only. Debian's OpenBLAS uses a 32-bit
/// `blasint`; sizes are checked to fit before they are narrowed.
package enum BLAS {
    @inline(__always) static func int32(_ n: Int) -> Int32 {
        precondition(n >= 0 && n <= Int(Int32.max), "BLAS dimension \(n) does not fit a 32-bit blasint")
        return Int32(n)
    }

    /// `sum_i x_i y_i` over contiguous vectors of equal length.
    package static func dot<T: KernelScalar>(_ x: UnsafeBufferPointer<T>, _ y: UnsafeBufferPointer<T>) -> T {
        precondition(x.count == y.count)
        let n = int32(x.count)
        if T.self == Float.self { return T(cblas_sdot(n, asF(base(x)), 1, asF(base(y)), 1)) }
        return T(cblas_ddot(n, asD(base(x)), 1, asD(base(y)), 1))
    }

    /// Row-major `C = alpha op(A) op(B) + beta C` with `op(A)` of shape (m, k) and `op(B)` of shape (k, n).
    package static func gemm<T: KernelScalar>(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: T,
        a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int, beta: T, c: UnsafeMutablePointer<T>, ldc: Int
    ) {
        let ta = transposeA ? CblasTrans : CblasNoTrans, tb = transposeB ? CblasTrans : CblasNoTrans
        if T.self == Float.self {
            cblas_sgemm(
                CblasRowMajor, ta, tb, int32(m), int32(n), int32(k), Float(alpha), asF(a), int32(lda), asF(b),
                int32(ldb), Float(beta), asF(c), int32(ldc))
        } else {
            cblas_dgemm(
                CblasRowMajor, ta, tb, int32(m), int32(n), int32(k), Double(alpha), asD(a), int32(lda), asD(b),
                int32(ldb), Double(beta), asD(c), int32(ldc))
        }
    }

    /// Row-major `y = alpha op(A) x + beta y` with `A` of shape (m, n) and contiguous vectors.
    package static func gemv<T: KernelScalar>(
        transposeA: Bool, m: Int, n: Int, alpha: T, a: UnsafePointer<T>, lda: Int, x: UnsafePointer<T>, beta: T,
        y: UnsafeMutablePointer<T>
    ) {
        let ta = transposeA ? CblasTrans : CblasNoTrans
        if T.self == Float.self {
            cblas_sgemv(CblasRowMajor, ta, int32(m), int32(n), Float(alpha), asF(a), int32(lda), asF(x), 1, Float(beta), asF(y), 1)
        } else {
            cblas_dgemv(CblasRowMajor, ta, int32(m), int32(n), Double(alpha), asD(a), int32(lda), asD(x), 1, Double(beta), asD(y), 1)
        }
    }

    /// OpenBLAS's thread count for every later call, process-wide (`openblas_set_num_threads`).
    /// Not safe to change while another thread is inside a BLAS call.
    package static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(int32(max(1, newValue))) }
    }

    /// Cholesky factorization in place of a row-major symmetric (n, n) matrix:
    /// the lower triangle becomes `L` with `A = L Lᵀ`. Returns LAPACK's info
    /// (0 on success, > 0 when the matrix is not positive definite).
    package static func choleskyLower<T: KernelScalar>(_ a: UnsafeMutablePointer<T>, n: Int) -> Int {
        if T.self == Float.self {
            return Int(LAPACKE_spotrf(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "L")), int32(n), asF(a), int32(n)))
        }
        return Int(LAPACKE_dpotrf(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "L")), int32(n), asD(a), int32(n)))
    }

    /// Least squares `min ||A x - b||` for a row-major (m, n) matrix with m >= n and
    /// `nrhs` right-hand sides in `b` (m, nrhs); the solution overwrites the first n rows of b.
    package static func leastSquares<T: KernelScalar>(
        _ a: UnsafeMutablePointer<T>, m: Int, n: Int, _ b: UnsafeMutablePointer<T>, nrhs: Int
    ) -> Int {
        let trans = Int8(UInt8(ascii: "N"))
        if T.self == Float.self {
            return Int(
                LAPACKE_sgels(LAPACK_ROW_MAJOR, trans, int32(m), int32(n), int32(nrhs), asF(a), int32(n), asF(b), int32(nrhs)))
        }
        return Int(
            LAPACKE_dgels(LAPACK_ROW_MAJOR, trans, int32(m), int32(n), int32(nrhs), asD(a), int32(n), asD(b), int32(nrhs)))
    }
}

extension BLAS {
    /// Solves `L x = b` (`transpose == false`) or `Lᵀ x = b` (`transpose == true`) in
    /// place of `x` (which holds `b` on entry), for the lower triangle `L` of a
    /// row-major (n, n) matrix, as left in place by ``choleskyLower(_:n:)``.
    package static func solveLowerTriangular<T: KernelScalar>(
        _ l: UnsafePointer<T>, n: Int, transpose: Bool, _ x: UnsafeMutablePointer<T>
    ) {
        let trans = transpose ? CblasTrans : CblasNoTrans
        if T.self == Float.self {
            cblas_strsv(CblasRowMajor, CblasLower, trans, CblasNonUnit, int32(n), asF(l), int32(n), asF(x), 1)
        } else {
            cblas_dtrsv(CblasRowMajor, CblasLower, trans, CblasNonUnit, int32(n), asD(l), int32(n), asD(x), 1)
        }
    }

    /// The inverse `A⁻¹ = L⁻ᵀ L⁻¹` of a symmetric positive definite row-major
    /// (n, n) matrix from its factor `L` (the lower triangle left by
    /// ``choleskyLower(_:n:)``), written over that lower triangle; the strict upper
    /// triangle is left as it was. Returns LAPACK's info (0 on success).
    package static func choleskyInverseLower<T: KernelScalar>(_ a: UnsafeMutablePointer<T>, n: Int) -> Int {
        if T.self == Float.self {
            return Int(LAPACKE_spotri(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "L")), int32(n), asF(a), int32(n)))
        }
        return Int(LAPACKE_dpotri(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "L")), int32(n), asD(a), int32(n)))
    }
}
