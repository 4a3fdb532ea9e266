/// Negative log-likelihood of a multivariate Gaussian with full covariance
/// (`multivariate_gaussian_nll` of `make_cases.py`; PyTorch has no such function,
/// its reference is `0.5 * (logdet(S) + dᵀ solve(S, d))` under autograd).
///
/// Inputs: `input` (the mean) and `target` of shape `(N, D)`, `covariance` of
/// shape `(N, D, D)` (one per sample) or `(D, D)` (shared by every sample).
/// Per sample, with `d = input − target`:
/// `ℓ = ½ (log det Σ + dᵀ Σ⁻¹ d)`, plus `(D/2) log 2π` when `full`.
///
/// Computed through LAPACK's Cholesky factorization `Σ = L Lᵀ` (`?potrf`):
/// `log det Σ = 2 Σ_k log L_kk`, `dᵀ Σ⁻¹ d = ‖L⁻¹ d‖²` by a triangular solve
/// (`?trsv`). A covariance whose factorization fails throws
/// ``/Kernels/LossError/notPositiveDefinite(argument:sample:)`` naming the sample (0 for
/// a shared `(D, D)` covariance).
///
/// Gradients, with `z = Σ⁻¹ d` and `g` the upstream gradient of the sample:
/// - input: `g z`; target: `−g z`;
/// - covariance: `½ g (Σ⁻¹ − z zᵀ)` per entry — the unsymmetrized gradient that
///   PyTorch's autograd gives for `logdet` and `solve` on the full matrix
///   (`½ Σ⁻ᵀ − ½ (Σ⁻¹ d dᵀ Σ⁻¹)ᵀ`, equal to the above for symmetric Σ), summed
///   over the samples for a shared covariance.
///
/// The covariance must be symmetric: LossKit evaluates the loss at its
/// symmetric part `(Σ + Σᵀ) / 2` — so the loss, as a function of the full matrix,
/// has exactly the gradient above, and finite differences on single entries
/// agree with it — and throws ``/Kernels/LossError/invalidValue(argument:position:value:expected:)``
/// when `|Σ_ij − Σ_ji| > 10⁻⁴ √(Σ_ii Σ_jj)`, where the symmetric part and
/// PyTorch's full-matrix formula would differ visibly.
///
/// Reduction: `mean` divides by `N`.
public struct MultivariateGaussianNLLLoss<Scalar: KernelScalar>: LossFunction {
    /// Adds the constant `(D/2) log 2π` to every sample's loss.
    public var full: Bool
    /// How the per-sample values are combined: `.mean` (the default) divides by `N`, `.sum` adds, `.none`
    /// keeps them.
    public var reduction: Reduction

    /// The relative asymmetry of the covariance that is tolerated.
    public static var symmetryTolerance: Double { 1e-4 }

    /// A multivariate Gaussian negative log-likelihood, without the constant and with reduction `mean` by
    /// default.
    public init(full: Bool = false, reduction: Reduction = .mean) {
        self.full = full
        self.reduction = reduction
    }

    public var inputSpecs: [InputSpec] { [.values("input"), .values("target"), .values("covariance")] }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        try validate(inputs)
        if let wide = try forwardInFloat(inputs) { return wide }
        return try evaluate(inputs, upstream: nil).value
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        try validate(inputs)
        if let wide = try backwardInFloat(inputs, upstream: upstream) { return wide }
        return try evaluate(inputs, upstream: upstream).gradients
    }

    /// Symmetrizes and factors every covariance matrix: the Cholesky factors, lower triangles, row-major.
    private func factor(_ covariance: Tensor<Scalar>, matrices: Int, size n: Int) throws -> [Scalar] {
        _ = try requireCKernels(Scalar.self)  // LAPACK's Cholesky exists for Float and Double only
        var factors = [Scalar](repeating: 0, count: matrices * n * n)
        let tolerance = Scalar(Self.symmetryTolerance)
        try covariance.withUnsafeBufferPointer { s in
            for m in 0..<matrices {
                let base = m * n * n
                for i in 0..<n where s[base + i * n + i] <= 0 {
                    throw LossError.notPositiveDefinite(argument: "covariance", sample: m)
                }
                for i in 0..<n {
                    for j in 0..<i {
                        let a = s[base + i * n + j], b = s[base + j * n + i]
                        let scale = Scalar.sqrt(s[base + i * n + i] * s[base + j * n + j])
                        if abs(a - b) > tolerance * scale {
                            throw LossError.invalidValue(
                                argument: "covariance", position: base + i * n + j, value: Double(a),
                                expected: "a symmetric matrix (the transposed entry is \(b))")
                        }
                        factors[base + i * n + j] = (a + b) / 2
                    }
                    factors[base + i * n + i] = s[base + i * n + i]
                }
            }
        }
        try factors.withUnsafeMutableBufferPointer { f in
            for m in 0..<matrices where n > 0 {
                guard BLAS.choleskyLower(f.baseAddress! + m * n * n, n: n) == 0 else {
                    throw LossError.notPositiveDefinite(argument: "covariance", sample: m)
                }
            }
        }
        return factors
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    private func evaluate(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>?) throws -> (
        value: Tensor<Scalar>, gradients: [String: Tensor<Scalar>]
    ) {
        let x = try inputs.values("input"), y = try inputs.values("target"), cov = try inputs.values("covariance")
        guard x.rank == 2 else {
            throw LossError.shapeMismatch(argument: "input", expected: "(N, D)", actual: describeShape(x.shape))
        }
        try checkSameShape(x, "input", y, "target")
        let count = x.shape[0], n = x.shape[1]
        let shared: Bool
        switch cov.shape {
        case [n, n]: shared = true
        case [count, n, n]: shared = false
        default:
            throw LossError.shapeMismatch(
                argument: "covariance", expected: "\(describeShape([count, n, n])) or \(describeShape([n, n]))",
                actual: describeShape(cov.shape))
        }
        let weights = try upstream.map { try ReductionGradient($0, reduction: reduction, shape: [count], count: count) }
        let factors = try factor(cov, matrices: shared ? 1 : count, size: n)

        // Σ⁻¹ of every matrix, full, when the covariance gradient is needed.
        var inverses = [Scalar]()
        if weights != nil {
            inverses = factors
            try inverses.withUnsafeMutableBufferPointer { v in
                for m in 0..<(shared ? 1 : count) where n > 0 {
                    let a = v.baseAddress! + m * n * n
                    guard BLAS.choleskyInverseLower(a, n: n) == 0 else {
                        throw LossError.notPositiveDefinite(argument: "covariance", sample: m)
                    }
                    for i in 0..<n { for j in 0..<i { a[j * n + i] = a[i * n + j] } }
                }
            }
        }

        let constant: Scalar = full ? Scalar(0.5 * Double(n) * Double.log(2 * Double.pi)) : 0
        var losses = [Scalar](repeating: 0, count: count)
        var gx = [Scalar](), gy = [Scalar](), gs = [Scalar]()
        if weights != nil {
            gx = [Scalar](repeating: 0, count: x.count)
            gy = gx
            gs = [Scalar](repeating: 0, count: cov.count)
        }
        var w = [Scalar](repeating: 0, count: n)
        factors.withUnsafeBufferPointer { f in
            // D = 0: every loss is log det of an empty matrix = 0, and there is nothing to differentiate.
            guard n > 0 else { return }
            for s in 0..<count {
                let m = shared ? 0 : s
                let l = f.baseAddress! + m * n * n
                var logDet: Scalar = 0
                for k in 0..<n { logDet += Scalar.log(l[k * n + k]) }
                for k in 0..<n { w[k] = x[flat: s * n + k] - y[flat: s * n + k] }
                var quadratic: Scalar = 0
                w.withUnsafeMutableBufferPointer { BLAS.solveLowerTriangular(l, n: n, transpose: false, $0.baseAddress!) }
                for k in 0..<n { quadratic += w[k] * w[k] }
                losses[s] = logDet + quadratic / 2 + constant
                guard let weights else { continue }
                let g = weights[s]
                // z = L⁻ᵀ L⁻¹ d = Σ⁻¹ d
                w.withUnsafeMutableBufferPointer { BLAS.solveLowerTriangular(l, n: n, transpose: true, $0.baseAddress!) }
                for k in 0..<n {
                    gx[s * n + k] = g * w[k]
                    gy[s * n + k] = -g * w[k]
                }
                let base = m * n * n
                for i in 0..<n {
                    for j in 0..<n {
                        gs[base + i * n + j] += g / 2 * (inverses[base + i * n + j] - w[i] * w[j])
                    }
                }
            }
        }
        let value = try reduce(losses, shape: [count], reduction)
        guard weights != nil else { return (value, [:]) }
        return (
            value,
            [
                "input": Tensor(uncheckedShape: x.shape, scalars: gx),
                "target": Tensor(uncheckedShape: x.shape, scalars: gy),
                "covariance": Tensor(uncheckedShape: cov.shape, scalars: gs),
            ]
        )
    }
}

extension MultivariateGaussianNLLLoss {
    /// The loss of means `input` against `target` under `covariance`.
    public func callAsFunction(_ input: Tensor<Scalar>, _ target: Tensor<Scalar>, covariance: Tensor<Scalar>) throws
        -> Tensor<Scalar>
    {
        try typedValue([.values(input), .values(target), .values(covariance)])
    }

    /// The loss and its gradients: ``ValueWithGradient/gradient`` is the input's;
    /// `gradient(of: .target)` and `gradient(of: .covariance)` are the others.
    public func valueWithGradient(_ input: Tensor<Scalar>, _ target: Tensor<Scalar>, covariance: Tensor<Scalar>) throws
        -> ValueWithGradient<Scalar>
    {
        try typedValueWithGradient([.values(input), .values(target), .values(covariance)])
    }
}
