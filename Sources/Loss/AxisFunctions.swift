/// Differentiable functions along dimensions of a tensor, as `torch.softmax`,
/// `torch.log_softmax`, `torch.nn.functional.softmin`, `torch.logsumexp`,
/// `torch.sum`, `torch.mean` and `torch.amax`. They conform to ``LossFunction``
/// so that ``GradientCheck`` and `losskit verify` treat them like losses; their
/// single input is `input`.
///
/// Dimensions follow PyTorch: a negative `dim` counts from the end; a 0-d input
/// takes `dim` 0 or -1 (and gives a 0-d output); a dimension named twice is an error.
public enum AxisOperation: String, Sendable, CaseIterable {
    /// `y = softmax(x)`; backward `dx = y (dy - sum(dy y))`.
    case softmax
    /// `y = x - logsumexp(x)`; backward `dx = dy - softmax(x) sum(dy)`.
    case logSoftmax = "log_softmax"
    /// `y = softmax(-x)` (`torch.nn.Softmin`); backward `dx = -y (dy - sum(dy y))`.
    case softmin
    /// `y = log sum exp(x)` (a row of `-inf` gives `-inf`); backward `dx = dy softmax(x)`,
    /// which is PyTorch's `dy exp(x - y)`, but for a row holding `+inf` (y = `+inf`):
    /// NaN at the `+inf` entries and 0 elsewhere, as PyTorch.
    case logSumExp = "logsumexp"
    /// `y = sum x`; backward `dx = dy`.
    case sum
    /// `y = mean x` (NaN over no elements); backward `dx = dy / n`.
    case mean
    /// `y = max x` (NaN propagates; no elements is an error); backward splits `dy`
    /// evenly among the entries equal to the maximum, as PyTorch's `amax` does (a row
    /// whose max is NaN has no such entry: its gradient is NaN, `(dy / 0) · 0`, as in PyTorch).
    case amax

    /// Whether the output has the input's shape (softmax, log-softmax, softmin)
    /// rather than the input's shape without the reduced dimensions.
    public var keepsShape: Bool { self == .softmax || self == .logSoftmax || self == .softmin }
}

/// A floating-point type to compute in, PyTorch's `dtype=` of `softmax`,
/// `log_softmax`, `softmin`, `sum` and `mean`: the input is converted to it first
/// (and the gradient converted back), so `float64` computes a Float input in Double.
public enum DType: String, Sendable, CaseIterable {
    case float32
    case float64

    /// The type named as PyTorch prints it (`torch.float64`, `torch.double`) or without
    /// the module prefix (`float64`, `double`); nil for any other name.
    public init?(pytorchName name: String) {
        let bare = name.hasPrefix("torch.") ? String(name.dropFirst("torch.".count)) : name
        switch bare {
        case "float32", "float": self = .float32
        case "float64", "double": self = .float64
        default: return nil
        }
    }

    func isType<T>(_: T.Type) -> Bool {
        switch self {
        case .float32: return T.self == Float.self
        case .float64: return T.self == Double.self
        }
    }
}

/// One ``AxisOperation`` along one dimension (`dim`) or, for the reductions, a set
/// of dimensions (`dims`).
///
/// - Softmax, log-softmax and softmin take exactly one dimension. Without one
///   (`dims` nil) they use `torch.nn.functional.softmax`'s implicit choice, which
///   PyTorch deprecates: dimension 0 for a 0-, 1- or 3-d input, 1 otherwise.
/// - `sum`, `mean` and `amax` reduce every dimension when `dims` is nil or empty,
///   as `torch.sum(x)`, `torch.sum(x, dim=[])` and `torch.amax(x)` do.
/// - `logsumexp` needs `dims` (`torch.logsumexp` has no default); an empty list
///   reduces every dimension, as PyTorch 2.15 does with `keepdim=True` and on a 0-d
///   input (with `keepdim=False` on a larger input PyTorch 2.15 raises a shape error,
///   a defect of its output allocation; LossKit gives the full reduction).
/// - `keepdim` keeps each reduced dimension with size 1 (a 0-d input stays 0-d).
/// - Reducing several dimensions that are not adjacent transposes a copy of the
///   input first; the result is the same as reducing them one by one, except for
///   the summation order.
public struct AxisFunction<Scalar: KernelScalar>: LossFunction {
    /// The function computed along ``dims``.
    public var operation: AxisOperation
    /// The dimensions; nil for the operation's default (see the type's documentation).
    public var dims: [Int]?
    /// Keep each reduced dimension with size 1 (reductions only).
    public var keepdim: Bool
    /// Compute in this type instead of `Scalar` (softmax, log-softmax, softmin, sum, mean).
    public var dtype: DType?
    /// Rows are split across up to this many threads; results do not depend on it.
    public var threads: Int

    /// The operation along the single dimension `dim`.
    public init(_ operation: AxisOperation, dim: Int, keepdim: Bool = false, dtype: DType? = nil, threads: Int = 1) {
        self.init(operation, dims: [dim], keepdim: keepdim, dtype: dtype, threads: threads)
    }

    /// The operation along `dims` (nil: the operation's default).
    public init(_ operation: AxisOperation, dims: [Int]?, keepdim: Bool = false, dtype: DType? = nil, threads: Int = 1) {
        self.operation = operation
        self.dims = dims
        self.keepdim = keepdim
        self.dtype = dtype
        self.threads = threads
    }

    public var inputSpecs: [InputSpec] { [.values("input")] }

    /// Where the computation happens: the (possibly transposed) input seen as rows
    /// along one axis, and the output shape.
    struct Plan {
        /// The layout of the working copy: kept dimensions before and after one
        /// merged axis of reduced ones (or, when transposed, all kept ones first).
        var layout: AxisLayout
        /// Dimension order of the transposed working copy, or nil when the input is used as is.
        var permutation: [Int]?
        /// The shape of the working copy.
        var workingShape: [Int]
        var outputShape: [Int]
    }

    func plan(_ shape: [Int]) throws -> Plan {
        _ = try checkedElementCount(shape)
        let dims = shape.isEmpty ? [1] : shape  // a 0-d tensor takes dim 0 or -1
        let rank = dims.count
        func wrapped(_ d: Int) throws -> Int {
            guard d >= -rank && d < rank else {
                throw LossError.invalidOption(
                    name: "dim", value: String(d),
                    expected: "a dimension in [\(-rank), \(rank - 1)] for shape \(describeShape(shape))")
            }
            return d < 0 ? d + rank : d
        }
        var reduced: [Int]
        if operation.keepsShape {
            guard !keepdim else {
                throw LossError.invalidOption(
                    name: "keepdim", value: "True", expected: "False (\(operation.rawValue) keeps the input's shape)")
            }
            switch self.dims {
            case nil: reduced = [shape.count <= 1 || shape.count == 3 ? 0 : 1]
            case let d? where d.count == 1: reduced = [try wrapped(d[0])]
            case let d?:
                throw LossError.invalidOption(
                    name: "dim", value: describeDims(d), expected: "one dimension (\(operation.rawValue) is along one)")
            }
        } else {
            switch self.dims {
            case nil where operation == .logSumExp:
                throw LossError.invalidOption(
                    name: "dim", value: "None", expected: "a dimension or a list of dimensions (logsumexp has no default)")
            case nil: reduced = Array(0..<rank)
            case let d? where d.isEmpty: reduced = Array(0..<rank)
            case let d?:
                reduced = []
                for v in d {
                    let w = try wrapped(v)
                    guard !reduced.contains(w) else {
                        throw LossError.invalidOption(
                            name: "dim", value: describeDims(d), expected: "dimensions that appear once (\(w) appears twice)")
                    }
                    reduced.append(w)
                }
                reduced.sort()
            }
        }
        if operation.keepsShape {
            return Plan(layout: try AxisLayout(shape: shape, axis: reduced[0]), permutation: nil, workingShape: shape, outputShape: shape)
        }
        var output: [Int] = []
        if !shape.isEmpty {
            for d in 0..<rank where keepdim || !reduced.contains(d) { output.append(reduced.contains(d) ? 1 : dims[d]) }
        }
        // Products of some of the sizes (they may overflow where another size is 0).
        func product(_ sizes: [Int]) throws -> Int { try checkedElementCount(sizes, argument: "input") }
        let length = try product(reduced.map { dims[$0] })
        if let first = reduced.first, reduced.last! - first + 1 == reduced.count {
            // One block of adjacent dimensions: the input as is.
            let layout = AxisLayout(
                outer: try product(Array(dims[..<first])), length: length,
                inner: try product(Array(dims[(reduced.last! + 1)...])))
            try layout.validate()
            return Plan(layout: layout, permutation: nil, workingShape: dims, outputShape: output)
        }
        let kept = (0..<rank).filter { !reduced.contains($0) }
        let order = kept + reduced
        let layout = AxisLayout(outer: try product(kept.map { dims[$0] }), length: length, inner: 1)
        try layout.validate()
        return Plan(layout: layout, permutation: order, workingShape: order.map { dims[$0] }, outputShape: output)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    @_specialize(where Scalar == Float16)
    @_specialize(where Scalar == BFloat16)
    public func forward(_ inputs: LossInputs<Scalar>) throws -> Tensor<Scalar> {
        try validate(inputs)
        // 16-bit softmax, log-softmax and logsumexp run the native 16-bit kernels (the Float
        // kernels' results rounded once, reading and writing 16 bits); the rest compute in Float.
        let native = dtype == nil && [.softmax, .logSoftmax, .logSumExp].contains(operation)
        if !native, let wide = try forwardInFloat(inputs) { return wide }
        let x = try inputs.values("input")
        if let dtype, !dtype.isType(Scalar.self) {
            func other<U: KernelScalar>(_: U.Type) throws -> Tensor<Scalar> {
                try inOtherPrecision(U.self).forward(LossInputs(["input": .values(x.converted())])).converted()
            }
            return try dtype == .float32 ? other(Float.self) : other(Double.self)
        }
        let plan = try plan(x.shape)
        let working = plan.permutation.map { transposed(x.scalars, shape: x.shape.isEmpty ? [1] : x.shape, order: $0) } ?? x.scalars
        return Tensor(uncheckedShape: plan.outputShape, scalars: try apply(working, plan.layout))
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(_ inputs: LossInputs<Scalar>, upstream: Tensor<Scalar>) throws -> [String: Tensor<Scalar>] {
        try validate(inputs)
        if let wide = try backwardInFloat(inputs, upstream: upstream) { return wide }
        let x = try inputs.values("input")
        if let dtype, !dtype.isType(Scalar.self) {
            func other<U: KernelScalar>(_: U.Type) throws -> Tensor<Scalar> {
                let g = try inOtherPrecision(U.self).backward(
                    LossInputs(["input": .values(x.converted())]), upstream: upstream.converted())
                return g["input"]!.converted()
            }
            return ["input": try dtype == .float32 ? other(Float.self) : other(Double.self)]
        }
        let plan = try plan(x.shape)
        try checkUpstream(upstream, plan.outputShape)
        let shape = x.shape.isEmpty ? [1] : x.shape
        let working = plan.permutation.map { transposed(x.scalars, shape: shape, order: $0) } ?? x.scalars
        let layout = plan.layout
        var dx = [Scalar](repeating: 0, count: layout.count)
        let dy = upstream.scalars
        switch operation {
        case .softmax, .logSoftmax, .softmin:
            let y = try apply(working, layout)
            try y.withUnsafeBufferPointer { yb in
                try dy.withUnsafeBufferPointer { db in
                    try dx.withUnsafeMutableBufferPointer { o in
                        if operation == .logSoftmax {
                            try logSoftmaxBackward(output: yb, upstream: db, layout: layout, into: o, threads: threads)
                        } else {
                            try softmaxBackward(output: yb, upstream: db, layout: layout, into: o, threads: threads)
                        }
                    }
                }
            }
            if operation == .softmin { for i in dx.indices { dx[i] = -dx[i] } }
        case .logSumExp:
            try working.withUnsafeBufferPointer { xb in
                try dx.withUnsafeMutableBufferPointer { o in try Kernels.softmax(xb, layout: layout, into: o, threads: threads) }
            }
            // PyTorch's backward is dy · exp(x - lse). Where lse is +inf (a row holding +inf and
            // no NaN) that is NaN at the +inf entries and 0 elsewhere; softmax's row is all NaN there.
            let lse = try apply(working, layout)
            eachElement(layout) { flat, row in
                if lse[row] == .infinity { dx[flat] = working[flat] == .infinity ? .nan : 0 }
                dx[flat] *= dy[row]
            }
        case .sum:
            eachElement(layout) { flat, row in dx[flat] = dy[row] }
        case .mean:
            let n = Scalar(layout.length)
            eachElement(layout) { flat, row in dx[flat] = dy[row] / n }
        case .amax:
            let m = try apply(working, layout)
            var ties = [Int](repeating: 0, count: layout.rows)
            eachElement(layout) { flat, row in if working[flat] == m[row] { ties[row] += 1 } }
            // (dy / ties) · [x = max], as PyTorch: a row whose max is NaN has no entry equal to
            // it, so every entry is (dy / 0) · 0 = NaN.
            eachElement(layout) { flat, row in
                dx[flat] = dy[row] / Scalar(ties[row]) * (working[flat] == m[row] ? 1 : 0)
            }
        }
        if let order = plan.permutation {
            dx = transposed(dx, shape: plan.workingShape, order: inversePermutation(order))
        }
        return ["input": Tensor(uncheckedShape: x.shape, scalars: dx)]
    }

    /// The same function computing in `U` (for ``dtype``).
    private func inOtherPrecision<U: KernelScalar>(_: U.Type) -> AxisFunction<U> {
        AxisFunction<U>(operation, dims: dims, keepdim: keepdim, dtype: nil, threads: threads)
    }

    /// The operation's kernel on the working copy: one value per row, or per element.
    private func apply(_ x: [Scalar], _ layout: AxisLayout) throws -> [Scalar] {
        // amax's error for an empty axis comes before its rows are allocated.
        if operation == .amax { try checkMaxAxis(layout) }
        var out = [Scalar](repeating: 0, count: operation.keepsShape ? layout.count : layout.rows)
        let source = operation == .softmin ? x.map { -$0 } : x
        try source.withUnsafeBufferPointer { xb in
            try out.withUnsafeMutableBufferPointer { o in
                switch operation {
                case .softmax, .softmin: try Kernels.softmax(xb, layout: layout, into: o, threads: threads)
                case .logSoftmax: try Kernels.logSoftmax(xb, layout: layout, into: o, threads: threads)
                case .logSumExp: try Kernels.logSumExp(xb, layout: layout, into: o, threads: threads)
                case .sum: try rowSum(xb, layout: layout, into: o, threads: threads)
                case .mean: try rowMean(xb, layout: layout, into: o, threads: threads)
                case .amax: try rowMax(xb, layout: layout, into: o, threads: threads)
                }
            }
        }
        return out
    }
}

private func describeDims(_ dims: [Int]) -> String { "[" + dims.map(String.init).joined(separator: ", ") + "]" }

/// `values` (row-major, `shape`) with its dimensions reordered: dimension `k` of
/// the result is dimension `order[k]` of the input.
func transposed<T>(_ values: [T], shape: [Int], order: [Int]) -> [T] {
    guard !values.isEmpty else { return values }
    var strides = [Int](repeating: 1, count: shape.count)
    for d in stride(from: shape.count - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * shape[d + 1] }
    let newShape = order.map { shape[$0] }, newStrides = order.map { strides[$0] }
    var out = [T]()
    out.reserveCapacity(values.count)
    var index = [Int](repeating: 0, count: newShape.count)
    var offset = 0
    for _ in 0..<values.count {
        out.append(values[offset])
        var d = newShape.count - 1
        while d >= 0 {
            index[d] += 1
            offset += newStrides[d]
            if index[d] < newShape[d] { break }
            offset -= newStrides[d] * newShape[d]
            index[d] = 0
            d -= 1
        }
    }
    return out
}

func inversePermutation(_ order: [Int]) -> [Int] {
    var inverse = [Int](repeating: 0, count: order.count)
    for (k, d) in order.enumerated() { inverse[d] = k }
    return inverse
}

/// Visits every element of a layout with its flat index and its row (`o * inner + i`).
@inline(__always)
func eachElement(_ layout: AxisLayout, _ body: (_ flat: Int, _ row: Int) -> Void) {
    guard layout.outer > 0, layout.length > 0, layout.inner > 0 else { return }  // no elements (and no empty loops)
    var flat = 0
    for o in 0..<layout.outer {
        for _ in 0..<layout.length {
            for i in 0..<layout.inner {
                body(flat, o * layout.inner + i)
                flat += 1
            }
        }
    }
}

extension AxisFunction {
    /// The function of `input` along ``dims``.
    public func callAsFunction(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        try typedValue([.values(input)])
    }

    /// The function of `input` and the gradient of the sum of its outputs.
    public func valueWithGradient(_ input: Tensor<Scalar>) throws -> ValueWithGradient<Scalar> {
        try typedValueWithGradient([.values(input)])
    }
}
