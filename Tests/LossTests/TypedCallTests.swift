import Loss
import Testing
import _TestSupport

/// The typed calls (`loss(input, target)`, `valueWithGradient`) agree with the named
/// forward and backward passes, report errors in Swift's names, and never accept a
/// misspelled input.
@Suite struct TypedCallTests {
    let x = TestSupport.normal([4, 5], seed: 101)
    let y = TestSupport.normal([4, 5], seed: 102)

    func named(_ pairs: KeyValuePairs<String, LossInput<Double>>) -> LossInputs<Double> { LossInputs(pairs) }

    @Test func twoTensorCallsMatchForwardAndBackward() throws {
        let losses: [any InputTargetLoss<Double>] = [
            MSELoss<Double>(), L1Loss<Double>(reduction: .sum), HuberLoss<Double>(delta: 0.5),
            SmoothL1Loss<Double>(beta: 0.3), LogCoshLoss<Double>(reduction: .none), BCEWithLogitsLoss<Double>(),
        ]
        for loss in losses {
            try check(loss)
        }
        func check<L: InputTargetLoss>(_ loss: L) throws where L.Scalar == Double {
            let inputs = named(["input": .values(x), "target": .values(y)])
            let value = try loss(x, y)
            #expect(value == (try loss.forward(inputs)), "\(L.self)")
            let r = try loss.valueWithGradient(x, y)
            let ones = try Tensor<Double>(shape: value.shape, scalars: Array(repeating: 1, count: value.count))
            let g = try loss.backward(inputs, upstream: ones)
            #expect(r.value == value)
            #expect(r.gradient == g["input"], "\(L.self)")
            #expect(try r.gradient(of: .target) == g["target"]!, "\(L.self)")
        }
    }

    @Test func crossEntropyTakesIndicesOrProbabilities() throws {
        let classes = Tensor<Int>([0, 4, 2, 1])
        let ce = CrossEntropyLoss<Double>(labelSmoothing: 0.1)
        let byIndex = try ce.valueWithGradient(x, classes)
        #expect(byIndex.value == (try ce(x, classes)))
        #expect(byIndex.value == (try ce.forward(named(["input": .values(x), "target": .indices(classes)]))))
        #expect(throws: LossError.noGradient(input: "target")) { try byIndex.gradient(of: .target) }
        #expect(throws: LossError.unknownInput(name: "variance", expected: ["input", "target"])) {
            try byIndex.gradient(of: .variance)
        }

        let q = try AxisFunction<Double>(.softmax, dim: 1)(y)
        let byProbability = try ce.valueWithGradient(x, q)
        let g = try ce.backward(named(["input": .values(x), "target": .values(q)]), upstream: Tensor(scalar: 1))
        #expect(byProbability.gradient == g["input"])
        #expect(try byProbability.gradient(of: .target) == g["target"]!)
    }

    @Test func labelledExtraTensors() throws {
        let variance = TestSupport.uniform([4, 5], in: 0.5...2, seed: 103)
        let gaussian = GaussianNLLLoss<Double>()
        let r = try gaussian.valueWithGradient(x, y, variance: variance)
        let g = try gaussian.backward(
            named(["input": .values(x), "target": .values(y), "var": .values(variance)]), upstream: Tensor(scalar: 1))
        #expect(try r.gradient(of: .variance) == g["var"]!)

        let triplet = TripletMarginLoss<Double>(margin: 2)
        let n = TestSupport.normal([4, 5], seed: 104)
        let t = try triplet.valueWithGradient(x, y, negative: n)
        #expect(t.value == (try triplet(x, y, negative: n)))
        #expect(try t.gradient(of: .negative).shape == [4, 5])

        let ranking = try MarginRankingLoss<Double>(margin: 0.1)(x, y, target: Tensor(shape: [4, 5], scalars: (0..<20).map { $0 % 3 == 0 ? -1 : 1 }))
        #expect(ranking.shape == [])
    }

    @Test func linearHeadGradientsByName() throws {
        let w = TestSupport.normal([7, 5], seed: 105), b = TestSupport.normal([7], seed: 106)
        let tokens = Tensor<Int>([0, 6, 3, 2])
        let head = LinearCrossEntropyLoss<Double>()
        let r = try head.valueWithGradient(x, w, target: tokens, linearBias: b)
        let g = try head.backward(
            named(["input": .values(x), "linear_weight": .values(w), "target": .indices(tokens), "linear_bias": .values(b)]),
            upstream: Tensor(scalar: 1))
        #expect(r.value == (try head(x, w, target: tokens, linearBias: b)))
        #expect(r.gradient == g["input"])
        #expect(try r.gradient(of: .linearWeight) == g["linear_weight"]!)
        #expect(try r.gradient(of: .linearBias) == g["linear_bias"]!)
    }

    @Test func typedErrorsUseSwiftNamesAndTheRegistryPyTorchs() throws {
        let variance = TestSupport.uniform([4, 4], in: 0.5...2, seed: 107)
        do {
            _ = try GaussianNLLLoss<Double>()(x, y, variance: variance)
            Issue.record("a variance of the wrong shape must throw")
        } catch let error as LossError {
            guard case .shapeMismatch(let argument, _, _) = error else { Issue.record("\(error)"); return }
            #expect(argument == "variance")
            #expect(error.description.hasPrefix("Wrong shape for variance"))
        }
        do {
            _ = try CrossEntropyLoss<Double>(labelSmoothing: 2)(x, Tensor([0, 1, 2, 3]))
            Issue.record("label smoothing 2 must throw")
        } catch let error as LossError {
            guard case .invalidOption(let name, _, _) = error else { Issue.record("\(error)"); return }
            #expect(name == "labelSmoothing")
        }
        do {
            let loss = try LossRegistry.make("cross_entropy", options: ["label_smoothing": .double(2)], as: Double.self)
            _ = try loss.forward(named(["input": .values(x), "target": .indices(Tensor([0, 1, 2, 3]))]))
            Issue.record("label smoothing 2 must throw")
        } catch let error as LossError {
            guard case .invalidOption(let name, _, _) = error else { Issue.record("\(error)"); return }
            #expect(name == "label_smoothing")
        }
        do {
            _ = try LinearCrossEntropyLoss<Double>()(x, TestSupport.normal([7, 4], seed: 1), target: Tensor([0, 1, 2, 3]))
            Issue.record("a weight of the wrong width must throw")
        } catch let error as LossError {
            guard case .shapeMismatch(let argument, _, _) = error else { Issue.record("\(error)"); return }
            #expect(argument == "linearWeight")
        }
    }

    @Test func misspelledInputNamesAreErrors() throws {
        let inputs = named(["input": .values(x), "target": .values(y), "wieght": .values(y)])
        for loss in [MSELoss<Double>() as any LossFunction<Double>, L1Loss<Double>(), HuberLoss<Double>()] {
            #expect(throws: LossError.unknownInput(name: "wieght", expected: ["input", "target"])) {
                try loss.forward(inputs)
            }
            #expect(throws: LossError.unknownInput(name: "wieght", expected: ["input", "target"])) {
                try loss.backward(inputs, upstream: Tensor(scalar: 1))
            }
        }
        for name in LossRegistry.functionNames {
            let loss = try LossRegistry.make(name, as: Double.self)
            var extra = LossInputs<Double>()
            extra["no_such_input"] = .values(x)
            #expect(throws: LossError.self, "\(name)") { try loss.forward(extra) }
            do {
                _ = try loss.forward(extra)
            } catch let error as LossError {
                guard case .unknownInput(let got, let expected) = error else {
                    Issue.record("\(name): \(error)")
                    continue
                }
                #expect(got == "no_such_input" && expected == loss.inputSpecs.map(\.name), "\(name)")
            }
        }
    }

    @Test func localizedDescriptionIsTheSentence() throws {
        let error = LossError.shapeMismatch(argument: "target", expected: "[3] (the shape of input)", actual: "[2]")
        #expect(error.localizedDescription == "Wrong shape for target: expected [3] (the shape of input), got [2].")
        #expect(LossError.unknownInput(name: "wieght", expected: ["input", "target"]).localizedDescription
            == "There is no input named wieght: this loss takes input, target.")
    }

    @Test func borrowedTensorsComputeWhatOwnedOnesDo() throws {
        let storage = x.scalars
        let owned = try MSELoss<Double>()(x, y)
        let borrowed = try Tensor.withBorrowing(storage.span, shape: [4, 5]) { t in try MSELoss<Double>()(t, y) }
        #expect(owned == borrowed)
        #expect(throws: LossError.shapeMismatch(argument: "scalars", expected: "21 elements for shape [3, 7]", actual: "20 elements")) {
            try Tensor.withBorrowing(storage.span, shape: [3, 7]) { _ in }
        }
    }
}

extension Float80: KernelScalar {}

/// A scalar type that conforms to `KernelScalar` outside LossKit gets an error from
/// every kernel, never a number computed from memory read as another type.
@Suite struct UnsupportedScalarTests {
    @Test func kernelsAndLossesThrowForOtherScalarTypes() throws {
        let x = Tensor<Float80>([1, 2, 3]), y = Tensor<Float80>([1, 1, 1])
        #expect(throws: LossError.unsupportedScalar("Float80")) { try LogCoshLoss<Float80>(reduction: .sum)(x, y) }
        #expect(throws: LossError.unsupportedScalar("Float80")) { try MAPELoss<Float80>()(x, y) }
        #expect(throws: LossError.unsupportedScalar("Float80")) { try MSELoss<Float80>()(x, y) }
        #expect(throws: LossError.unsupportedScalar("Float80")) { try x.withUnsafeBufferPointer { try sum($0) } }
        #expect(throws: LossError.unsupportedScalar("Float80")) {
            try MultivariateGaussianNLLLoss<Float80>()(
                try Tensor(shape: [1, 1], scalars: [0]), try Tensor(shape: [1, 1], scalars: [0]),
                covariance: try Tensor(shape: [1, 1], scalars: [1]))
        }
    }
}
