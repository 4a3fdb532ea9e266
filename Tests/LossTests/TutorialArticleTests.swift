import Loss
import Testing

/// The code of the DocC article "The loss-function tutorial" (Loss.docc/Tutorial.md),
/// run as written; each value is checked against its closed form.
@Suite struct TutorialArticleTests {
    let prediction = Tensor<Double>([0, 3]), truth = Tensor<Double>([1, 0])
    let logits = try! Tensor<Double>(shape: [2, 3], scalars: [-1.90, -0.29, -2.30, -0.29, -1.90, -2.30])
    let classes = Tensor<Int>([1, 0])

    /// `lse_r - x_r,t` of each row, computed here without LossKit.
    func closedFormCrossEntropy() -> Double {
        let x = logits.scalars
        var total = 0.0
        for (row, t) in [(0, 1), (1, 0)] {
            let r = Array(x[(row * 3)..<(row * 3 + 3)])
            let m = r.max()!
            total += m + Double.log(r.map { Double.exp($0 - m) }.reduce(0, +)) - r[t]
        }
        return total / 2
    }

    @Test func regressionLosses() throws {
        let mae = try L1Loss<Double>().valueWithGradient(prediction, truth)
        let mse = try MSELoss<Double>().valueWithGradient(prediction, truth)
        let rmse = try RMSELoss<Double>().valueWithGradient(prediction, truth)
        print("MAE", mae.value.scalar!, mae.gradient.scalars)
        print("MSE", mse.value.scalar!, mse.gradient.scalars)
        print("RMSE", rmse.value.scalar!, rmse.gradient.scalars)
        #expect(mae.value.scalar == 2 && mae.gradient.scalars == [-0.5, 0.5])
        #expect(mse.value.scalar == 5 && mse.gradient.scalars == [-1, 3])
        #expect(abs(rmse.value.scalar! - 5.0.squareRoot()) < 1e-15)
        // d/dx sqrt(mean (x - y)²) = (x - y) / (n · rmse)
        let expected = [-1 / (2 * 5.0.squareRoot()), 3 / (2 * 5.0.squareRoot())]
        #expect(zip(rmse.gradient.scalars, expected).allSatisfy { abs($0 - $1) < 1e-15 })
    }

    @Test func crossEntropyOnLogits() throws {
        let probabilities = try Tensor<Double>(shape: [2, 3], scalars: [0, 1, 0, 1, 0, 0])
        let crossEntropy = CrossEntropyLoss<Double>()
        let withIndices = try crossEntropy.valueWithGradient(logits, classes)
        let withProbabilities = try crossEntropy(logits, probabilities)
        let softmax = try AxisFunction<Double>(.softmax, dim: 1)(logits)
        print("CE", withIndices.value.scalar!, withProbabilities.scalar!)
        print("softmax", softmax.scalars)
        print("CE gradient", withIndices.gradient.scalars)
        let want = closedFormCrossEntropy()
        #expect(abs(withIndices.value.scalar! - want) < 1e-15)
        #expect(abs(withProbabilities.scalar! - want) < 1e-15)
        // (softmax - one_hot) / N
        let oneHot: [Double] = [0, 1, 0, 1, 0, 0]
        for i in 0..<6 {
            #expect(abs(withIndices.gradient[flat: i] - (softmax[flat: i] - oneHot[i]) / 2) < 1e-15)
        }
    }

    @Test func logSoftmaxThenNLL() throws {
        let logProbabilities = try AxisFunction<Double>(.logSoftmax, dim: 1)(logits)
        let nll = try NLLLoss<Double>()(logProbabilities, classes)
        print("NLL", nll.scalar!)
        #expect(abs(nll.scalar! - closedFormCrossEntropy()) < 1e-15)
    }

    @Test func binaryCrossEntropy() throws {
        let bce = try BCELoss<Double>().valueWithGradient(Tensor([0.75, 0.25]), Tensor([1, 0]))
        print("BCE", bce.value.scalar!, bce.gradient.scalars)
        // -(log 0.75 + log 0.75) / 2; gradient (p - y) / (p (1 - p)) / N
        #expect(abs(bce.value.scalar! + Double.log(0.75)) < 1e-15)
        #expect(zip(bce.gradient.scalars, [-2 / 3.0, 2 / 3.0]).allSatisfy { abs($0 - $1) < 1e-15 })
    }

    /// The article's own MAPE, written with ElementwiseLoss.
    struct MeanAbsolutePercentageError: ElementwiseLoss {
        typealias Scalar = Double
        var reduction: Reduction = .mean

        func value(input x: Double, target y: Double) -> Double { abs((x - y) / y) }

        func derivatives(input x: Double, target y: Double) -> (input: Double, target: Double) {
            let s: Double = x > y ? 1 : x < y ? -1 : 0
            return (s / abs(y), -s * x / (y * abs(y)))
        }
    }

    @Test func customMAPE() throws {
        let mape = MeanAbsolutePercentageError()
        let result = try mape.valueWithGradient(Tensor([110, 190]), Tensor([100, 200]))
        print("MAPE", result.value.scalar!, result.gradient.scalars)
        let inputs = LossInputs<Double>(["input": .values(Tensor([110, 190])), "target": .values(Tensor([100, 200]))])
        let report = try GradientCheck.check(mape, inputs: inputs)
        print(report)
        // (10/100 + 10/200) / 2; gradient sign(x - y) / |y| / N
        #expect(abs(result.value.scalar! - 0.075) < 1e-15)
        #expect(zip(result.gradient.scalars, [0.005, -0.0025]).allSatisfy { abs($0 - $1) < 1e-15 })
        #expect(report.passes())
        let builtIn = try MAPELoss<Double>()(Tensor([110, 190]), Tensor([100, 200]))
        #expect(builtIn == result.value)
    }
}
