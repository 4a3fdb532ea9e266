/// A differentiable distance between two vectors of the same length, for
/// ``TripletMarginWithDistanceLoss``: LossKit's ``PairwiseDistance`` and
/// ``CosineDistance``, or your own.
///
/// Conform a type, or wrap two closures in ``ClosureDistance``. The loss calls
/// ``distance(_:_:)`` once per pair of rows and, in the backward pass,
/// ``gradient(_:_:)`` for every pair (scaled by 0 where the row's hinge is inactive,
/// as autograd does). Check your
/// gradient with ``GradientCheck`` on a ``TripletMarginWithDistanceLoss`` built from it.
public protocol TripletDistance<Scalar>: Sendable {
    /// The floating-point type of the vectors.
    associatedtype Scalar: KernelScalar

    /// The distance between `x` and `y` (equal lengths).
    func distance(_ x: UnsafeBufferPointer<Scalar>, _ y: UnsafeBufferPointer<Scalar>) throws -> Scalar

    /// The partial derivatives of ``distance(_:_:)`` with respect to every entry
    /// of `x` and of `y` (each array as long as the vectors).
    func gradient(_ x: UnsafeBufferPointer<Scalar>, _ y: UnsafeBufferPointer<Scalar>) throws -> (x: [Scalar], y: [Scalar])
}

/// PyTorch's `pairwise_distance(x, y, p, eps)`: `‖x − y + eps‖_p` — note that
/// `eps` is **added to every difference**, not used as a floor, so the distance
/// of a vector to itself is `eps · D^(1/p)`, not 0.
///
/// Gradient with `v = x − y + eps` (and the negation for `y`), as PyTorch's norm backward:
/// - `p = 2`: `v / ‖v‖`; `p = 1`: `sign(v)`;
/// - other finite `p > 0`: `sign(v_i) (|v_i| / ‖v‖)^(p−1)` (0 where `v_i = 0`);
/// - `p = ∞`: `sign(v_i)` shared equally by the entries where `|v_i| = ‖v‖`;
/// and 0 everywhere when `‖v‖ = 0`.
public struct PairwiseDistance<Scalar: KernelScalar>: TripletDistance {
    /// The norm's order `p > 0` (`.infinity` allowed); 2 by default.
    public var p: Scalar
    /// Added to every difference before the norm is taken; 1e-6 by default.
    public var eps: Scalar

    /// PyTorch's `pairwise_distance` with order `p` and shift `eps`.
    public init(p: Scalar = 2, eps: Scalar = 1e-6) {
        self.p = p
        self.eps = eps
    }

    /// Throws ``/Kernels/LossError/invalidOption(name:value:expected:)`` unless `p > 0` (∞ allowed) and `eps` is finite.
    public func validate() throws {
        guard p > 0 else { throw LossError.invalidOption(name: "p", value: "\(p)", expected: "a norm degree > 0") }
        guard eps.isFinite else { throw LossError.invalidOption(name: "eps", value: "\(eps)", expected: "a finite number") }
    }

    public func distance(_ x: UnsafeBufferPointer<Scalar>, _ y: UnsafeBufferPointer<Scalar>) throws -> Scalar {
        try validate()
        return norm(x, y)
    }

    private func norm(_ x: UnsafeBufferPointer<Scalar>, _ y: UnsafeBufferPointer<Scalar>) -> Scalar {
        var s: Scalar = 0
        if p == 2 {
            for i in 0..<x.count {
                let v = x[i] - y[i] + eps
                s += v * v
            }
            return Scalar.sqrt(s)
        } else if p == 1 {
            for i in 0..<x.count { s += abs(x[i] - y[i] + eps) }
            return s
        } else if p.isInfinite {
            for i in 0..<x.count {
                let a = abs(x[i] - y[i] + eps)
                if a > s || a.isNaN { s = a }
            }
            return s
        }
        for i in 0..<x.count { s += power(abs(x[i] - y[i] + eps), p) }
        return power(s, 1 / p)
    }

    public func gradient(_ x: UnsafeBufferPointer<Scalar>, _ y: UnsafeBufferPointer<Scalar>) throws -> (x: [Scalar], y: [Scalar]) {
        try validate()
        let n = norm(x, y)
        var g = [Scalar](repeating: 0, count: x.count)
        if n != 0 {
            if p == 2 {
                for i in 0..<x.count { g[i] = (x[i] - y[i] + eps) / n }
            } else if p == 1 {
                for i in 0..<x.count { g[i] = signum(x[i] - y[i] + eps) }
            } else if p.isInfinite {
                var ties = 0
                for i in 0..<x.count where abs(x[i] - y[i] + eps) == n { ties += 1 }
                for i in 0..<x.count where abs(x[i] - y[i] + eps) == n {
                    g[i] = signum(x[i] - y[i] + eps) / Scalar(ties)
                }
            } else {
                for i in 0..<x.count {
                    let v = x[i] - y[i] + eps
                    if v != 0 { g[i] = signum(v) * power(abs(v) / n, p - 1) }
                }
            }
        }
        return (g, g.map { -$0 })
    }
}

/// `1 − cosine_similarity(x, y)` with PyTorch's (2.x) `eps` semantics: each
/// vector is divided by its norm clamped below at `eps`,
/// `cos = Σ (x_i / max(‖x‖, eps)) (y_i / max(‖y‖, eps))`.
///
/// Gradient, as PyTorch's autograd (the clamp is applied outside autograd, so
/// the norm's own derivative `x / ‖x‖` is kept, 0 when `‖x‖ = 0`):
/// `∂/∂x_i = −( y_i / (n̂x n̂y) − cos · x_i / (‖x‖ n̂x) )` with `n̂ = max(‖·‖, eps)`,
/// and symmetrically for `y`.
public struct CosineDistance<Scalar: KernelScalar>: TripletDistance {
    /// The floor of each norm; 1e-8 by default.
    public var eps: Scalar

    /// The cosine distance with norms clamped below at `eps`.
    public init(eps: Scalar = 1e-8) { self.eps = eps }

    private func parts(_ x: UnsafeBufferPointer<Scalar>, _ y: UnsafeBufferPointer<Scalar>) -> (
        nx: Scalar, ny: Scalar, cx: Scalar, cy: Scalar, cos: Scalar
    ) {
        var sx: Scalar = 0, sy: Scalar = 0
        for i in 0..<x.count {
            sx += x[i] * x[i]
            sy += y[i] * y[i]
        }
        let nx = Scalar.sqrt(sx), ny = Scalar.sqrt(sy)
        let cx = nx < eps ? eps : nx, cy = ny < eps ? eps : ny
        var c: Scalar = 0
        for i in 0..<x.count { c += (x[i] / cx) * (y[i] / cy) }
        return (nx, ny, cx, cy, c)
    }

    public func distance(_ x: UnsafeBufferPointer<Scalar>, _ y: UnsafeBufferPointer<Scalar>) throws -> Scalar {
        1 - parts(x, y).cos
    }

    public func gradient(_ x: UnsafeBufferPointer<Scalar>, _ y: UnsafeBufferPointer<Scalar>) throws -> (x: [Scalar], y: [Scalar]) {
        let (nx, ny, cx, cy, c) = parts(x, y)
        var gx = [Scalar](repeating: 0, count: x.count), gy = gx
        for i in 0..<x.count {
            let normX: Scalar = nx == 0 ? 0 : x[i] / nx
            let normY: Scalar = ny == 0 ? 0 : y[i] / ny
            gx[i] = -(y[i] / (cx * cy) - c * normX / cx)
            gy[i] = -(x[i] / (cx * cy) - c * normY / cy)
        }
        return (gx, gy)
    }
}

/// A distance given by two closures: the value, and its gradient with respect
/// to both vectors. The closures see plain arrays of one row each.
///
/// ```swift
/// // squared Euclidean distance
/// let squared = ClosureDistance<Double>(
///     distance: { x, y in zip(x, y).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } },
///     gradient: { x, y in
///         let g = zip(x, y).map { 2 * ($0 - $1) }
///         return (g, g.map { -$0 })
///     })
/// let loss = TripletMarginWithDistanceLoss(distanceFunction: squared, margin: 1)
/// ```
public struct ClosureDistance<Scalar: KernelScalar>: TripletDistance {
    /// The distance of two rows.
    public let distanceBody: @Sendable ([Scalar], [Scalar]) throws -> Scalar
    /// The distance's gradient with respect to both rows.
    public let gradientBody: @Sendable ([Scalar], [Scalar]) throws -> (x: [Scalar], y: [Scalar])

    /// A distance from its value and its gradient.
    public init(
        distance: @escaping @Sendable ([Scalar], [Scalar]) throws -> Scalar,
        gradient: @escaping @Sendable ([Scalar], [Scalar]) throws -> (x: [Scalar], y: [Scalar])
    ) {
        self.distanceBody = distance
        self.gradientBody = gradient
    }

    public func distance(_ x: UnsafeBufferPointer<Scalar>, _ y: UnsafeBufferPointer<Scalar>) throws -> Scalar {
        try distanceBody(Array(x), Array(y))
    }

    public func gradient(_ x: UnsafeBufferPointer<Scalar>, _ y: UnsafeBufferPointer<Scalar>) throws -> (x: [Scalar], y: [Scalar]) {
        try gradientBody(Array(x), Array(y))
    }
}

/// Triplet loss with any differentiable distance `d`,
/// `torch.nn.functional.triplet_margin_with_distance_loss`.
///
/// Inputs `anchor`, `positive`, `negative` of one rank, `(N, D)` or `(D)`, whose
/// sizes broadcast against each other as PyTorch broadcasts them (a `(1, D)`
/// anchor for every row, say; each gradient is summed over the dimensions its
/// tensor was broadcast along). Per row:
/// `ℓ = max(0, margin + d(a, p) − d_neg)` with `d_neg = d(a, n)`, or with
/// `swap` `d_neg = min(d(a, n), d(p, n))` (the "distance swap" of Balntas et al.).
/// The default distance (`distanceFunction: nil`) is ``PairwiseDistance`` with
/// `p = 2, eps = 1e-6`, as in PyTorch.
///
/// Gradient: with `g = upstream` where `margin + d(a, p) − d_neg > 0` and 0
/// elsewhere (at exactly 0 too, and where it is NaN: the reference PyTorch's
/// `clamp_min` backward is `where(z > 0, grad, 0)`), `g ∂d(a, p)`
/// flows to anchor and positive and `−g ∂d_neg` to the pair that gave `d_neg`;
/// when `d(a, n) = d(p, n)` exactly, both pairs get half, as PyTorch's `minimum`.
/// Every input is differentiated, the negative too. As in autograd, every row's
/// distance gradients are taken and multiplied by that `g`, 0 or not: a row with a
/// NaN (or an infinity that makes a distance's gradient NaN) gets NaN gradients.
///
/// Reduction: `mean` divides by the number of rows `N` (1 for a `(D)` input,
/// whose `none` output is 0-d).
///
/// `margin` must be > 0, as PyTorch requires (ValueError): a NaN, infinite or
/// non-positive one is ``/Kernels/LossError/invalidOption(name:value:expected:)``. The
/// zero-loss rows still count in the mean.
public struct TripletMarginWithDistanceLoss<Scalar: KernelScalar>: TripletLoss {
    /// The distance `d` between rows.
    public var distanceFunction: any TripletDistance<Scalar>
    /// How much farther the negative must be than the positive for a zero loss; > 0, 1 by default.
    public var margin: Scalar
    /// Whether the positive–negative distance replaces the anchor–negative one when it is smaller (the
    /// distance swap).
    public var swap: Bool
    /// How the per-row values are combined: `.mean` (the default) divides by `N`, `.sum` adds, `.none` keeps
    /// them.
    public var reduction: Reduction

    /// A triplet loss with the distance `distanceFunction` (nil: ``PairwiseDistance`` with `p = 2`, `eps =
    /// 1e-6`).
    public init(
        distanceFunction: (any TripletDistance<Scalar>)? = nil, margin: Scalar = 1, swap: Bool = false,
        reduction: Reduction = .mean
    ) {
        self.distanceFunction = distanceFunction ?? PairwiseDistance<Scalar>()
        self.margin = margin
        self.swap = swap
        self.reduction = reduction
    }

    /// A loss whose distance is given by two closures (see ``ClosureDistance``).
    public init(
        margin: Scalar = 1, swap: Bool = false, reduction: Reduction = .mean,
        distance: @escaping @Sendable ([Scalar], [Scalar]) throws -> Scalar,
        gradient: @escaping @Sendable ([Scalar], [Scalar]) throws -> (x: [Scalar], y: [Scalar])
    ) {
        self.init(
            distanceFunction: ClosureDistance(distance: distance, gradient: gradient), margin: margin, swap: swap,
            reduction: reduction)
    }

    public var inputSpecs: [InputSpec] { [.values("anchor"), .values("positive"), .values("negative")] }

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

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    private func evaluate(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>?) throws -> (
        value: Tensor<Scalar>, gradients: [String: Tensor<Scalar>]
    ) {
        let given = (
            a: try inputs.values("anchor"), p: try inputs.values("positive"), n: try inputs.values("negative"))
        guard given.a.rank == 1 || given.a.rank == 2 else {
            throw LossError.shapeMismatch(argument: "anchor", expected: "(N, D) or (D)", actual: describeShape(given.a.shape))
        }
        // One rank, as PyTorch requires; sizes broadcast (the gradients are summed back).
        for (name, t) in [("positive", given.p), ("negative", given.n)] where t.rank != given.a.rank {
            throw LossError.shapeMismatch(
                argument: name, expected: "rank \(given.a.rank) (the rank of anchor; sizes may broadcast)",
                actual: describeShape(t.shape))
        }
        let shape = try broadcastShape([("anchor", given.a.shape), ("positive", given.p.shape), ("negative", given.n.shape)])
        let a = given.a.broadcast(to: shape), p = given.p.broadcast(to: shape), n = given.n.broadcast(to: shape)
        // PyTorch rejects margin <= 0 (ValueError); a NaN one would give a NaN loss
        // with a zero gradient, an infinite one an infinite loss.
        try InputChecks.finite("margin", margin)
        guard margin > 0 else {
            throw LossError.invalidOption(name: "margin", value: "\(margin)", expected: "a margin > 0")
        }
        if let pairwise = distanceFunction as? PairwiseDistance<Scalar> { try pairwise.validate() }
        let width = a.shape.last ?? 0
        let rows = a.rank == 2 ? a.shape[0] : 1
        let outShape = a.rank == 2 ? [rows] : []
        let weights = try upstream.map { try ReductionGradient($0, reduction: reduction, shape: outShape, count: rows) }

        var losses = [Scalar](repeating: 0, count: rows)
        var ga = [Scalar](), gp = [Scalar](), gn = [Scalar]()
        if weights != nil {
            ga = [Scalar](repeating: 0, count: a.count)
            gp = ga
            gn = ga
        }
        let distance = distanceFunction
        try a.withUnsafeBufferPointer { ab in
            try p.withUnsafeBufferPointer { pb in
                try n.withUnsafeBufferPointer { nb in
                    // Rows of no elements are all the same row: the first one's loss is every
                    // row's (and there is no gradient entry to write), not recomputed row by row.
                    for r in 0..<(width == 0 ? min(rows, 1) : rows) {
                        let range = (r * width)..<((r + 1) * width)
                        let ar = UnsafeBufferPointer(rebasing: ab[range])
                        let pr = UnsafeBufferPointer(rebasing: pb[range])
                        let nr = UnsafeBufferPointer(rebasing: nb[range])
                        let dPos = try distance.distance(ar, pr)
                        let dNeg = try distance.distance(ar, nr)
                        let dSwap = swap ? try distance.distance(pr, nr) : dNeg
                        let dMin = swap ? (dSwap < dNeg ? dSwap : dNeg) : dNeg
                        let z = margin + dPos - dMin
                        losses[r] = clampMin0(z)
                        // Every row's distances are differentiated, as autograd does: the clamp
                        // passes g where z > 0 and 0 elsewhere (a NaN z included), and 0 times a
                        // distance's NaN gradient (a NaN or infinite input) is NaN, as in PyTorch.
                        guard let weights else { continue }
                        let g = z > 0 ? weights[r] : 0
                        func accumulate(
                            _ x: UnsafeBufferPointer<Scalar>, _ y: UnsafeBufferPointer<Scalar>, _ scale: Scalar,
                            _ gx: inout [Scalar], _ gy: inout [Scalar]
                        ) throws {
                            let d = try distance.gradient(x, y)
                            guard d.x.count == width, d.y.count == width else {
                                throw LossError.shapeMismatch(
                                    argument: "gradient of distance_function", expected: "\(width) entries for each vector",
                                    actual: "\(d.x.count) and \(d.y.count)")
                            }
                            for k in 0..<width {
                                gx[range.lowerBound + k] += scale * d.x[k]
                                gy[range.lowerBound + k] += scale * d.y[k]
                            }
                        }
                        try accumulate(ar, pr, g, &ga, &gp)
                        // d_neg = min(d(a, n), d(p, n)), PyTorch's minimum backward: the gradient
                        // goes to the smaller, half each on a tie; both get it where a distance is
                        // NaN (neither is greater). Without swap, d_neg = d(a, n).
                        if swap {
                            let toNeg: Scalar = dNeg == dSwap ? 0.5 : dNeg > dSwap ? 0 : 1
                            let toSwap: Scalar = dNeg == dSwap ? 0.5 : dNeg < dSwap ? 0 : 1
                            try accumulate(ar, nr, -g * toNeg, &ga, &gn)
                            try accumulate(pr, nr, -g * toSwap, &gp, &gn)
                        } else {
                            try accumulate(ar, nr, -g, &ga, &gn)
                        }
                    }
                }
            }
        }
        if width == 0, rows > 1 { losses = Array(repeating: losses[0], count: rows) }
        let value = try reduce(losses, shape: outShape, reduction)
        guard weights != nil else { return (value, [:]) }
        return (
            value,
            [
                "anchor": Tensor(uncheckedShape: a.shape, scalars: ga).summed(to: given.a.shape),
                "positive": Tensor(uncheckedShape: a.shape, scalars: gp).summed(to: given.p.shape),
                "negative": Tensor(uncheckedShape: a.shape, scalars: gn).summed(to: given.n.shape),
            ]
        )
    }
}

/// Triplet margin loss, `torch.nn.functional.triplet_margin_loss`: the triplet
/// loss of ``TripletMarginWithDistanceLoss`` with PyTorch's
/// `pairwise_distance(x, y, p, eps) = ‖x − y + eps‖_p` (see ``PairwiseDistance``).
///
/// Per row: `max(0, margin + ‖a − p + eps‖_p − d_neg)`, `d_neg = ‖a − n + eps‖_p`
/// or, with `swap`, `min(‖a − n + eps‖_p, ‖p − n + eps‖_p)`.
///
/// Gradient (rows where the hinge is active, `> 0`): anchor `∂‖a − p‖ − ∂‖a − n‖`,
/// positive `−∂‖a − p‖`, negative `∂‖a − n‖` (or the swapped pair's terms), with
/// the norm derivatives of ``PairwiseDistance``. Reduction: `mean` divides by `N`.
///
/// Surprising in PyTorch: `eps` is added to the difference (a shift of every
/// coordinate), so it changes the distance even far from zero and is not
/// symmetric: `d(x, y) ≠ d(y, x)`. `margin` must be > 0, as PyTorch requires
/// (ValueError); a non-positive, NaN or infinite one is
/// ``/Kernels/LossError/invalidOption(name:value:expected:)``.
public struct TripletMarginLoss<Scalar: KernelScalar>: TripletLoss {
    /// How much farther the negative must be than the positive for a zero loss; > 0, 1 by default.
    public var margin: Scalar
    /// The order of the pairwise distance's norm; 2 by default.
    public var p: Scalar
    /// Added to every difference before the norm is taken; 1e-6 by default.
    public var eps: Scalar
    /// Whether the positive–negative distance replaces the anchor–negative one when it is smaller (the
    /// distance swap).
    public var swap: Bool
    /// How the per-row values are combined: `.mean` (the default) divides by `N`, `.sum` adds, `.none` keeps
    /// them.
    public var reduction: Reduction

    /// A triplet margin loss; every default is PyTorch's.
    public init(margin: Scalar = 1, p: Scalar = 2, eps: Scalar = 1e-6, swap: Bool = false, reduction: Reduction = .mean) {
        self.margin = margin
        self.p = p
        self.eps = eps
        self.swap = swap
        self.reduction = reduction
    }

    public var inputSpecs: [InputSpec] { [.values("anchor"), .values("positive"), .values("negative")] }

    private var general: TripletMarginWithDistanceLoss<Scalar> {
        TripletMarginWithDistanceLoss(
            distanceFunction: PairwiseDistance(p: p, eps: eps), margin: margin, swap: swap, reduction: reduction)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        try validate(inputs)
        if let wide = try forwardInFloat(inputs) { return wide }
        return try general.forward(inputs)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        try validate(inputs)
        if let wide = try backwardInFloat(inputs, upstream: upstream) { return wide }
        return try general.backward(inputs, upstream: upstream)
    }
}
