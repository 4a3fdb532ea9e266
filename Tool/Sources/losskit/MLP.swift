import Loss

/// A multilayer perceptron in Float: dense layers (OpenBLAS sgemm through
/// `BLAS.gemm`) with ReLU between them and a linear output, trained with Adam.
///
/// All parameters live in one flat array so that Adam is a single loop; each
/// layer's weight matrix (fanIn, fanOut) is row-major, followed by its bias.
struct MLP {
    struct Layer {
        let fanIn: Int, fanOut: Int
        let weightOffset: Int, biasOffset: Int
    }

    let layers: [Layer]
    var parameters: [Float]
    var parameterCount: Int { parameters.count }
    var inputCount: Int { layers[0].fanIn }
    var outputCount: Int { layers[layers.count - 1].fanOut }

    /// He-initialized weights (normal with variance 2 / fanIn), zero biases.
    init(sizes: [Int], generator g: inout SeededGenerator) {
        precondition(sizes.count >= 2 && sizes.allSatisfy { $0 > 0 })
        var layers: [Layer] = [], offset = 0
        for i in 0..<(sizes.count - 1) {
            let l = Layer(fanIn: sizes[i], fanOut: sizes[i + 1], weightOffset: offset, biasOffset: offset + sizes[i] * sizes[i + 1])
            layers.append(l)
            offset = l.biasOffset + l.fanOut
        }
        self.layers = layers
        parameters = [Float](repeating: 0, count: offset)
        for l in layers {
            let scale = (2 / Double(l.fanIn)).squareRoot()
            for i in 0..<(l.fanIn * l.fanOut) { parameters[l.weightOffset + i] = Float(scale * g.nextNormal()) }
        }
    }

    /// Sets the output layer's biases (e.g. to the mean target, so training starts from the mean predictor).
    mutating func setOutputBias(_ values: [Float]) {
        let l = layers[layers.count - 1]
        for (i, v) in values.prefix(l.fanOut).enumerated() { parameters[l.biasOffset + i] = v }
    }

    /// The activations of one forward pass: `activations[0]` is the input batch,
    /// `activations[i + 1]` the output of layer i (after ReLU for hidden layers).
    struct Trace {
        var rows: Int
        var activations: [[Float]]
        var output: [Float] { activations[activations.count - 1] }
    }

    /// The forward pass on `rows` inputs (row-major, rows x inputCount).
    func forward(_ input: [Float], rows: Int) -> Trace {
        var activations = [input]
        activations.reserveCapacity(layers.count + 1)
        parameters.withUnsafeBufferPointer { p in
            for (index, l) in layers.enumerated() {
                var z = [Float](repeating: 0, count: rows * l.fanOut)
                // Start from the bias in every row, then z += x W.
                for r in 0..<rows {
                    for j in 0..<l.fanOut { z[r * l.fanOut + j] = p[l.biasOffset + j] }
                }
                activations[index].withUnsafeBufferPointer { x in
                    z.withUnsafeMutableBufferPointer { zb in
                        // z = 1 · x W + 1 · z; the shapes are the network's own, so this cannot throw.
                        try! matrixMultiply(
                            x, p.slice(l.weightOffset, l.fanIn * l.fanOut), rows: rows, columns: l.fanOut,
                            inner: l.fanIn, beta: 1, into: zb)
                    }
                }
                if index < layers.count - 1 {
                    z.withUnsafeMutableBufferPointer { zb in
                        for i in zb.indices where zb[i] < 0 { zb[i] = 0 }
                    }
                }
                activations.append(z)
            }
        }
        return Trace(rows: rows, activations: activations)
    }

    /// The outputs for many rows, computed in chunks to bound memory.
    func predict(_ input: [Float], rows: Int, chunk: Int = 4096) -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(rows * outputCount)
        var start = 0
        while start < rows {
            let end = min(rows, start + chunk)
            let slice = Array(input[(start * inputCount)..<(end * inputCount)])
            out += forward(slice, rows: end - start).output
            start = end
        }
        return out
    }

    /// The gradient of the loss with respect to every parameter, given the
    /// gradient with respect to the output (rows x outputCount).
    func backward(_ trace: Trace, outputGradient: [Float]) -> [Float] {
        var gradient = [Float](repeating: 0, count: parameters.count)
        var delta = outputGradient
        let rows = trace.rows
        parameters.withUnsafeBufferPointer { p in
            gradient.withUnsafeMutableBufferPointer { g in
                for index in stride(from: layers.count - 1, through: 0, by: -1) {
                    let l = layers[index]
                    let x = trace.activations[index]
                    delta.withUnsafeBufferPointer { d in
                        x.withUnsafeBufferPointer { xb in
                            // dW = xᵀ delta
                            try! matrixMultiply(
                                xb, d, rows: l.fanIn, columns: l.fanOut, inner: rows, opA: .transposed,
                                into: g.slice(l.weightOffset, l.fanIn * l.fanOut))
                        }
                        // db = column sums of delta
                        for r in 0..<rows {
                            for j in 0..<l.fanOut { g[l.biasOffset + j] += d[r * l.fanOut + j] }
                        }
                    }
                    guard index > 0 else { break }
                    // delta_prev = (delta Wᵀ) ⊙ [x > 0]  (x is the previous layer's ReLU output)
                    var previous = [Float](repeating: 0, count: rows * l.fanIn)
                    delta.withUnsafeBufferPointer { d in
                        previous.withUnsafeMutableBufferPointer { pb in
                            try! matrixMultiply(
                                d, p.slice(l.weightOffset, l.fanIn * l.fanOut), rows: rows, columns: l.fanIn,
                                inner: l.fanOut, opB: .transposed, into: pb)
                            x.withUnsafeBufferPointer { xb in
                                for i in pb.indices where xb[i] <= 0 { pb[i] = 0 }
                            }
                        }
                    }
                    delta = previous
                }
            }
        }
        return gradient
    }
}

/// Adam (Kingma & Ba) with PyTorch's defaults: beta1 0.9, beta2 0.999, eps 1e-8.
struct Adam {
    var learningRate: Float
    var beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8
    private var m: [Float], v: [Float]
    private var step = 0

    init(parameterCount: Int, learningRate: Float) {
        self.learningRate = learningRate
        m = [Float](repeating: 0, count: parameterCount)
        v = m
    }

    mutating func update(_ parameters: inout [Float], gradient: [Float]) {
        step += 1
        let c1 = 1 - Float.pow(beta1, Float(step)), c2 = 1 - Float.pow(beta2, Float(step))
        let (b1, b2, eps, lr) = (beta1, beta2, epsilon, learningRate)
        parameters.withUnsafeMutableBufferPointer { p in
            m.withUnsafeMutableBufferPointer { m in
                v.withUnsafeMutableBufferPointer { v in
                    gradient.withUnsafeBufferPointer { g in
                        for i in p.indices {
                            m[i] = b1 * m[i] + (1 - b1) * g[i]
                            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
                            p[i] -= lr * (m[i] / c1) / ((v[i] / c2).squareRoot() + eps)
                        }
                    }
                }
            }
        }
    }
}

extension UnsafeBufferPointer {
    /// `count` elements from `start`.
    func slice(_ start: Int, _ count: Int) -> UnsafeBufferPointer { UnsafeBufferPointer(rebasing: self[start..<(start + count)]) }
}

extension UnsafeMutableBufferPointer {
    /// `count` elements from `start`.
    func slice(_ start: Int, _ count: Int) -> UnsafeMutableBufferPointer {
        UnsafeMutableBufferPointer(rebasing: self[start..<(start + count)])
    }
}
