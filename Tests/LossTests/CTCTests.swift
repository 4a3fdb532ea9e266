import Foundation
import Loss
import Testing
import _TestSupport

/// `log_softmax` over the classes followed by CTC, differentiated with respect
/// to the logits: the composition whose gradient PyTorch's CTC convention
/// (an extra `exp(lp)` term) gets right, so finite differences can check it.
struct LogSoftmaxThenCTC: LossFunction {
    typealias Scalar = Double
    var ctc: CTCLoss<Double>

    var inputSpecs: [InputSpec] {
        [.values("logits"), .indices("targets"), .indices("input_lengths"), .indices("target_lengths")]
    }

    static func logSoftmax(_ x: Tensor<Double>) -> [Double] {
        let c = x.shape.last!
        var out = x.scalars
        for row in 0..<(out.count / c) {
            let r = (row * c)..<((row + 1) * c)
            let m = out[r].max()!
            let lse = m + log(out[r].reduce(0) { $0 + exp($1 - m) })
            for k in r { out[k] -= lse }
        }
        return out
    }

    func ctcInputs(_ inputs: LossInputs<Double>) throws -> LossInputs<Double> {
        let x = try inputs.values("logits")
        var i = inputs
        i["logits"] = nil
        i["log_probs"] = .values(try Tensor(shape: x.shape, scalars: Self.logSoftmax(x)))
        return i
    }

    func forward(_ inputs: LossInputs<Double>) throws -> Tensor<Double> { try ctc.forward(ctcInputs(inputs)) }

    func backward(_ inputs: LossInputs<Double>, upstream: Tensor<Double>) throws -> [String: Tensor<Double>] {
        let i = try ctcInputs(inputs)
        let lp = try i.values("log_probs").scalars
        let g = try ctc.backward(i, upstream: upstream)["log_probs"]!.scalars
        let c = try inputs.values("logits").shape.last!
        var out = g
        for row in 0..<(g.count / c) {
            let r = (row * c)..<((row + 1) * c)
            let total = g[r].reduce(0, +)
            for k in r { out[k] = g[k] - exp(lp[k]) * total }
        }
        return ["logits": try Tensor(shape: try inputs.values("logits").shape, scalars: out)]
    }
}

@Suite struct CTCTests {
    static let (steps, batch, classes, padded) = (9, 4, 5, 4)

    /// Sequence 1 has a repeated label, sequence 2 fewer time steps, sequence 3 an empty target.
    func inputs(blank: Int = 0, logits: Bool = true) -> LossInputs<Double> {
        let labels = blank == 0 ? [1, 2, 3, 1, 2, 2, 4, 0, 3, 1, 4, 2, 0, 0, 0, 0] : [0, 1, 2, 3, 1, 1, 3, 0, 2, 0, 3, 1, 0, 0, 0, 0]
        let x = TestSupport.normal([Self.steps, Self.batch, Self.classes], scale: 1.5, seed: 51)
        let values = logits ? x : try! Tensor(shape: x.shape, scalars: LogSoftmaxThenCTC.logSoftmax(x))
        return LossInputs([
            logits ? "logits" : "log_probs": .values(values),
            "targets": .indices(try! Tensor(shape: [Self.batch, Self.padded], scalars: labels)),
            "input_lengths": .indices(Tensor([9, 9, 6, 4])),
            "target_lengths": .indices(Tensor([4, 3, 2, 0])),
        ])
    }

    @Test(arguments: Reduction.allCases, [0, 4])
    func passesGradientCheckThroughLogSoftmax(reduction: Reduction, blank: Int) throws {
        for zeroInfinity in [false, true] {
            let loss = LogSoftmaxThenCTC(ctc: CTCLoss(blank: blank, zeroInfinity: zeroInfinity, reduction: reduction))
            let report = try GradientCheck.check(loss, inputs: inputs(blank: blank))
            #expect(report.passes(tolerance: 1e-7), "blank \(blank) zero_infinity \(zeroInfinity): \(report)")
        }
    }

    /// An impossible sequence under zero_infinity: loss 0, no gradient, and the others still checked.
    @Test(arguments: Reduction.allCases)
    func zeroInfinityPassesGradientCheck(reduction: Reduction) throws {
        var i = inputs()
        // sequence 0 has 4 labels without repeats: 3 steps cannot align them
        i["input_lengths"] = .indices(Tensor([3, 9, 6, 4]))
        let loss = LogSoftmaxThenCTC(ctc: CTCLoss(zeroInfinity: true, reduction: reduction))
        let report = try GradientCheck.check(loss, inputs: i)
        #expect(report.passes(tolerance: 1e-7), "\(report)")
        let perSequence = try CTCLoss<Double>(zeroInfinity: true, reduction: .none).forward(
            LogSoftmaxThenCTC(ctc: CTCLoss()).ctcInputs(i))
        #expect(perSequence[flat: 0] == 0 && perSequence[flat: 1] > 0)
    }

    /// PyTorch's convention: the gradient is d(loss)/d(log_probs) plus exp(log_probs).
    @Test func gradientCarriesPyTorchsExpTerm() throws {
        let i = inputs(logits: false)
        let loss = CTCLoss<Double>(reduction: .sum)
        let analytic = try loss.backward(i, upstream: Tensor(scalar: 1))["log_probs"]!.scalars
        let lp = try i.values("log_probs")
        let h = 1e-6
        for k in [0, 7, 23, 61, 99, 150, 179] {
            var plus = lp.scalars, minus = lp.scalars
            plus[k] += h
            minus[k] -= h
            var ip = i, im = i
            ip["log_probs"] = .values(try Tensor(shape: lp.shape, scalars: plus))
            im["log_probs"] = .values(try Tensor(shape: lp.shape, scalars: minus))
            let numeric = (try loss.forward(ip).scalar! - loss.forward(im).scalar!) / (2 * h)
            let t = k / (Self.batch * Self.classes), sequence = (k / Self.classes) % Self.batch
            let used = t < [9, 9, 6, 4][sequence]
            let want = used ? numeric + exp(lp[flat: k]) : 0
            #expect(abs(analytic[k] - want) < 1e-7, "entry \(k): \(analytic[k]) vs \(want)")
        }
    }

    @Test func knownValues() throws {
        let lp = try Tensor<Double>(shape: [2, 1, 2], scalars: [log(0.4), log(0.6), log(0.3), log(0.7)])
        func run(_ labels: [Int], steps: Int, zeroInfinity: Bool = false) throws -> Double {
            try CTCLoss<Double>(zeroInfinity: zeroInfinity, reduction: .sum)(
                lp, Tensor(shape: [1, max(labels.count, 1)], scalars: labels.isEmpty ? [1] : labels),
                inputLengths: Tensor([steps]), targetLengths: Tensor([labels.count])
            ).scalar!
        }
        // "1" over two steps: 11, b1, 1b
        #expect(abs(try run([1], steps: 2) - -log(0.6 * 0.7 + 0.4 * 0.7 + 0.6 * 0.3)) < 1e-14)
        #expect(abs(try run([1], steps: 1) - -log(0.6)) < 1e-14)
        #expect(abs(try run([], steps: 2) - -log(0.4 * 0.3)) < 1e-14)
        #expect(try run([], steps: 0) == 0)
        // "1 1" needs a blank between the repeats: three steps, only two available
        #expect(try run([1, 1], steps: 2) == .infinity)
        #expect(try run([1, 1], steps: 2, zeroInfinity: true) == 0)
        // "1 1" at one step each is impossible too: inf without zero_infinity has NaN gradients, as PyTorch
        let g = try CTCLoss<Double>(reduction: .sum).backward(
            LossInputs([
                "log_probs": .values(lp), "targets": .indices(Tensor(shape: [1, 2], scalars: [1, 1])),
                "input_lengths": .indices(Tensor([2])), "target_lengths": .indices(Tensor([2])),
            ]), upstream: Tensor(scalar: 1))["log_probs"]!
        #expect(g.scalars.allSatisfy { $0.isNaN })
    }

    @Test func meanDividesByTargetLengthsThenAverages() throws {
        let i = inputs(logits: false)
        let each = try CTCLoss<Double>(reduction: .none).forward(i).scalars
        let mean = try CTCLoss<Double>(reduction: .mean).forward(i).scalar!
        let want = zip(each, [4, 3, 2, 0]).map { $0 / Double(max($1, 1)) }.reduce(0, +) / 4
        #expect(abs(mean - want) < 1e-14 * want)
        let sum = try CTCLoss<Double>(reduction: .sum).forward(i).scalar!
        #expect(abs(sum - each.reduce(0, +)) < 1e-13 * sum)
    }

    @Test func floatAgreesWithDouble() throws {
        let i = inputs(logits: false)
        var f = LossInputs<Float>()
        for name in i.names {
            switch i[name]! {
            case .values(let t): f[name] = .values(t.converted())
            case .indices(let t): f[name] = .indices(t)
            }
        }
        let d = try CTCLoss<Double>(reduction: .none).forward(i).scalars
        let s = try CTCLoss<Float>(reduction: .none).forward(f).scalars.map(Double.init)
        #expect(TestSupport.maxRelativeDifference(s, d) < 1e-5)
    }

    /// PyTorch's other target layout: the sequences' labels concatenated, `(Σ target_lengths)`.
    /// Same losses and gradients as the padded layout, bit for bit; label errors name the
    /// position in the concatenated tensor; the count must be the sum exactly.
    @Test(arguments: Reduction.allCases)
    func concatenatedTargetsMatchPadded(reduction: Reduction) throws {
        let padded = inputs(logits: false)
        var concatenated = padded
        let rows = try padded.indices("targets").scalars, lengths = try padded.indices("target_lengths").scalars
        let labels = (0..<Self.batch).flatMap { i in rows[i * Self.padded..<i * Self.padded + lengths[i]] }
        #expect(labels.count == 9)
        concatenated["targets"] = .indices(Tensor(labels))
        let ctc = CTCLoss<Double>(reduction: reduction)
        #expect(try ctc.forward(concatenated) == ctc.forward(padded))
        let upstream = reduction == .none ? Tensor([0.5, -1, 2, 1.5]) : Tensor(scalar: 0.7)
        #expect(try ctc.backward(concatenated, upstream: upstream) == ctc.backward(padded, upstream: upstream))

        var bad = concatenated
        bad["targets"] = .indices(Tensor([1, 2, 3, 1, 2, 2, 4, 0, 1]))  // the third sequence starts with the blank
        #expect(throws: LossError.indexOutOfRange(argument: "targets", position: 7, index: 0, validRange: "[0, 5) without the blank 0")) {
            try ctc.forward(bad)
        }
        bad["targets"] = .indices(Tensor(Array(labels.dropLast())))
        #expect(throws: LossError.shapeMismatch(
            argument: "targets", expected: "[9] (the sum of target_lengths, concatenated)", actual: "[8]")) {
            try ctc.forward(bad)
        }
        bad = concatenated
        bad["target_lengths"] = .indices(Tensor([Int.max, Int.max, 3, 0]))
        #expect(throws: LossError.shapeMismatch(
            argument: "targets", expected: "the sum of target_lengths, which overflows", actual: "[9]")) {
            try ctc.forward(bad)
        }
    }

    /// PyTorch's unbatched form, `(T, C)` with 0-d lengths, is sequence 1 of the batch
    /// alone: the same loss (0-d for `none`) and the same gradient, bit for bit.
    @Test(arguments: Reduction.allCases)
    func unbatchedInputIsABatchOfOne(reduction: Reduction) throws {
        let batch = inputs(logits: false)
        let lp = try batch.values("log_probs"), rows = try batch.indices("targets")
        let lengths = try batch.indices("target_lengths"), steps = try batch.indices("input_lengths")
        let i = 1, c = Self.classes
        let column = (0..<Self.steps).flatMap { t in (0..<c).map { lp[flat: (t * Self.batch + i) * c + $0] } }
        let labels = Array(rows.scalars[i * Self.padded..<i * Self.padded + lengths[flat: i]])
        let single = LossInputs<Double>([
            "log_probs": .values(try Tensor(shape: [Self.steps, c], scalars: column)), "targets": .indices(Tensor(labels)),
            "input_lengths": .indices(Tensor(scalar: steps[flat: i])), "target_lengths": .indices(Tensor(scalar: lengths[flat: i])),
        ])
        let one = LossInputs<Double>([
            "log_probs": .values(try Tensor(shape: [Self.steps, 1, c], scalars: column)), "targets": .indices(Tensor(labels)),
            "input_lengths": .indices(Tensor([steps[flat: i]])), "target_lengths": .indices(Tensor([lengths[flat: i]])),
        ])
        let ctc = CTCLoss<Double>(reduction: reduction)
        let value = try ctc.forward(single)
        #expect(value.shape == [])
        #expect(value.scalars == (try ctc.forward(one)).scalars)
        let upstream = Tensor<Double>(scalar: 0.7)
        let g = try ctc.backward(single, upstream: upstream)["log_probs"]!
        let gOne = try ctc.backward(one, upstream: reduction == .none ? Tensor([0.7]) : upstream)["log_probs"]!
        #expect(g.shape == [Self.steps, c])
        #expect(g.scalars == gOne.scalars)
        if reduction == .none {
            #expect(throws: LossError.self) { try ctc.backward(single, upstream: Tensor([0.7])) }
        }
        var bad = single
        bad["input_lengths"] = .indices(Tensor([9, 9]))
        #expect(throws: LossError.shapeMismatch(
            argument: "input_lengths", expected: "() or [1] (for an unbatched (T, C) log_probs)", actual: "[2]")) {
            try ctc.forward(bad)
        }
    }

    @Test func badInputsThrowTypedErrors() {
        func with(_ name: String, _ value: LossInput<Double>) -> LossInputs<Double> {
            var i = inputs(logits: false)
            i[name] = value
            return i
        }
        let ctc = CTCLoss<Double>()
        #expect(throws: LossError.indexOutOfRange(argument: "input_lengths", position: 1, index: 10, validRange: "[0, 9]")) {
            try ctc.forward(with("input_lengths", .indices(Tensor([9, 10, 6, 4]))))
        }
        #expect(throws: LossError.indexOutOfRange(argument: "input_lengths", position: 3, index: -1, validRange: "[0, 9]")) {
            try ctc.forward(with("input_lengths", .indices(Tensor([9, 9, 6, -1]))))
        }
        #expect(throws: LossError.indexOutOfRange(argument: "target_lengths", position: 2, index: 5, validRange: "[0, 4]")) {
            try ctc.forward(with("target_lengths", .indices(Tensor([4, 3, 5, 0]))))
        }
        #expect(throws: LossError.indexOutOfRange(argument: "targets", position: 5, index: 0, validRange: "[0, 5) without the blank 0")) {
            try ctc.forward(with("targets", .indices(try! Tensor(shape: [4, 4], scalars: [1, 2, 3, 1, 2, 0, 4, 0, 3, 1, 4, 2, 0, 0, 0, 0]))))
        }
        #expect(throws: LossError.indexOutOfRange(argument: "targets", position: 8, index: 5, validRange: "[0, 5) without the blank 0")) {
            try ctc.forward(with("targets", .indices(try! Tensor(shape: [4, 4], scalars: [1, 2, 3, 1, 2, 2, 4, 0, 5, 1, 4, 2, 0, 0, 0, 0]))))
        }
        #expect(throws: LossError.invalidOption(name: "blank", value: "5", expected: "a class index in [0, 5)")) {
            try CTCLoss<Double>(blank: 5).forward(inputs(logits: false))
        }
        #expect(throws: LossError.shapeMismatch(
            argument: "targets", expected: "[9] (the sum of target_lengths, concatenated)", actual: "[12]")) {
            try ctc.forward(with("targets", .indices(Tensor(Array(repeating: 1, count: 12)))))
        }
        #expect(throws: LossError.shapeMismatch(
            argument: "targets", expected: "(N, S) with N = 4 (padded targets), or (sum of target_lengths) (concatenated)",
            actual: "[3, 4]")) {
            try ctc.forward(with("targets", .indices(try! Tensor(shape: [3, 4], scalars: Array(repeating: 1, count: 12)))))
        }
        #expect(throws: LossError.shapeMismatch(argument: "target_lengths", expected: "[4]", actual: "[3]")) {
            try ctc.forward(with("target_lengths", .indices(Tensor([1, 1, 1]))))
        }
        #expect(throws: LossError.shapeMismatch(argument: "log_probs", expected: "(T, N, C) or (T, C)", actual: "[9, 4, 5, 1]")) {
            try ctc.forward(with("log_probs", .values(try! Tensor(zeros: [9, 4, 5, 1]))))
        }
        // An unbatched (T, C) log_probs with the batch's lengths.
        #expect(throws: LossError.shapeMismatch(
            argument: "input_lengths", expected: "() or [1] (for an unbatched (T, C) log_probs)", actual: "[4]")) {
            try ctc.forward(with("log_probs", .values(try! Tensor(zeros: [9, 5]))))
        }
        #expect(throws: LossError.missingInput(name: "input_lengths", expected: "an integer (index) tensor")) {
            try ctc.forward(with("input_lengths", .values(Tensor([9, 9, 6, 4]))))
        }
    }
}
