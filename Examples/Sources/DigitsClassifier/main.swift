// LossKit from a dependent package: swift-numerics and LossKit side by side, the
// typed loss calls, the Span kernels, errors as a caller sees them, a custom loss
// checked against finite differences, and a digits classifier trained with
// cross-entropy. Exits with status 1 if any of it does not hold.
import Foundation
import Loss
import RealModule

var failures: [String] = []
@MainActor func expect(_ condition: Bool, _ what: String) {
    if !condition { failures.append(what) }
}

// 1. swift-numerics' elementary functions, unambiguous next to LossKit.
let e = Float.exp(1)
let logOnePointFive = Double.log(onePlus: 0.5)
print("Float.exp(1) = \(e), Double.log(onePlus: 0.5) = \(logOnePointFive)")
expect(abs(e - 2.7182817) < 1e-6, "Float.exp(1)")

// 2. The typed calls: tensors in PyTorch's positional order, options in init.
let prediction = Tensor<Float>([2.5, 0.0, 2.0, 8.0])
let truth = Tensor<Float>([3.0, -0.5, 2.0, 7.0])
let mse = try MSELoss<Float>()(prediction, truth)
let l1 = try L1Loss<Double>(reduction: .sum)(prediction.converted(), truth.converted())
let huber = try HuberLoss<Double>(delta: 0.5)(prediction.converted(), truth.converted())
print("MSE \(mse.scalar!), L1 (sum) \(l1.scalar!), Huber (delta 0.5) \(huber.scalar!)")
// Errors -0.5, 0.5, 0, 1: MSE (0.25 + 0.25 + 0 + 1) / 4; L1 0.5 + 0.5 + 0 + 1; Huber with
// delta 0.5 is ½d² up to |d| = 0.5 and 0.5 (|d| - 0.25) beyond: (0.125 + 0.125 + 0 + 0.375) / 4.
expect(mse.scalar! == 0.375 && l1.scalar! == 2 && huber.scalar! == 0.15625, "regression losses")

let logits = try Tensor<Float>(shape: [2, 3], scalars: [-1.90, -0.29, -2.30, -0.29, -1.90, -2.30])
let classes = Tensor<Int>([1, 0])
let crossEntropy = CrossEntropyLoss<Float>()
let ce = try crossEntropy.valueWithGradient(logits, classes)
print("cross-entropy \(ce.value.scalar!) (about -log 0.75), gradient shape \(ce.gradient.shape)")
// Both rows are the same logits permuted, so the mean is one row's -(x_t - log Σ exp x).
let rowLoss = -(-0.29 - Double.log(Double.exp(-1.90) + Double.exp(-0.29) + Double.exp(-2.30)))
expect(abs(Double(ce.value.scalar!) - rowLoss) < 1e-6, "cross-entropy value")
let squared = try MSELoss<Float>().valueWithGradient(prediction, truth)
print("MSE gradient with respect to the prediction: \(squared.gradient.scalars)")
expect(squared.gradient.scalars == [-0.25, 0.25, 0, 0.5], "MSE gradient")

// 3. Kernels on memory the caller lends as spans.
let raw: [Float] = [1, 2, 3, 1, 1, 1]
let layout = AxisLayout(outer: 2, length: 3)
var probabilities = [Float](repeating: 0, count: 6)
var rowLogSumExp = [Float](repeating: 0, count: 2)
do {
    var out = probabilities.mutableSpan
    try softmax(raw.span, layout: layout, into: &out)
    var lse = rowLogSumExp.mutableSpan
    try logSumExp(raw.span, layout: layout, into: &lse)
}
print("softmax \(probabilities.map { ($0 * 1000).rounded() / 1000 }), logsumexp \(rowLogSumExp)")
expect(abs(rowLogSumExp[1] - (1 + Float.log(3))) < 1e-6, "logsumexp")

// 4. Errors name the problem.
do {
    _ = try MSELoss<Float>()(Tensor([1, 2, 3]), Tensor([1, 2]))
    expect(false, "a shape mismatch must throw")
} catch {
    print("shape error: \(error.localizedDescription)")
    expect(error.localizedDescription.contains("target"), "shape error names the target")
}
do {
    let inputs = LossInputs<Float>([
        "input": .values(prediction), "target": .values(truth), "wieght": .values(Tensor([1, 1, 1, 1])),
    ])
    _ = try MSELoss<Float>().forward(inputs)
    expect(false, "a misspelled input name must throw")
} catch {
    print("name error: \(error.localizedDescription)")
    expect(error.localizedDescription.contains("wieght"), "unknown input is named")
}

// 5. A loss of one's own: Charbonnier, sqrt((x - y)² + ε²) - ε, a smooth L1.
struct CharbonnierLoss<Scalar: KernelScalar>: ElementwiseLoss {
    var epsilon: Scalar = 0.1
    var reduction: Reduction = .mean

    func value(input x: Scalar, target y: Scalar) -> Scalar {
        Scalar.sqrt((x - y) * (x - y) + epsilon * epsilon) - epsilon
    }

    func derivatives(input x: Scalar, target y: Scalar) -> (input: Scalar, target: Scalar) {
        let d = (x - y) / Scalar.sqrt((x - y) * (x - y) + epsilon * epsilon)
        return (d, -d)
    }
}
var generator = SeededGenerator(seed: 7)
let a = try Tensor<Double>.randomNormal(shape: [4, 5], using: &generator)
let b = try Tensor<Double>.randomNormal(shape: [4, 5], using: &generator)
let charbonnier = try CharbonnierLoss<Double>().valueWithGradient(a, b)
let report = try GradientCheck.check(
    CharbonnierLoss<Double>(), inputs: LossInputs(["input": .values(a), "target": .values(b)]))
print("Charbonnier loss \(charbonnier.value.scalar!); GradientCheck: \(report)")
expect(report.passes(), "GradientCheck of the custom loss")

// 6. A digits classifier: softmax regression (64 pixels -> 10 classes) trained with
// cross-entropy's fused value and gradient, the products on OpenBLAS.
struct Digits {
    var pixels: [Float] = []  // rows x 64, scaled to [0, 1]
    var labels: [Int] = []
    var count: Int { labels.count }
}
func loadDigits() throws -> Digits {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    let text = try String(contentsOf: root.appendingPathComponent("Data/digits.csv"), encoding: .utf8)
    var digits = Digits()
    for line in text.split(whereSeparator: \.isNewline) {
        let fields = line.split(separator: ",").compactMap { Int($0) }
        guard fields.count == 65 else { continue }
        digits.pixels += fields.prefix(64).map { Float($0) / 16 }
        digits.labels.append(fields[64])
    }
    return digits
}

/// The digits in an order fixed by a seed, so that the held-out fifth is a fair sample.
func shuffled(_ d: Digits, seed: UInt64) -> Digits {
    var generator = SeededGenerator(seed: seed)
    var order = Array(0..<d.count)
    order.shuffle(using: &generator)
    var out = Digits()
    for i in order {
        out.pixels += d.pixels[(i * 64)..<((i + 1) * 64)]
        out.labels.append(d.labels[i])
    }
    return out
}

let digits = shuffled(try loadDigits(), seed: 1)
let (features, classCount) = (64, 10)
let trainCount = digits.count * 4 / 5
var weights = [Float](repeating: 0, count: features * classCount)
var bias = [Float](repeating: 0, count: classCount)

/// The logits `x W + b` of rows `range`.
@MainActor func logitsOf(_ range: Range<Int>) throws -> Tensor<Float> {
    let x = Array(digits.pixels[(range.lowerBound * features)..<(range.upperBound * features)])
    var z = [Float](repeating: 0, count: range.count * classCount)
    for r in 0..<range.count { for c in 0..<classCount { z[r * classCount + c] = bias[c] } }
    var zs = z.mutableSpan
    try matrixMultiply(x.span, weights.span, rows: range.count, columns: classCount, inner: features, beta: 1, into: &zs)
    return try Tensor(shape: [range.count, classCount], scalars: z)
}

let loss = CrossEntropyLoss<Float>()
let batch = 64, learningRate: Float = 0.5
for epoch in 1...30 {
    var total: Float = 0
    for start in stride(from: 0, to: trainCount, by: batch) {
        let range = start..<min(start + batch, trainCount)
        let step = try loss.valueWithGradient(try logitsOf(range), Tensor(Array(digits.labels[range])))
        total += step.value.scalar! * Float(range.count)
        // dW = xᵀ G, db = the column sums of G (G already divided by the batch size).
        let x = Array(digits.pixels[(range.lowerBound * features)..<(range.upperBound * features)])
        let g = step.gradient.scalars
        var dw = [Float](repeating: 0, count: features * classCount)
        var dws = dw.mutableSpan
        try matrixMultiply(x.span, g.span, rows: features, columns: classCount, inner: range.count, opA: .transposed, into: &dws)
        for i in weights.indices { weights[i] -= learningRate * dw[i] }
        for r in 0..<range.count { for c in 0..<classCount { bias[c] -= learningRate * g[r * classCount + c] } }
    }
    if epoch % 10 == 0 { print("epoch \(epoch): train cross-entropy \(total / Float(trainCount))") }
}

let test = trainCount..<digits.count
let testLogits = try logitsOf(test)
var predicted = [Float](repeating: 0, count: test.count)
var argmax = [Int](repeating: 0, count: test.count)
do {
    var maxima = predicted.mutableSpan
    var indices = argmax.mutableSpan
    let values = testLogits.scalars
    try rowMax(values.span, layout: AxisLayout(outer: test.count, length: classCount), into: &maxima, argmax: &indices)
}
let correct = zip(argmax, digits.labels[test]).filter { $0 == $1 }.count
let accuracy = Double(correct) / Double(test.count)
print("test accuracy on \(test.count) held-out digits: \(String(format: "%.1f", 100 * accuracy))%")
expect(accuracy > 0.9, "digits accuracy above 90%")

if failures.isEmpty {
    print("all checks passed")
} else {
    print("FAILED: \(failures.joined(separator: "; "))")
    exit(1)
}
