import Loss
import Testing

// NaN and infinity follow PyTorch: NaN propagates (to its own row or element,
// and to a reduction over it), a -inf logit is a valid logit with probability
// exactly 0, and a mean over nothing (every target ignored, an empty input) is NaN.
// Each check runs in Float and Double.

private func values<T: KernelScalar>(_ v: [Double], _ shape: [Int]? = nil, as _: T.Type) -> Tensor<T> {
    try! Tensor(shape: shape ?? [v.count], scalars: v.map { T($0) })
}

private func indices(_ v: [Int]) -> Tensor<Int> { Tensor(v) }

/// `a` and `b` agree, NaN matching NaN and infinities matching exactly.
private func same<T: KernelScalar>(_ a: [T], _ b: [Double], tolerance: Double = 1e-6) -> Bool {
    a.count == b.count
        && zip(a, b).allSatisfy { x, y in
            let x = Double(x)
            if y.isNaN { return x.isNaN }
            if y.isInfinite { return x == y }
            return abs(x - y) <= tolerance * max(1, abs(y))
        }
}

private func axis<T: KernelScalar>(_ op: AxisOperation, _ v: [Double], _ shape: [Int], as t: T.Type) throws -> [T] {
    try AxisFunction<T>(op, dim: -1).forward(LossInputs(["input": .values(values(v, shape, as: t))])).scalars
}

@Suite struct NonFiniteTests {
    @Test(arguments: [true, false])
    func softmaxFamily(float: Bool) throws {
        func check<T: KernelScalar>(_ t: T.Type) throws {
            // NaN makes its whole row NaN and leaves the other row alone.
            #expect(same(try axis(.softmax, [.nan, 1, 0, 0], [2, 2], as: t), [.nan, .nan, 0.5, 0.5]))
            // -inf has probability exactly 0; the rest is a softmax without it.
            let p = try axis(.softmax, [-.infinity, 0, 0], [1, 3], as: t)
            #expect(p[0] == 0 && same(Array(p[1...]), [0.5, 0.5]))
            // A row of -inf is NaN (0/0), as torch.softmax.
            #expect(same(try axis(.softmax, [-.infinity, -.infinity], [1, 2], as: t), [.nan, .nan]))
            #expect(same(try axis(.logSoftmax, [-.infinity, 0], [1, 2], as: t), [-.infinity, 0]))
            #expect(same(try axis(.logSumExp, [-.infinity, -.infinity, .infinity, 0], [2, 2], as: t), [-.infinity, .infinity]))
            #expect(same(try axis(.amax, [1, .nan, 3, 2], [2, 2], as: t), [.nan, 3]))
            #expect(same(try axis(.sum, [1, .infinity, -.infinity, .infinity], [2, 2], as: t), [.infinity, .nan]))
            // Reductions over an empty axis: sum 0, mean NaN, logsumexp -inf.
            #expect(same(try axis(.sum, [], [2, 0], as: t), [0, 0]))
            #expect(same(try axis(.mean, [], [2, 0], as: t), [.nan, .nan]))
            #expect(same(try axis(.logSumExp, [], [2, 0], as: t), [-.infinity, -.infinity]))
        }
        if float { try check(Float.self) } else { try check(Double.self) }
    }

    @Test(arguments: [true, false])
    func crossEntropyWithInfiniteAndNaNLogits(float: Bool) throws {
        func check<T: KernelScalar>(_ t: T.Type) throws {
            let x = values([0, -.infinity, 1, /* row 2 */ .nan, 0, 0, /* row 3 */ -.infinity, 0, 0], [3, 3], as: t)
            let loss = CrossEntropyLoss<T>(reduction: .none)
            let r = try loss.valueWithGradient(x, indices([0, 1, 0]))
            let (value, gradient) = (r.value, r.gradient)
            let lse = Double.log(1 + Double.exp(1))
            // Row 0: -inf is a valid logit (probability 0, gradient 0).
            // Row 1: NaN propagates to its row only. Row 2: the target's logit is -inf: loss +inf.
            #expect(same(value.scalars, [lse, .nan, .infinity]))
            let g = gradient.scalars
            #expect(g[1] == 0)
            #expect(same(Array(g[0..<3]), [1 / (1 + Double.exp(1)) - 1, 0, Double.exp(1) / (1 + Double.exp(1))]))
            #expect(g[3..<6].allSatisfy { $0.isNaN })
            #expect(same(Array(g[6..<9]), [-1, 0.5, 0.5]))
            // A NaN anywhere makes the mean NaN.
            #expect(try CrossEntropyLoss<T>()(x, indices([0, 1, 0])).scalar!.isNaN)
        }
        if float { try check(Float.self) } else { try check(Double.self) }
    }

    @Test(arguments: [true, false])
    func everyTargetIgnored(float: Bool) throws {
        func check<T: KernelScalar>(_ t: T.Type) throws {
            let x = values([1, 2, 3, 4], [2, 2], as: t)
            let ignored = indices([-100, -100])
            #expect(try CrossEntropyLoss<T>()(x, ignored).scalar!.isNaN)
            #expect(try CrossEntropyLoss<T>(reduction: .sum)(x, ignored).scalar == 0)
            #expect(try CrossEntropyLoss<T>(reduction: .none)(x, ignored).scalars == [0, 0])
            #expect(try NLLLoss<T>()(x, ignored).scalar!.isNaN)
            let z = try CrossEntropyZLoss<T>().forward(LossInputs(["input": .values(x), "target": .indices(ignored)]))
            #expect(z.scalar!.isNaN)
            // The gradient of an all-ignored mean is 0 everywhere (every row is skipped), as in PyTorch.
            let g = try CrossEntropyLoss<T>().valueWithGradient(x, ignored).gradient
            #expect(g.scalars.allSatisfy { $0 == 0 })
        }
        if float { try check(Float.self) } else { try check(Double.self) }
    }

    @Test(arguments: [true, false])
    func elementwiseLossesPropagateNaN(float: Bool) throws {
        func check<T: KernelScalar>(_ t: T.Type) throws {
            let inputs = LossInputs<T>(["input": .values(values([.nan, 1, 2], as: t)), "target": .values(values([0, 1, 1], as: t))])
            for loss in [MSELoss<T>(reduction: .none), L1Loss<T>(reduction: .none)] as [any LossFunction<T>] {
                let v = try loss.forward(inputs).scalars
                #expect(v[0].isNaN && v[1] == 0 && v[2] == 1)
                let g = try loss.backward(inputs, upstream: values([1, 1, 1], as: t))["input"]!.scalars
                // MSE's gradient 2 (x - y) is NaN; L1's is sign(x - y), and torch.sign(NaN) is 0.
                #expect(loss is MSELoss<T> ? g[0].isNaN : g[0] == 0)
                #expect(g[1] == 0 && g[2] > 0)
            }
            #expect(try MSELoss<T>().forward(inputs).scalar!.isNaN)
            #expect(try SmoothL1Loss<T>().forward(inputs).scalar!.isNaN)
            // Infinity: |inf - 1| = inf, (inf - inf) = NaN.
            let inf = LossInputs<T>(["input": .values(values([.infinity, .infinity], as: t)), "target": .values(values([1, .infinity], as: t))])
            #expect(same(try L1Loss<T>(reduction: .none).forward(inf).scalars, [.infinity, .nan]))
        }
        if float { try check(Float.self) } else { try check(Double.self) }
    }

    @Test(arguments: [true, false])
    func emptyInputsHaveNaNMeans(float: Bool) throws {
        func check<T: KernelScalar>(_ t: T.Type) throws {
            let empty = LossInputs<T>(["input": .values(values([], as: t)), "target": .values(values([], as: t))])
            #expect(try MSELoss<T>().forward(empty).scalar!.isNaN)
            #expect(try L1Loss<T>().forward(empty).scalar!.isNaN)
            #expect(try MSELoss<T>(reduction: .sum).forward(empty).scalar == 0)
            #expect(try HuberLoss<T>().forward(empty).scalar!.isNaN)
            let emptyBatch = values([], [0, 3], as: t)
            #expect(try CrossEntropyLoss<T>()(emptyBatch, Tensor<Int>([])).scalar!.isNaN)
            #expect(try CrossEntropyLoss<T>(reduction: .sum)(emptyBatch, Tensor<Int>([])).scalar == 0)
        }
        if float { try check(Float.self) } else { try check(Double.self) }
    }

    /// A NaN behind a hinge stays NaN, as PyTorch's clamp keeps it (Swift's max(0, NaN) is 0):
    /// the loss, and so any mean over it. The gradient is autograd's: the clamp's backward
    /// passes 0 on (NaN > 0 is false), which the chain rule then multiplies by the rest.
    @Test(arguments: [true, false])
    func hingesKeepNaN(float: Bool) throws {
        func check<T: KernelScalar>(_ t: T.Type) throws {
            let nan = Double.nan
            let ranking = LossInputs<T>([
                "input1": .values(values([nan, 1, 2], as: t)), "input2": .values(values([0, 3, 1], as: t)),
                "target": .values(values([-1, 1, -1], as: t)),
            ])
            let mrl = MarginRankingLoss<T>(margin: 0.3, reduction: .none)
            #expect(same(try mrl.forward(ranking).scalars, [nan, 2.3, 1.3]))
            #expect(try MarginRankingLoss<T>(margin: 0.3).forward(ranking).scalar!.isNaN)
            let g = try mrl.backward(ranking, upstream: values([1, 1, 1], as: t))
            // The clamp passes 0 on: input gradients 0; the target's -(0 · (x1 - x2)) is NaN.
            #expect(same(g["input1"]!.scalars, [0, -1, 1]) && same(g["input2"]!.scalars, [0, 1, -1]))
            #expect(same(g["target"]!.scalars, [nan, 2, -1]))

            let embedding = LossInputs<T>(["input": .values(values([nan, 1, nan], as: t)), "target": .values(values([-1, 1, 1], as: t))])
            #expect(same(try HingeEmbeddingLoss<T>(reduction: .none).forward(embedding).scalars, [nan, 1, nan]))
            #expect(same(try HingeEmbeddingLoss<T>(reduction: .none).backward(embedding, upstream: values([1, 1, 1], as: t))["input"]!.scalars, [0, 1, 1]))

            let cosine = LossInputs<T>([
                "input1": .values(values([nan, 1, 1, 2], [2, 2], as: t)), "input2": .values(values([1, 1, 1, 0], [2, 2], as: t)),
                "target": .values(values([-1, -1], as: t)),
            ])
            let c = try CosineEmbeddingLoss<T>(reduction: .none).forward(cosine).scalars
            #expect(c[0].isNaN && c[1].isFinite && c[1] > 0)
            #expect(try CosineEmbeddingLoss<T>().forward(cosine).scalar!.isNaN)

            let hinge = LossInputs<T>(["input": .values(values([nan, 0.5], as: t)), "target": .values(values([1, -1], as: t))])
            #expect(same(try HingeLoss<T>(reduction: .none).forward(hinge).scalars, [nan, 1.5]))
            #expect(same(try SquaredHingeLoss<T>(reduction: .none).forward(hinge).scalars, [nan, 2.25]))
            let hg = try HingeLoss<T>(reduction: .none).backward(hinge, upstream: values([1, 1], as: t))
            #expect(same(hg["input"]!.scalars, [0, 1]) && same(hg["target"]!.scalars, [nan, -0.5]))

            // Triplets: a NaN row's distances are NaN, and 0 times their NaN gradient is NaN,
            // for every input of that row; the other row is untouched.
            let triplet = LossInputs<T>([
                "anchor": .values(values([nan, 1, 1, 2], [2, 2], as: t)),
                "positive": .values(values([1, 1, 1, 0], [2, 2], as: t)),
                "negative": .values(values([0, 1, 5, 5], [2, 2], as: t)),
            ])
            for swap in [false, true] {
                let loss = TripletMarginLoss<T>(swap: swap, reduction: .none)
                #expect(try loss.forward(triplet).scalars[0].isNaN)
                let tg = try loss.backward(triplet, upstream: values([1, 1], as: t))
                for name in ["anchor", "positive", "negative"] {
                    let v = tg[name]!.scalars
                    #expect(v[0].isNaN && v[1].isNaN && v[2] == 0 && v[3] == 0, "\(name) swap \(swap): \(v)")
                }
            }
        }
        if float { try check(Float.self) } else { try check(Double.self) }
    }

    /// amax of a row whose max is NaN: no entry equals NaN, so PyTorch's (dy / count) · mask
    /// is NaN for the whole row. logsumexp of a row holding +inf: PyTorch's dy · exp(x - lse)
    /// is NaN at +inf and 0 elsewhere (softmax's row would be all NaN).
    @Test(arguments: [true, false])
    func reductionGradientsAtNaNAndInfinity(float: Bool) throws {
        func check<T: KernelScalar>(_ t: T.Type) throws {
            let x = LossInputs<T>(["input": .values(values([.nan, 1, 2, 1, 3, 3], [2, 3], as: t))])
            let amax = try AxisFunction<T>(.amax, dim: 1).backward(x, upstream: values([1, 1], as: t))["input"]!.scalars
            #expect(same(amax, [.nan, .nan, .nan, 0, 0.5, 0.5]))
            let y = LossInputs<T>(["input": .values(values([.infinity, 1, 2, -.infinity, -.infinity, -.infinity], [2, 3], as: t))])
            let lse = try AxisFunction<T>(.logSumExp, dim: 1).backward(y, upstream: values([1, 1], as: t))["input"]!.scalars
            #expect(same(lse, [.nan, 0, 0, .nan, .nan, .nan]))
        }
        if float { try check(Float.self) } else { try check(Double.self) }
    }

    @Test func ctcImpossibleAlignmentIsInfiniteOrZero() throws {
        // T = 1 step cannot emit two labels.
        let lp = try Tensor<Double>(shape: [1, 1, 3], scalars: [Double.log(0.5), Double.log(0.25), Double.log(0.25)])
        let inputs = LossInputs<Double>([
            "log_probs": .values(lp), "targets": .indices(try Tensor(shape: [1, 2], scalars: [1, 2])),
            "input_lengths": .indices(Tensor([1])), "target_lengths": .indices(Tensor([2])),
        ])
        let plain = CTCLoss<Double>(reduction: .sum)
        #expect(try plain.forward(inputs).scalar == .infinity)
        #expect(try plain.backward(inputs, upstream: Tensor(scalar: 1))["log_probs"]!.scalars.allSatisfy { $0.isNaN })
        let zeroed = CTCLoss<Double>(zeroInfinity: true, reduction: .sum)
        #expect(try zeroed.forward(inputs).scalar == 0)
        #expect(try zeroed.backward(inputs, upstream: Tensor(scalar: 1))["log_probs"]!.scalars.allSatisfy { $0 == 0 })
    }

    @Test func bceClampsLogsOfZeroAndOne() throws {
        // log(0) is clamped at -100, as in PyTorch: p = 0 with y = 1 gives exactly 100, not inf.
        let inputs = LossInputs<Double>(["input": .values(Tensor([0, 1])), "target": .values(Tensor([1, 0]))])
        #expect(try BCELoss<Double>(reduction: .none).forward(inputs).scalars == [100, 100])
    }
}
