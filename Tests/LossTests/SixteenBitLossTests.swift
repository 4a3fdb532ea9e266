import Loss
import Testing
import _TestSupport

/// Float16 and BFloat16 losses compute in Float and round their results once: the same
/// numbers as the Float loss on the same (16-bit) values, rounded to the type, whatever
/// the sizes (a count or a sum beyond Float16's largest finite number, 65504, included).
@Suite struct SixteenBitLossTests {
    /// `values` rounded to `T`, and those values in Float.
    static func rounded<T: KernelScalar>(_ values: Tensor<Double>, _: T.Type) -> (Tensor<T>, Tensor<Float>) {
        let t: Tensor<T> = values.converted()
        return (t, t.converted())
    }

    static func check<T: KernelScalar>(_: T.Type) throws {
        let x = TestSupport.normal([300, 7], scale: 2, seed: 61), y = TestSupport.normal([300, 7], seed: 62)
        let (x16, xf) = rounded(x, T.self), (y16, yf) = rounded(y, T.self)
        // Elementwise, with the generic implementation behind it.
        for reduction in Reduction.allCases {
            let wide = try HuberLoss<Float>(delta: 0.5, reduction: reduction).valueWithGradient(xf, yf)
            let narrow = try HuberLoss<T>(delta: 0.5, reduction: reduction).valueWithGradient(x16, y16)
            #expect(narrow.value == wide.value.converted(to: T.self), "\(T.self) \(reduction)")
            #expect(narrow.gradient == wide.gradient.converted(to: T.self), "\(T.self) \(reduction)")
        }
        // Cross-entropy with its options, and the other losses of the typed API.
        let classes = TestSupport.classIndices([300], classes: 7, seed: 63)
        let ce = try CrossEntropyLoss<T>(labelSmoothing: 0.125).valueWithGradient(x16, classes)
        let ceWide = try CrossEntropyLoss<Float>(labelSmoothing: 0.125).valueWithGradient(xf, classes)
        #expect(ce.value == ceWide.value.converted(to: T.self) && ce.gradient == ceWide.gradient.converted(to: T.self))
        let variance = TestSupport.uniform([300, 7], in: 0.5...2, seed: 64)
        let (v16, vf) = rounded(variance, T.self)
        let g = try GaussianNLLLoss<T>().valueWithGradient(x16, y16, variance: v16)
        let gWide = try GaussianNLLLoss<Float>().valueWithGradient(xf, yf, variance: vf)
        #expect(try g.gradient(of: .variance) == gWide.gradient(of: .variance).converted(to: T.self))
        let softmax = try AxisFunction<T>(.softmax, dim: 1)(x16)
        #expect(softmax == (try AxisFunction<Float>(.softmax, dim: 1)(xf)).converted(to: T.self))
    }

    /// Cross-entropy with class indices runs the native 16-bit kernel (16-bit logits and
    /// gradient, per-row losses in Float, reduced in Float): still the Float loss's numbers
    /// rounded once, on the kernel's staged rows (7 classes; a class axis that is not last)
    /// and its fused rows (300 classes), with class weights, an ignored class, label
    /// smoothing, every reduction, and a random upstream gradient through `backward`.
    static func checkCrossEntropy<T: KernelScalar>(_: T.Type) throws {
        for shape in [[300, 7], [40, 300], [6, 5, 11]] {
            let classCount = shape[1]
            let (x16, xf) = rounded(TestSupport.normal(shape, seed: 71), T.self)
            var sampleShape = shape
            sampleShape.remove(at: 1)
            let classes = TestSupport.classIndices(sampleShape, classes: classCount, seed: 72)
            let (w16, wf) = rounded(TestSupport.uniform([classCount], in: 0.25...2, seed: 73), T.self)
            for (weighted, smoothing) in [(false, 0.0), (true, 0.0), (false, 0.25), (true, 0.125)] {
                for reduction in Reduction.allCases {
                    let narrow = CrossEntropyLoss<T>(
                        weight: weighted ? w16 : nil, ignoreIndex: 3, labelSmoothing: T(smoothing), reduction: reduction)
                    let wide = CrossEntropyLoss<Float>(
                        weight: weighted ? wf : nil, ignoreIndex: 3, labelSmoothing: Float(smoothing), reduction: reduction)
                    let context = "\(T.self) \(shape) weighted \(weighted) smoothing \(smoothing) \(reduction)"
                    let r = try narrow.valueWithGradient(x16, classes), rw = try wide.valueWithGradient(xf, classes)
                    #expect(r.value == rw.value.converted(to: T.self), "\(context)")
                    #expect(r.gradient == rw.gradient.converted(to: T.self), "\(context)")
                    #expect(try narrow(x16, classes) == rw.value.converted(to: T.self), "\(context)")
                    let (up16, upf) = rounded(
                        TestSupport.normal(reduction == .none ? sampleShape : [], seed: 74), T.self)
                    let g = try narrow.backward(LossInputs(["input": .values(x16), "target": .indices(classes)]), upstream: up16)
                    let gw = try wide.backward(LossInputs(["input": .values(xf), "target": .indices(classes)]), upstream: upf)
                    #expect(g["input"] == gw["input"]!.converted(to: T.self), "\(context)")
                }
            }
        }
    }

    /// Softmax, log-softmax and logsumexp run the native 16-bit kernels too: on rows in
    /// cache, the Float results rounded once, along any dimension.
    static func checkAxisFunctions<T: KernelScalar>(_: T.Type) throws {
        for (shape, dim) in [([40, 300], 1), ([6, 5, 11], 1), ([6, 5, 11], 2), ([300, 7], 0)] {
            let (x16, xf) = rounded(TestSupport.normal(shape, scale: 3, seed: 75), T.self)
            for operation in [AxisOperation.softmax, .logSoftmax] {
                let narrow = try AxisFunction<T>(operation, dim: dim)(x16)
                #expect(narrow == (try AxisFunction<Float>(operation, dim: dim)(xf)).converted(to: T.self), "\(T.self) \(shape) \(operation)")
            }
            let lse = try AxisFunction<T>(.logSumExp, dims: [dim])(x16)
            #expect(lse == (try AxisFunction<Float>(.logSumExp, dims: [dim])(xf)).converted(to: T.self), "\(T.self) \(shape) lse")
        }
    }

    @Test func float16AxisFunctionsRunNative() throws { try Self.checkAxisFunctions(Float16.self) }
    @Test func bfloat16AxisFunctionsRunNative() throws { try Self.checkAxisFunctions(BFloat16.self) }

    /// The fused linear head on 16-bit tensors: one fused pass of the Float loss, every
    /// result rounded once (class indices and probabilities, with a bias and options).
    static func checkLinearHead<T: KernelScalar>(_: T.Type) throws {
        let (x16, xf) = rounded(TestSupport.normal([12, 8], seed: 81), T.self)
        let (w16, wf) = rounded(TestSupport.normal([50, 8], scale: 0.5, seed: 82), T.self)
        let (b16, bf) = rounded(TestSupport.normal([50], seed: 83), T.self)
        let (q16, qf) = rounded(TestSupport.uniform([12, 50], in: 0...1, seed: 84), T.self)
        let classes = TestSupport.classIndices([12], classes: 50, seed: 85)
        let narrow = LinearCrossEntropyLoss<T>(labelSmoothing: 0.125, zLoss: 0.25)
        let wide = LinearCrossEntropyLoss<Float>(labelSmoothing: 0.125, zLoss: 0.25)
        let r = try narrow.valueWithGradient(x16, w16, target: classes, linearBias: b16)
        let rw = try wide.valueWithGradient(xf, wf, target: classes, linearBias: bf)
        #expect(r.value == rw.value.converted(to: T.self))
        for name in [InputName.input, .linearWeight, .linearBias] {
            #expect(try r.gradient(of: name) == rw.gradient(of: name).converted(to: T.self), "\(T.self) \(name)")
        }
        // z-loss takes class indices only.
        let p = try LinearCrossEntropyLoss<T>(labelSmoothing: 0.125).valueWithGradient(x16, w16, target: q16)
        let pw = try LinearCrossEntropyLoss<Float>(labelSmoothing: 0.125).valueWithGradient(xf, wf, target: qf)
        #expect(p.value == pw.value.converted(to: T.self))
        #expect(try p.gradient(of: .target) == pw.gradient(of: .target).converted(to: T.self))
        #expect(try narrow(x16, w16, target: classes, linearBias: b16) == rw.value.converted(to: T.self))
    }

    @Test func float16LinearHeadRoundsOnce() throws { try Self.checkLinearHead(Float16.self) }
    @Test func bfloat16LinearHeadRoundsOnce() throws { try Self.checkLinearHead(BFloat16.self) }

    @Test func float16CrossEntropyRunsNativeAndRoundsOnce() throws { try Self.checkCrossEntropy(Float16.self) }
    @Test func bfloat16CrossEntropyRunsNativeAndRoundsOnce() throws { try Self.checkCrossEntropy(BFloat16.self) }

    @Test func float16ComputesInFloatAndRoundsOnce() throws { try Self.check(Float16.self) }
    @Test func bfloat16ComputesInFloatAndRoundsOnce() throws { try Self.check(BFloat16.self) }

    /// 100,000 elements: a count past Float16's range. The mean is over Float's count.
    @Test func countsBeyondFloat16sRange() throws {
        let n = 100_000
        let x = Tensor<Float16>([Float16](repeating: 2, count: n)), y = Tensor<Float16>([Float16](repeating: 1, count: n))
        let r = try MSELoss<Float16>().valueWithGradient(x, y)
        #expect(r.value.scalar == 1)
        #expect(r.gradient[flat: 0] == Float16(2.0 / Double(n)))
        #expect(try MSELoss<Float16>(reduction: .sum)(x, y).scalar == Float16(n))  // 100000 is past Float16's largest finite number: infinity
        let logits = Tensor<Float16>([Float16](repeating: 0, count: 2 * 70_000)).reshapedOrFail([70_000, 2])
        let classes = Tensor<Int>([Int](repeating: 1, count: 70_000))
        #expect(try CrossEntropyLoss<Float16>()(logits, classes).scalar == Float16(Float.log(2)))
    }

    /// The registry builds 16-bit losses from PyTorch's options without rounding them to 16
    /// bits: label_smoothing 0.1 stays Float's 0.1.
    @Test func registryKeepsOptionsInFloat() throws {
        let x = TestSupport.normal([50, 9], seed: 65)
        let (x16, xf) = Self.rounded(x, BFloat16.self)
        let classes = TestSupport.classIndices([50], classes: 9, seed: 66)
        let options: [String: OptionValue] = ["label_smoothing": .double(0.1)]
        let narrow = try LossRegistry.make("cross_entropy", options: options, as: BFloat16.self)
            .forward(LossInputs(["input": .values(x16), "target": .indices(classes)]))
        let wide = try LossRegistry.make("cross_entropy", options: options, as: Float.self)
            .forward(LossInputs(["input": .values(xf), "target": .indices(classes)]))
        #expect(narrow == wide.converted(to: BFloat16.self))
    }
}

extension Tensor {
    fileprivate func reshapedOrFail(_ shape: [Int]) -> Tensor { try! reshaped(shape) }
}
