import Loss
import Testing
import _TestSupport

@Suite struct TripletTests {
    let a = TestSupport.normal([6, 5], seed: 31)
    let p = TestSupport.normal([6, 5], seed: 32)
    /// The last two rows are pushed away from the anchors, so that their hinge is inactive.
    let n = try! Tensor(
        shape: [6, 5],
        scalars: TestSupport.normal([6, 5], seed: 33).scalars.enumerated().map { $0.offset >= 20 ? $0.element + 3 : $0.element })
    var inputs: LossInputs<Double> { LossInputs(["anchor": .values(a), "positive": .values(p), "negative": .values(n)]) }

    /// The smallest distance of any row to a kink of the loss: the hinge at 0 and, with swap, the tie of the two negatives.
    func kinkGap(_ d: some TripletDistance<Double>, margin: Double, swap: Bool) throws -> Double {
        var gap = Double.infinity
        for r in 0..<a.shape[0] {
            let row = { (t: Tensor<Double>) in Array(t.scalars[(r * 5)..<((r + 1) * 5)]) }
            let (ar, pr, nr) = (row(a), row(p), row(n))
            func dist(_ x: [Double], _ y: [Double]) throws -> Double {
                try x.withUnsafeBufferPointer { xb in try y.withUnsafeBufferPointer { yb in try d.distance(xb, yb) } }
            }
            let dn = try dist(ar, nr), ds = try dist(pr, nr)
            let dneg = swap ? min(dn, ds) : dn
            gap = min(gap, abs(margin + (try dist(ar, pr)) - dneg))
            if swap { gap = min(gap, abs(dn - ds)) }
        }
        return gap
    }

    @Test(arguments: Reduction.allCases, [1.0, 2.0, 3.0, Double.infinity])
    func tripletMarginLossPassesGradientCheck(reduction: Reduction, p norm: Double) throws {
        for swap in [false, true] {
            let loss = TripletMarginLoss<Double>(margin: 1, p: norm, swap: swap, reduction: reduction)
            #expect(try kinkGap(PairwiseDistance(p: norm), margin: 1, swap: swap) > 1e-3)
            let report = try GradientCheck.check(loss, inputs: inputs)
            #expect(report.passes(tolerance: 1e-7), "p \(norm) swap \(swap): \(report)")
        }
    }

    @Test(arguments: Reduction.allCases)
    func withDistancePassesGradientCheck(reduction: Reduction) throws {
        let distances: [any TripletDistance<Double>] = [PairwiseDistance(), CosineDistance(), squaredEuclidean]
        for distance in distances {
            for swap in [false, true] {
                let loss = TripletMarginWithDistanceLoss(
                    distanceFunction: distance, margin: 0.5, swap: swap, reduction: reduction)
                #expect(try kinkGap(distance, margin: 0.5, swap: swap) > 1e-3)
                let report = try GradientCheck.check(loss, inputs: inputs)
                #expect(report.passes(tolerance: 1e-7), "\(type(of: distance)) swap \(swap): \(report)")
            }
        }
    }

    /// Both hinge states occur in the data above, so the checks see active and inactive rows.
    @Test func dataHasActiveAndInactiveRows() throws {
        let values = try TripletMarginLoss<Double>(reduction: .none).forward(inputs).scalars
        #expect(values.contains { $0 == 0 })
        #expect(values.contains { $0 > 0 })
    }

    let squaredEuclidean = ClosureDistance<Double>(
        distance: { x, y in zip(x, y).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } },
        gradient: { x, y in
            let g = zip(x, y).map { 2 * ($0 - $1) }
            return (g, g.map { -$0 })
        })

    @Test func knownValues() throws {
        let anchor = Tensor<Double>([0, 0]), positive = Tensor<Double>([3, 4]), negative = Tensor<Double>([0, 1])
        // ‖a − p‖ = 5, ‖a − n‖ = 1: 1 + 5 − 1 = 5 (eps 0); L1: 7 − 1 + 1 = 7.
        let l2 = try TripletMarginLoss<Double>(eps: 0)(anchor, positive, negative: negative)
        #expect(l2.shape == [] && l2.scalar == 5)
        let l1 = try TripletMarginLoss<Double>(p: 1, eps: 0)(anchor, positive, negative: negative)
        #expect(l1.scalar == 7)
        // PyTorch adds eps to the difference: ‖(−3 + 1e-6, −4 + 1e-6)‖ − ‖(1e-6, −1 + 1e-6)‖ + 1
        let withEps = try TripletMarginLoss<Double>()(anchor, positive, negative: negative)
        let want = 1 + ((-3 + 1e-6) * (-3 + 1e-6) + (-4 + 1e-6) * (-4 + 1e-6)).squareRoot()
            - (1e-12 + (-1 + 1e-6) * (-1 + 1e-6)).squareRoot()
        #expect(abs(withEps.scalar! - want) < 1e-14)
        // Swap: d(p, n) = ‖(3, 3)‖ ≈ 4.24 is not smaller than d(a, n) = 1, so nothing changes.
        #expect(try TripletMarginLoss<Double>(eps: 0, swap: true)(anchor, positive, negative: negative).scalar == 5)
        // Cosine: a = (1, 0), p = (0, 1) → 1; n = (−1, 0) → 2: 0.5 + 1 − 2 < 0 → 0.
        let cos = try TripletMarginWithDistanceLoss<Double>(distanceFunction: CosineDistance(), margin: 0.5)(
            Tensor([1, 0]), Tensor([0, 1]), negative: Tensor([-1, 0]))
        #expect(cos.scalar == 0)
    }

    @Test func closureInitializerUsesTheClosures() throws {
        let loss = TripletMarginWithDistanceLoss<Double>(
            margin: 2, distance: { x, y in abs(x[0] - y[0]) }, gradient: { x, y in ([1], [-1]) })
        let v = try loss(Tensor([0]), Tensor([1]), negative: Tensor([3]))
        #expect(v.scalar == 0)  // 2 + 1 − 3
        let w = try loss(Tensor([0]), Tensor([1]), negative: Tensor([2]))
        #expect(w.scalar == 1)
    }

    @Test func registryMatchesTheStructs() throws {
        let byName = try LossRegistry.make(
            "triplet_margin_with_distance_loss",
            options: ["distance_function": .string("cosine"), "margin": .double(0.5), "swap": .bool(true), "reduction": .string("sum")],
            as: Double.self)
        let direct = TripletMarginWithDistanceLoss<Double>(distanceFunction: CosineDistance(), margin: 0.5, swap: true, reduction: .sum)
        #expect(try byName.forward(inputs) == direct.forward(inputs))
        #expect(throws: LossError.invalidOption(name: "distance_function", value: "\"manhattan\"", expected: "\"cosine\", \"pairwise_distance\" or None")) {
            try LossRegistry.make("triplet_margin_with_distance_loss", options: ["distance_function": .string("manhattan")], as: Double.self)
        }
    }

    @Test func badInputsThrowTypedErrors() {
        let short = LossInputs<Double>(["anchor": .values(a), "positive": .values(p), "negative": .values(Tensor([1, 2]))])
        #expect(throws: LossError.shapeMismatch(argument: "negative", expected: "rank 2 (the rank of anchor; sizes may broadcast)", actual: "[2]")) {
            try TripletMarginLoss<Double>().forward(short)
        }
        let cube = try! Tensor<Double>(zeros: [2, 2, 2])
        #expect(throws: LossError.shapeMismatch(argument: "anchor", expected: "(N, D) or (D)", actual: "[2, 2, 2]")) {
            try TripletMarginLoss<Double>().forward(LossInputs(["anchor": .values(cube), "positive": .values(cube), "negative": .values(cube)]))
        }
        #expect(throws: LossError.invalidOption(name: "margin", value: "0.0", expected: "a margin > 0")) {
            try TripletMarginWithDistanceLoss<Double>(margin: 0).forward(inputs)
        }
        #expect(throws: LossError.invalidOption(name: "p", value: "0.0", expected: "a norm degree > 0")) {
            try TripletMarginLoss<Double>(p: 0).forward(inputs)
        }
        #expect(throws: LossError.missingInput(name: "negative", expected: "a floating-point tensor")) {
            try TripletMarginLoss<Double>().forward(LossInputs(["anchor": .values(a), "positive": .values(p)]))
        }
        let badGradient = TripletMarginWithDistanceLoss<Double>(
            margin: 100, distance: { _, _ in 1 }, gradient: { _, _ in ([1], [1]) })
        #expect(throws: LossError.shapeMismatch(argument: "gradient of distance_function", expected: "5 entries for each vector", actual: "1 and 1")) {
            try badGradient.backward(inputs, upstream: Tensor(scalar: 1))
        }
        #expect(throws: LossError.shapeMismatch(argument: "upstream", expected: "[6]", actual: "[]")) {
            try TripletMarginLoss<Double>(reduction: .none).backward(inputs, upstream: Tensor(scalar: 1))
        }
    }

    /// triplet_margin_loss rejects margin <= 0, as the reference PyTorch does (ValueError).
    @Test func tripletMarginLossRejectsNonPositiveMargin() throws {
        for margin in [-1.0, 0] {
            #expect(throws: LossError.invalidOption(name: "margin", value: "\(margin)", expected: "a margin > 0")) {
                try TripletMarginLoss<Double>(margin: margin).forward(inputs)
            }
        }
        #expect(try TripletMarginLoss<Double>(margin: 0.25).forward(inputs).scalar != nil)
    }

    /// Anchor, positive and negative of one rank broadcast against each other, as in
    /// PyTorch: the loss of expanded copies, each gradient summed back.
    @Test(arguments: [false, true])
    func inputsOfOneRankBroadcast(swap: Bool) throws {
        for (k, (sa, sp, sn)) in [([3, 4], [1, 4], [3, 4]), ([3, 4], [3, 1], [1, 4]), ([4], [1], [4])].enumerated() {
            let seed = UInt64(990 + 10 * k)
            let out = sa.count == 1 ? [4] : [3, 4]
            let inputs = LossInputs<Double>([
                "anchor": .values(TestSupport.normal(sa, seed: seed)), "positive": .values(TestSupport.normal(sp, seed: seed + 1)),
                "negative": .values(TestSupport.normal(sn, seed: seed + 2)),
            ])
            for loss in [
                TripletMarginLoss<Double>(margin: 2, swap: swap, reduction: .none) as any LossFunction<Double>,
                TripletMarginWithDistanceLoss<Double>(margin: 2, swap: swap, reduction: .mean),
            ] {
                let problems = try TestSupport.broadcastProblems(
                    loss, inputs, ["anchor": (nil, out), "positive": (nil, out), "negative": (nil, out)], seed: seed + 3)
                #expect(problems.isEmpty, "\(sa) \(sp) \(sn): \(problems)")
            }
        }
    }
}
