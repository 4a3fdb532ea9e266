import ArgumentParser
import Foundation
import Loss
import LossDistributed
import SVGCharts

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a small neural network with any LossKit loss; report what it learned.",
        discussion: """
            The network is an MLP (two hidden ReLU layers of --hidden units, dense
            layers on OpenBLAS), trained with Adam on mini-batches; the loss and its
            gradient are LossKit's, built by name from the registry, so every loss of a
            prediction and a target can be used.

            Data:
              california  California housing (Data/california_housing.csv):
                          8 features, house value in $100,000; regression
                          losses (mse_loss, l1_loss, rmse, mape, ...)
              digits      8x8 handwritten digits (Data/digits.csv), 10 classes:
                          cross_entropy, nll_loss (log-softmax head), or a
                          value loss on one-hot rows
              PATH.csv    numeric columns, optional header, the target last
                          (a class 0, 1, ... for a class-index loss)
            Features are standardized with the train split's statistics (digits: pixels
            / 16); the split is 80/20 by --seed. Regression reports MAE, RMSE and MAPE
            in the target's units, next to a least-squares fit (LAPACK ?gels) and the
            train mean as baselines; classification reports accuracy and per-class
            precision and recall. Writes training.svg (loss per epoch) and metrics.json
            into --out. Results are deterministic for a given --seed and --threads.

            Under mpirun the training is data-parallel: each rank takes a share of every
            batch (whole blocks of 16 rows), and the gradient of a batch is the sum of its
            blocks' gradients in block order, as one process computes it, so the history
            and metrics are identical for any number of ranks. Rank 0 prints and writes.
              mpirun -np 3 losskit train --data digits --loss cross_entropy --seed 1

            Examples:
              losskit train --data california --loss mse_loss
              losskit train --data california --loss mape --epochs 40 --lr 0.001
              losskit train --data digits --loss cross_entropy \\
                  --option label_smoothing=0.1
              losskit train --data my.csv --loss l1_loss --out runs/l1
            """
    )

    @Option(help: "california, digits, or the path of a numeric CSV file.")
    var data = "california"

    @Option(help: "The loss, by its PyTorch name (mse_loss, l1_loss, rmse, mape, cross_entropy, ...).")
    var loss = "mse_loss"

    @Option(name: .customLong("option"), help: ArgumentHelp("A loss option as PyTorch names it (repeatable).", valueName: "key=value"))
    var options: [String] = []

    @Option(help: "Passes over the training split (default: 20 for regression, 30 for classification).")
    var epochs: Int?

    @Option(help: "Rows per Adam step.")
    var batchSize = 64

    @Option(help: "Adam's learning rate.")
    var lr = 0.002

    @Option(help: "Units in each of the two hidden layers.")
    var hidden = 64

    @Option(help: "Seed of the split, the initial weights and the batch order.")
    var seed: UInt64 = 0

    @Option(help: "OpenBLAS threads.")
    var threads = 1

    @Option(help: "Folder for training.svg and metrics.json.")
    var out = "./losskit-out"

    func run() throws {
        let comm: any Communicator
        do {
            comm = try Ranks.communicator()
        } catch {
            printError("losskit train: \(error)")
            throw ExitCode(1)
        }
        try reportingDistributedErrors("train", comm) {
            var s = TrainingSettings()
            s.data = data
            s.loss = loss
            s.options = try comm.agreeing { try parseLossOptions(options) }
            s.epochs = epochs
            s.batchSize = batchSize
            s.learningRate = lr
            s.hidden = hidden
            s.seed = seed
            s.threads = threads
            // Before training, so that a bad --out fails fast (rank 0 writes).
            try comm.agreeing { if comm.rank == 0 { try makeFolder(out) } }
            // mpirun gives rank 0 a terminal of its own: no live bar there.
            let progress = comm.rank == 0 ? ProgressPrinter(interactive: isatty(1) != 0 && !MPICommunicator.isLaunchedByMPI) : nil
            let result = try Trainer.run(s, observer: progress, communicator: comm)
            guard comm.rank == 0 else { return }
            print(TrainingReport.summary(result).joined(separator: "\n"))
            for path in try TrainingReport.write(result, to: out) { print("wrote \(path)") }
        }
    }
}

/// Prints progress: a live bar on a terminal, one line per epoch otherwise.
final class ProgressPrinter: TrainingObserver {
    let interactive: Bool
    private var lastDraw = -1.0
    private var headerPrinted = false

    init(interactive: Bool) { self.interactive = interactive }

    func started(_ lines: [String]) {
        for line in lines { print(line) }
        fflush(nil)
    }

    func batch(epoch: Int, epochs: Int, batch: Int, batches: Int, loss: Double, elapsed: Double) {
        guard interactive, elapsed - lastDraw >= 0.1 || batch == batches else { return }
        lastDraw = elapsed
        let done = Double((epoch - 1) * batches + batch), total = Double(epochs * batches)
        let eta = elapsed / done * (total - done)
        let width = 24, filled = Int(Double(width) * Double(batch) / Double(batches))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let line = String(
            format: "epoch %d/%d [%@] %d/%d  loss %.4f  elapsed %@  ETA %@", epoch, epochs, bar, batch, batches, loss,
            duration(elapsed), duration(eta))
        print("\r\u{1B}[K" + line, terminator: "")
        fflush(nil)
    }

    func epochEnded(epoch: Int, epochs: Int, trainLoss: Double, testLoss: Double, elapsed: Double) {
        let width = String(epochs).count
        let line = String(
            format: "epoch %*d/%d  train loss %.4f  test loss %.4f  %@", width, epoch, epochs, trainLoss, testLoss, duration(elapsed))
        print((interactive ? "\r\u{1B}[K" : "") + line)
        fflush(nil)
    }

    func duration(_ s: Double) -> String {
        guard s.isFinite, s < 1e9 else { return "--" }
        return s < 60 ? String(format: "%.1fs", s) : String(format: "%dm%02ds", Int(s) / 60, Int(s) % 60)
    }
}

/// The text, chart and JSON of a finished run.
enum TrainingReport {
    static func summary(_ r: TrainingResult) -> [String] {
        var lines: [String] = []
        let s = r.settings
        lines.append(String(format: "trained in %.1fs", r.seconds))
        if let reg = r.regression {
            let u = reg.unit
            lines.append("results on the test split (\(r.testRows) rows):")
            lines.append("  " + pad("model", 24) + pad("test " + s.loss, 18, right: true) + pad("MAE", 11, right: true)
                + pad("RMSE", 11, right: true) + pad("MAPE", 8, right: true))
            func row(_ name: String, _ m: RegressionMetrics) {
                lines.append("  " + pad(name, 24) + pad(number(m.loss), 18, right: true)
                    + pad(money(m.mae, u), 11, right: true) + pad(money(m.rmse, u), 11, right: true)
                    + pad(percent(m.mape), 8, right: true))
            }
            row("MLP", reg.test)
            if let ls = reg.leastSquares { row("least squares (?gels)", ls) }
            row("predict the train mean", reg.mean)
            lines.append("  (train split: \(s.loss) \(number(reg.train.loss)), MAE \(money(reg.train.mae, u)))")
        }
        if let c = r.classification {
            lines.append("test accuracy " + String(format: "%.4f", c.test.accuracy) + " (\(r.testRows) rows), test \(s.loss) "
                + String(format: "%.4f; train accuracy %.4f", c.test.loss, c.train.accuracy))
            lines.append("  class  precision  recall  support")
            for k in 0..<c.test.precision.count {
                lines.append(String(format: "  %5d  %9.3f  %6.3f  %7d", k, c.test.precision[k], c.test.recall[k], c.test.support[k]))
            }
        }
        return lines
    }

    /// A loss for the table: four decimals, or four significant digits when it is huge
    /// (a diverged run) and the decimals would only widen the column.
    static func number(_ v: Double) -> String {
        abs(v) < 1e9 || !v.isFinite ? String(format: "%.4f", v) : String(format: "%.4g", v)
    }

    /// A percentage for the table, likewise.
    static func percent(_ v: Double) -> String {
        abs(v) < 1e6 || !v.isFinite ? String(format: "%.1f%%", v) : String(format: "%.3g%%", v)
    }

    /// `s` padded with spaces to `width` characters.
    static func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - s.count))
        return right ? fill + s : s + fill
    }

    /// `$35,120` for dollars, a plain number otherwise; `$1.2e+20` beyond a trillion dollars
    /// (an amount an Int cannot count to comes from a diverged run or a bad column).
    static func money(_ v: Double, _ unit: String) -> String {
        guard unit == "$" else { return String(format: "%.4g", v) }
        guard v.isFinite else { return v.isNaN ? "$nan" : v > 0 ? "$inf" : "-$inf" }
        guard abs(v) < 1e15 else { return String(format: "$%.3g", v) }
        let n = Int(v.rounded())
        var digits = String(n), out = ""
        while digits.count > 3 {
            out = "," + digits.suffix(3) + out
            digits.removeLast(3)
        }
        return "$" + digits + out
    }

    /// The loss curves as a chart.
    static func chart(_ r: TrainingResult) -> LineChart {
        let train = r.trainLoss.enumerated().map { (x: Double($0.offset + 1), y: $0.element) }
        let test = r.testLoss.enumerated().map { (x: Double($0.offset + 1), y: $0.element) }
        let dataName = r.regression != nil ? "California housing" : "digits"
        return LineChart(
            title: "Training with \(r.settings.loss) on \(r.settings.data == "california" ? dataName : r.settings.data)",
            xLabel: "epoch", leftLabel: "\(r.settings.loss) loss",
            series: [LineChart.Series(name: "train loss", color: LineChart.blue, points: train),
                     LineChart.Series(name: "test loss", color: LineChart.orange, points: test)])
    }

    static func json(_ r: TrainingResult) -> [String: Any] {
        let s = r.settings
        var o: [String: Any] = [
            "data": s.data, "loss": s.loss, "options": s.options.mapValues(\.description), "epochs": r.epochs,
            "batch_size": s.batchSize, "learning_rate": s.learningRate, "hidden": s.hidden, "seed": s.seed,
            "threads": s.threads, "architecture": r.architecture, "train_rows": r.trainRows, "test_rows": r.testRows,
            "history": ["train_loss": r.trainLoss.map(jsonNumber), "test_loss": r.testLoss.map(jsonNumber)],
        ]
        if let reg = r.regression {
            o["units"] = reg.unit
            o["test"] = reg.test.json
            o["train"] = reg.train.json
            var baselines: [String: Any] = ["train_mean": reg.mean.json]
            if let ls = reg.leastSquares { baselines["least_squares"] = ls.json }
            o["baselines"] = baselines
        }
        if let c = r.classification {
            o["test"] = c.test.json
            o["train"] = c.train.json
        }
        return o
    }

    /// Writes training.svg and metrics.json into `folder`; returns their paths.
    static func write(_ r: TrainingResult, to folder: String, prefix: String = "") throws -> [String] {
        try makeFolder(folder)
        let svg = (folder as NSString).appendingPathComponent(prefix + "training.svg")
        let metrics = (folder as NSString).appendingPathComponent(prefix + "metrics.json")
        do {
            try chart(r).write(to: svg)
            let data = try JSONSerialization.data(withJSONObject: json(r), options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: metrics))
        } catch {
            throw ToolError.unreadable("cannot write into \(folder): \(error.localizedDescription)")
        }
        return [svg, metrics]
    }
}

/// Creates `folder` (and its parents) or explains why it cannot.
func makeFolder(_ folder: String) throws {
    do {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    } catch {
        throw ToolError.unreadable("cannot create the output folder \(folder): \(error.localizedDescription); choose another with --out")
    }
}

/// Parses `key=value` loss options the way PyTorch spells values:
/// `None`, `True`/`False`, integers, numbers, and strings (quotes optional).
func parseLossOptions(_ items: [String]) throws -> [String: OptionValue] {
    var out: [String: OptionValue] = [:]
    for item in items {
        guard let eq = item.firstIndex(of: "="), eq != item.startIndex else {
            throw ToolError.invalidArgument("--option \(item): expected key=value, e.g. --option reduction=sum")
        }
        let key = String(item[..<eq]).trimmingCharacters(in: .whitespaces)
        let raw = String(item[item.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
        guard out[key] == nil else { throw ToolError.invalidArgument("--option \(key) is given twice") }
        out[key] = parseOptionValue(raw)
    }
    return out
}

func parseOptionValue(_ raw: String) -> OptionValue {
    switch raw {
    case "None": return .null
    case "True", "true": return .bool(true)
    case "False", "false": return .bool(false)
    default: break
    }
    if let i = Int(raw) { return .int(i) }
    if let d = Double(raw) { return .double(d) }
    // A list or tuple, as Python writes it: dim=[0,1], dim=(0, 1), dim=[].
    if raw.count >= 2, let f = raw.first, let l = raw.last, (f == "[" && l == "]") || (f == "(" && l == ")") {
        let body = raw.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
        if body.isEmpty { return .list([]) }
        return .list(body.split(separator: ",", omittingEmptySubsequences: true).map {
            parseOptionValue($0.trimmingCharacters(in: .whitespaces))
        })
    }
    if raw.count >= 2, let f = raw.first, f == raw.last, f == "\"" || f == "'" {
        return .string(String(raw.dropFirst().dropLast()))
    }
    return .string(raw)
}
