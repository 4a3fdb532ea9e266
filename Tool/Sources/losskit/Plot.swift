import ArgumentParser
import Foundation
import Loss
import SVGCharts

struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Plot losses and their gradients against the prediction, as SVG.",
        discussion: """
            For each LOSS, draws the loss (blue) and its gradient with respect to
            the prediction (orange) for a fixed target, and writes OUT/LOSS.svg.
            The gradient shares the loss's y axis when their ranges are
            comparable and gets its own axis on the right otherwise. Every value
            comes from LossKit: the forward pass and the hand-written backward.

            The x axis:
              regression losses (l1_loss, mse_loss, rmse, mape, any loss of a
                prediction and a value target): the prediction, for the target
                --target (default 0; 1 for mape)
              cross_entropy, nll_loss: the probability p of the target class
                (two classes; dL/dp is chained through the logits
                (log p, log(1 - p)))
              binary_cross_entropy: the predicted probability, target 1
              binary_cross_entropy_with_logits: the logit, target 1
            Loss options are passed with --option (e.g. --option reduction=sum).

            Examples:
              losskit plot l1_loss mse_loss cross_entropy binary_cross_entropy
              losskit plot mse_loss --range=-5:5 --target 1 --out figures
            """
    )

    @Argument(help: "Losses to plot, by their PyTorch names.")
    var losses: [String]

    @Option(help: "Folder for the SVG files.")
    var out = "./losskit-out"

    @Option(help: ArgumentHelp("The x range; write --range=-3:3 when A is negative.", valueName: "A:B"))
    var range: String?

    @Option(help: "The fixed target for losses of a prediction and a value target.")
    var target: Double?

    @Option(name: .customLong("option"), help: ArgumentHelp("A loss option as PyTorch names it (repeatable).", valueName: "key=value"))
    var options: [String] = []

    func run() throws {
        try reportingErrors("plot") {
            if let target, !target.isFinite {
                throw ToolError.invalidArgument("--target \(target): expected a finite number, e.g. --target 1")
            }
            let parsedRange = try range.map(parseRange)
            let parsedOptions = try parseLossOptions(options)
            var curves: [LossCurve] = []
            for name in losses {
                curves.append(try LossCurve(name, range: parsedRange, target: target, options: parsedOptions))
            }
            try makeFolder(out)
            for curve in curves {
                let path = (out as NSString).appendingPathComponent(curve.name + ".svg")
                do { try curve.chart().write(to: path) } catch {
                    throw ToolError.unreadable("cannot write \(path): \(error.localizedDescription)")
                }
                print("wrote \(path)")
            }
        }
    }
}

/// Parses `A:B` with A < B.
func parseRange(_ text: String) throws -> ClosedRange<Double> {
    let parts = text.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count == 2, let a = Double(parts[0]), let b = Double(parts[1]), a.isFinite, b.isFinite, a < b,
          (b - a).isFinite
    else {
        throw ToolError.invalidArgument("--range \(text): expected A:B with A < B, e.g. --range=-3:3")
    }
    return a...b
}

/// A loss and its gradient sampled along one axis, every value from LossKit.
struct LossCurve {
    let name: String
    let title: String
    let xLabel: String
    var loss: [(x: Double, y: Double)] = []
    var gradient: [(x: Double, y: Double)] = []

    static let friendlyNames = [
        "l1_loss": "Mean absolute error (l1_loss)", "mse_loss": "Mean squared error (mse_loss)",
        "rmse": "Root mean squared error (rmse)", "mape": "Mean absolute percentage error (mape)",
        "cross_entropy": "Cross-entropy", "nll_loss": "Negative log-likelihood (nll_loss)",
        "binary_cross_entropy": "Binary cross-entropy", "binary_cross_entropy_with_logits": "Binary cross-entropy with logits",
        "huber_loss": "Huber loss", "smooth_l1_loss": "Smooth L1 loss", "log_cosh": "Log-cosh loss",
    ]

    init(_ name: String, range: ClosedRange<Double>?, target: Double?, options: [String: OptionValue], samples: Int = 401) throws {
        guard LossRegistry.functionNames.contains(name) else {
            throw ToolError.invalidArgument(
                "unknown loss '\(name)'; choose from: \(TrainingLoss.trainableNames.joined(separator: ", "))")
        }
        let function = try LossRegistry.make(name, options: options, as: Double.self)
        let specs = function.inputSpecs
        guard specs.count == 2, specs[0].name == "input", specs[1].name == "target" else {
            throw ToolError.invalidArgument(
                "\(name) is not a loss of a prediction and a target; choose from: \(TrainingLoss.trainableNames.joined(separator: ", "))")
        }
        self.name = name
        let friendly = LossCurve.friendlyNames[name] ?? name
        let xs = { (r: ClosedRange<Double>) in (0..<samples).map { r.lowerBound + (r.upperBound - r.lowerBound) * Double($0) / Double(samples - 1) } }

        /// The loss and the gradient for the inputs, or nil where the loss is undefined.
        func evaluate(_ inputs: LossInputs<Double>) -> (Double, [Double])? {
            guard let value = try? function.forward(inputs), value.count == 1,
                  let g = try? function.backward(inputs, upstream: Tensor(shape: value.shape, scalars: [1]))["input"]
            else { return nil }
            return (value[flat: 0], g.scalars)
        }

        switch (name, specs[1].kind) {
        case ("cross_entropy", _), ("nll_loss", _), (_, .indices):
            // Two classes with probabilities (p, 1 - p); class 0 is the target.
            let r = range ?? 0.01...0.99
            guard r.lowerBound > 0, r.upperBound < 1 else {
                throw ToolError.invalidArgument("--range for \(name) is a probability range inside (0, 1), e.g. --range 0.01:0.99")
            }
            title = "\(friendly) against the target class's probability"
            xLabel = "p, the predicted probability of the target class"
            for p in xs(r) {
                // Logits (log p, log(1 - p)) give softmax (p, 1 - p); for nll_loss they are the log-probabilities.
                let input = try Tensor<Double>(shape: [1, 2], scalars: [Double.log(p), Double.log(1 - p)])
                guard let (value, g) = evaluate(LossInputs(["input": .values(input), "target": .indices(Tensor([0]))])) else { continue }
                // dL/dp = dL/dz0 · d(log p)/dp + dL/dz1 · d(log(1 - p))/dp
                loss.append((p, value))
                gradient.append((p, g[0] / p - g[1] / (1 - p)))
            }
        default:
            let isProbability = name == "binary_cross_entropy"
            let isLogit = name == "binary_cross_entropy_with_logits"
            let y = target ?? (isProbability || isLogit || name == "mape" ? 1 : 0)
            let r = range ?? (isProbability ? 0.01...0.99 : isLogit ? -6...6 : (y - 3)...(y + 3))
            title = "\(friendly), target \(formatNumber(y))"
            xLabel = isProbability ? "predicted probability" : isLogit ? "logit (prediction before the sigmoid)" : "prediction"
            for x in xs(r) {
                let inputs = LossInputs<Double>(["input": .values(Tensor([x])), "target": .values(Tensor([y]))])
                guard let (value, g) = evaluate(inputs), value.isFinite else { continue }
                loss.append((x, value))
                gradient.append((x, g[0]))
            }
        }
        guard !loss.isEmpty else {
            throw ToolError.invalidArgument("\(name) is undefined on the whole range; choose another --range or --target")
        }
    }

    /// One shared y axis when the loss and the gradient have comparable ranges
    /// (as in the tutorial's figures), a second axis on the right for the gradient otherwise.
    func chart() -> LineChart {
        func span(_ points: [(x: Double, y: Double)]) -> Double {
            let ys = points.map(\.y).filter(\.isFinite)
            return max((ys.max() ?? 0) - (ys.min() ?? 0), 1e-12)
        }
        let ratio = span(loss) / span(gradient)
        let shared = ratio > 0.1 && ratio < 10
        return LineChart(
            title: title, xLabel: xLabel, leftLabel: shared ? "loss and gradient" : "loss",
            rightLabel: shared ? nil : "gradient",
            series: [
                LineChart.Series(name: "loss", color: LineChart.blue, points: loss),
                LineChart.Series(
                    name: "gradient wrt the prediction (LossKit backward)", color: LineChart.orange, points: gradient,
                    axis: shared ? .left : .right),
            ])
    }
}

func formatNumber(_ v: Double) -> String {
    v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v)
}
