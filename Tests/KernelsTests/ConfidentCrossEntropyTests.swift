import Kernels
import Testing
import _TestSupport

/// Cross-entropy rows whose target probability is within 2^-8 of 1 (a well-trained model's):
/// the target's gradient entry, `g ((1 - eps) w_t + eps/C W) p_t - g (1 - eps) w_t`, cancels, and
/// Float rounded p_t to 1 once 1 - p_t fell below 6e-8 (the entry came out 0, as PyTorch's
/// float32 gives). The kernels take it as minus the sum of the row's other entries (the
/// gradient sums to 0 over a row). Checked on every instruction set and every row path (short
/// rows, 16-row groups, three sweeps, the one read out of cache), against a Double reference
/// that takes 1 - p_t as the sum of the other probabilities: 1e-4 relative to the entry itself.
@Suite(.serialized) struct ConfidentCrossEntropyTests {
    /// Rows of `length` classes whose target logit leads the others by gaps that put
    /// 1 - p_t between about 1e-3 and 1e-13; one row in four is left unconfident.
    static func logits(length: Int, rows: Int) -> (x: [Float], targets: [Int]) {
        let noise = TestSupport.normal([rows, length], seed: 901).scalars
        var x = noise.map { Float($0) }, targets = [Int]()
        for r in 0..<rows {
            let t = (r * 7919) % length
            targets.append(t)
            let gap = r % 4 == 3 ? 0 : 8 + Double(r % 23)
            x[r * length + t] = Float(3 + gap + Double.log(Double(length)))
        }
        return (x, targets)
    }

    /// The gradient (gradient scale 1 / rows) through LongCrossEntropyRowTests' call.
    func run(_ x: [Float], _ targets: [Int], length: Int, set: InstructionSet, weights: [Float]?, smoothing: Float) throws -> [Float] {
        try LongCrossEntropyRowTests().crossEntropy(
            x, targets: targets, length: length, set: set, weights: weights, smoothing: smoothing, fill: .nan).grad
    }

    /// The worst error of the target entries relative to their terms' magnitudes, and how
    /// many rows had 1 - p_t below 6e-8.
    func targetErrors(_ grad: [Float], _ x: [Float], _ targets: [Int], length: Int, weights: [Float]?, smoothing: Double)
        -> (worst: Double, tiny: Int)
    {
        let rows = x.count / length, g = 1 / Double(rows)
        let logp = referenceSoftmax(x.map(Double.init), AxisLayout(outer: rows, length: length), log: true)
        var worst = 0.0, tiny = 0
        for r in 0..<rows {
            let t = targets[r], base = r * length
            let w = { (k: Int) in Double(weights?[k] ?? 1) }
            let total = (0..<length).reduce(0.0) { $0 + smoothing / Double(length) * w($1) } + (1 - smoothing) * w(t)
            let others = (0..<length).reduce(0.0) { $1 == t ? $0 : $0 + Double.exp(logp[base + $1]) }  // 1 - p_t
            if others < 6e-8 { tiny += 1 }
            let smoothingRest = (0..<length).reduce(0.0) { $1 == t ? $0 : $0 + smoothing / Double(length) * w($1) }
            let want = g * (smoothingRest - total * others)  // g (p_t total - a_t)
            // Relative to the sum of the two terms' magnitudes (with smoothing they can cancel
            // by design); without smoothing that is |want| itself.
            let scale = g * (smoothingRest + total * others)
            if scale == 0 {
                worst = max(worst, grad[base + t] == 0 ? 0 : .infinity)
            } else {
                worst = max(worst, abs(Double(grad[base + t]) - want) / scale)
            }
        }
        return (worst, tiny)
    }

    @Test(arguments: [1, 5, 9, 15, 100, 1000, 20000])
    func targetEntryKeepsItsDigits(length: Int) throws {
        let rows = max(8, min(200, 400_000 / length))
        let (x, targets) = Self.logits(length: length, rows: rows)
        let w = LongCrossEntropyRowTests().weights(length)
        for set in InstructionSetTests.supported {
            for (weights, smoothing) in [(nil, 0.0), (w, 0.0), (w, 0.1)] as [([Float]?, Double)] {
                let grad = try run(x, targets, length: length, set: set, weights: weights, smoothing: Float(smoothing))
                let e = targetErrors(grad, x, targets, length: length, weights: weights, smoothing: smoothing)
                #expect(e.worst < 1e-4, "\(set) n=\(length) weights=\(weights != nil) eps=\(smoothing): worst \(e.worst)")
                if length > 1 { #expect(e.tiny > 0, "some rows must have 1 - p_t below Float's epsilon") }
            }
        }
    }

    /// Rows of 16384 classes repeated past 8 MiB: the one read, whose chunks carry their own factors.
    @Test func targetEntryKeepsItsDigitsInTheOneRead() throws {
        let length = 16384
        let (x0, t0) = Self.logits(length: length, rows: 24)
        let (copies, x) = LongRowTests.repeatedPastCache(x0)
        let targets = [[Int]](repeating: t0, count: copies).flatMap { $0 }
        for set in InstructionSetTests.supported {
            let grad = try run(x, targets, length: length, set: set, weights: nil, smoothing: 0)
            let e = targetErrors(grad, x, targets, length: length, weights: nil, smoothing: 0)
            #expect(e.worst < 1e-4, "\(set): worst \(e.worst)")
            #expect(e.tiny > 0)
        }
    }
}
