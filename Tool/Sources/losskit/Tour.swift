import ArgumentParser
import Foundation
import Loss
import SVGCharts

struct Tour: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Walk through the loss-function tutorial, every number computed by LossKit.",
        discussion: """
            Each step states a loss, evaluates it with LossKit on the tutorial's
            tensors, and shows its gradient from LossKit's hand-written backward pass.

            Then it trains the tutorial's regressor on California housing with MSE and
            with MAPE, compares them in dollars and percent, and writes SVG plots of the
            losses, their gradients and the training curves into --out.

            Examples:
              losskit tour
              losskit tour --out figures --epochs 30
            """
    )

    @Option(help: "Folder for the tour's plots.")
    var out = "./losskit-out"

    @Option(help: "Epochs of each training run in step 8, 1 to 1000.")
    var epochs = 20

    /// Bad arguments are refused before the tutorial prints anything (exit status 2).
    func validate() throws {
        guard (1...1000).contains(epochs) else { throw ValidationError("--epochs must be between 1 and 1000, got \(epochs)") }
    }

    func run() throws {
        // The output folder too: a --out that cannot be created fails before the tutorial, with 2.
        try reportingErrors("tour") { try makeFolder(out) }
        let printer = TourPrinter()
        try Self.walk(printer)
        try reportingErrors("tour") {
            try Self.train(printer, epochs: epochs, folder: out)
        }
    }

    /// Steps 8 and 9: the tutorial's regressor trained with MSE and with MAPE, and the plots.
    static func train(_ out: TourPrinter, epochs: Int, folder: String) throws {
        out.heading("8. Training a regressor with MSE and with MAPE")
        out.say("""
            A small network (8-64-64-1, ReLU, Adam) learns California house values from 8 census
            features, once minimizing MSE and once MAPE. Both use LossKit's forward and backward.
            """)
        var results: [TrainingResult] = []
        for loss in ["mse_loss", "mape"] {
            var s = TrainingSettings()
            s.data = "california"
            s.loss = loss
            s.epochs = epochs
            let r = try Trainer.run(s, observer: nil)
            out.say(String(format: "trained with %@: %d epochs in %.1fs, test %@ from %.4f to %.4f",
                           loss, epochs, r.seconds, loss, r.testLoss.first ?? .nan, r.testLoss.last ?? .nan))
            results.append(r)
        }
        guard let mse = results[0].regression, let mape = results[1].regression else { return }
        out.say("On the \(results[0].testRows) test block groups (house values in dollars):")
        out.say("  " + TrainingReport.pad("model", 26) + TrainingReport.pad("MAE", 10, right: true)
            + TrainingReport.pad("RMSE", 10, right: true) + TrainingReport.pad("MAPE", 8, right: true))
        func row(_ name: String, _ m: RegressionMetrics) {
            out.say("  " + TrainingReport.pad(name, 26) + TrainingReport.pad(TrainingReport.money(m.mae, "$"), 10, right: true)
                + TrainingReport.pad(TrainingReport.money(m.rmse, "$"), 10, right: true)
                + TrainingReport.pad(TrainingReport.percent(m.mape), 8, right: true))
        }
        row("MLP trained with MSE", mse.test)
        row("MLP trained with MAPE", mape.test)
        if let ls = mse.leastSquares { row("least squares (LAPACK)", ls) }
        row("predict the mean", mse.mean)
        if mse.test.rmse < mape.test.rmse && mape.test.mape < mse.test.mape {
            out.say("""
                MSE punishes large misses hardest, so its model has the lower RMSE; MAPE weighs each
                error against the house's value, so its model does better on cheap houses and has the
                lower percentage error. Pick the loss that measures what you care about.
                """)
        } else {
            out.say("With these settings the two models are close; train longer (--epochs) to separate them.")
        }

        out.heading("9. Plots")
        var paths: [String] = []
        for name in ["l1_loss", "mse_loss", "cross_entropy", "binary_cross_entropy", "mape"] {
            let path = (folder as NSString).appendingPathComponent(name + ".svg")
            try writeChart(try LossCurve(name, range: nil, target: nil, options: [:]).chart(), path)
            paths.append(path)
        }
        for (r, name) in zip(results, ["mse", "mape"]) {
            let path = (folder as NSString).appendingPathComponent("training-\(name).svg")
            try writeChart(TrainingReport.chart(r), path)
            paths.append(path)
        }
        out.say("Each loss (blue) and its gradient from LossKit's backward pass (orange), and the training curves:")
        for path in paths { out.say("  \(path)") }
    }

    static func writeChart(_ chart: LineChart, _ path: String) throws {
        do { try chart.write(to: path) } catch {
            throw ToolError.unreadable("cannot write \(path): \(error.localizedDescription); choose another folder with --out")
        }
    }

    static func walk(_ out: TourPrinter) throws {
        out.heading("1. What a loss function is")
        out.say("""
            A loss maps a model's predictions and the true targets to one number that training
            drives down; its gradient with respect to the predictions says which way to move them.
            """)

        // MAE and MSE on prediction [0, 3] vs truth [1, 0].
        out.heading("2. Mean absolute error (L1) and mean squared error")
        let prediction = Tensor<Double>([0, 3]), truth = Tensor<Double>([1, 0])
        let mae = try L1Loss<Double>().valueWithGradient(prediction, truth)
        let mse = try MSELoss<Double>().valueWithGradient(prediction, truth)
        let maeEach = try L1Loss<Double>(reduction: .none)(prediction, truth)
        let mseEach = try MSELoss<Double>(reduction: .none)(prediction, truth)
        out.say("prediction \(list(prediction)), truth \(list(truth))")
        out.value("MAE = mean |x - y|", mae.value[flat: 0])
        out.value("MSE = mean (x - y)^2", mse.value[flat: 0])
        out.say(String(
            format: "The second example's share: %.0f%% of the absolute errors, %.0f%% of the squared errors;",
            100 * maeEach[flat: 1] / maeEach.scalars.reduce(0, +), 100 * mseEach[flat: 1] / mseEach.scalars.reduce(0, +)))
        out.say("squaring makes MSE punish the large miss much harder than MAE does.")
        out.say("gradient of MAE wrt prediction: \(list(mae.gradient))")
        out.say("gradient of MSE wrt prediction: \(list(mse.gradient))")

        out.heading("3. Root mean squared error")
        let rmse = try RMSELoss<Double>().valueWithGradient(prediction, truth)
        out.value("RMSE = sqrt(MSE), in the target's units", rmse.value[flat: 0])
        out.say("gradient of RMSE wrt prediction: \(list(rmse.gradient))")

        out.heading("4. Cross-entropy on logits")
        let logits = try Tensor<Double>(shape: [2, 3], scalars: [-1.90, -0.29, -2.30, -0.29, -1.90, -2.30])
        let probabilities = try Tensor<Double>(shape: [2, 3], scalars: [0, 1, 0, 1, 0, 0])
        let indices = Tensor<Int>([1, 0])
        let ce = CrossEntropyLoss<Double>()
        let softmaxed = try AxisFunction<Double>(.softmax, dim: 1)(logits)
        out.say("logits (2 samples, 3 classes):")
        out.table(logits, columns: 3)
        out.say("softmax of the logits, row by row (each row sums to 1):")
        out.table(softmaxed, columns: 3)
        let ceProbabilities = try ce(logits, probabilities)[flat: 0]
        let ceIndices = try ce.valueWithGradient(logits, indices)
        out.value("CE with probability targets [[0,1,0],[1,0,0]]", ceProbabilities)
        out.value("CE with class-index targets [1, 0]", ceIndices.value[flat: 0])
        out.value("-log(softmax of the true class) = -log 0.75", -Double.log(softmaxed[flat: 1]))
        out.say("gradient wrt logits = (softmax - one_hot) / N:")
        out.table(ceIndices.gradient, columns: 3)

        out.heading("5. LogSoftmax followed by NLL is cross-entropy")
        let logProbabilities = try AxisFunction<Double>(.logSoftmax, dim: 1)(logits)
        let nll = try NLLLoss<Double>()(logProbabilities, indices)[flat: 0]
        out.value("NLL(LogSoftmax(logits), [1, 0])", nll)
        out.say(String(format: "difference from cross-entropy: %.1e", abs(nll - ceIndices.value[flat: 0])))

        out.heading("6. Binary cross-entropy")
        let bce = try BCELoss<Double>().valueWithGradient(Tensor([0.75, 0.25]), Tensor([1, 0]))
        out.value("BCE of [0.75, 0.25] vs [1, 0]", bce.value[flat: 0])
        out.say("gradient wrt probabilities: \(list(bce.gradient))")

        out.heading("7. A custom loss: mean absolute percentage error")
        out.say("MAPE = mean |(x - y) / y|: errors relative to the target, written with the public ElementwiseLoss protocol.")
        let mape = try MAPELoss<Double>().valueWithGradient(Tensor([110, 190]), Tensor([100, 200]))
        out.value("MAPE of [110, 190] vs [100, 200]", mape.value[flat: 0])
        out.say("gradient wrt prediction: \(list(mape.gradient))")
        let mapeInputs = LossInputs<Double>(["input": .values(Tensor([110, 190])), "target": .values(Tensor([100, 200]))])
        let check = try GradientCheck.check(MAPELoss<Double>(), inputs: mapeInputs)
        out.say("GradientCheck of MAPE against finite differences: worst relative error \(String(format: "%.1e", check.worstError))")
    }

    static func list(_ t: Tensor<Double>) -> String {
        "[" + t.scalars.map { String(format: "%.4f", $0) }.joined(separator: ", ") + "]"
    }
}

/// Formats the tour for a terminal.
struct TourPrinter {
    func heading(_ text: String) { print("\n== \(text)") }
    func say(_ text: String) { print(text) }
    func value(_ label: String, _ v: Double) { print(String(format: "  %@: %.4f", label, v)) }
    func table(_ t: Tensor<Double>, columns: Int) {
        for row in 0..<(t.count / columns) {
            print("  " + (0..<columns).map { String(format: "%8.4f", t[flat: row * columns + $0]) }.joined(separator: " "))
        }
    }
}
