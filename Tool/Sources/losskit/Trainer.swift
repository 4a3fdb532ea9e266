import Foundation
import Loss
import LossDistributed

/// Settings of one training run.
struct TrainingSettings {
    var data = "california"
    var loss = "mse_loss"
    var options: [String: OptionValue] = [:]
    var epochs: Int? = nil
    var batchSize = 64
    var learningRate = 0.002
    var hidden = 64
    var seed: UInt64 = 0
    var threads = 1

    /// Epochs when none are given: enough for the built-in data sets to converge.
    func defaultEpochs(for data: Dataset) -> Int {
        if case .classification = data.task { return 30 }
        return 20
    }
}

/// Test-split (or train-split) quality of a model's predictions.
struct RegressionMetrics {
    var loss: Double
    /// In the target's reported units ($ for California housing).
    var mae: Double, rmse: Double
    /// In percent of the true value (rows whose target is 0 are skipped).
    var mape: Double

    init(loss: Double, predictions: [Float], targets: [Float], unitScale: Double) {
        self.loss = loss
        var absolute = 0.0, squared = 0.0, relative = 0.0, relativeCount = 0
        for (p, y) in zip(predictions, targets) {
            let e = Double(p) - Double(y)
            absolute += abs(e)
            squared += e * e
            if y != 0 {
                relative += abs(e / Double(y))
                relativeCount += 1
            }
        }
        let n = Double(max(predictions.count, 1))
        mae = absolute / n * unitScale
        rmse = (squared / n).squareRoot() * unitScale
        mape = relativeCount > 0 ? 100 * relative / Double(relativeCount) : .nan
    }

    var json: [String: Any] { ["loss": jsonNumber(loss), "mae": jsonNumber(mae), "rmse": jsonNumber(rmse), "mape_percent": jsonNumber(mape)] }
}

struct ClassificationMetrics {
    var loss: Double
    var accuracy: Double
    var precision: [Double], recall: [Double], support: [Int]

    init(loss: Double, predicted: [Int], labels: [Int], classes: Int) {
        self.loss = loss
        var truePositive = [Int](repeating: 0, count: classes), predictedCount = truePositive, actual = truePositive
        for (p, y) in zip(predicted, labels) {
            predictedCount[p] += 1
            actual[y] += 1
            if p == y { truePositive[y] += 1 }
        }
        accuracy = Double(truePositive.reduce(0, +)) / Double(max(labels.count, 1))
        precision = (0..<classes).map { predictedCount[$0] > 0 ? Double(truePositive[$0]) / Double(predictedCount[$0]) : .nan }
        recall = (0..<classes).map { actual[$0] > 0 ? Double(truePositive[$0]) / Double(actual[$0]) : .nan }
        support = actual
    }

    var json: [String: Any] {
        ["loss": jsonNumber(loss), "accuracy": jsonNumber(accuracy), "precision": precision.map(jsonNumber),
         "recall": recall.map(jsonNumber), "support": support]
    }
}

/// Everything a training run produced.
struct TrainingResult {
    var settings: TrainingSettings
    var epochs: Int
    var dataDescription: [String]
    var architecture: [Int]
    var trainLoss: [Double] = []
    var testLoss: [Double] = []
    var trainRows = 0, testRows = 0
    var seconds = 0.0
    var regression: (unit: String, test: RegressionMetrics, train: RegressionMetrics,
                     leastSquares: RegressionMetrics?, mean: RegressionMetrics)?
    var classification: (test: ClassificationMetrics, train: ClassificationMetrics)?
}

/// Receives progress while training.
protocol TrainingObserver {
    /// The data set and model have been set up; `lines` describe them.
    func started(_ lines: [String])
    func batch(epoch: Int, epochs: Int, batch: Int, batches: Int, loss: Double, elapsed: Double)
    func epochEnded(epoch: Int, epochs: Int, trainLoss: Double, testLoss: Double, elapsed: Double)
}

enum Trainer {
    /// Rows per block of a batch. The gradient of a batch is the sum, in block order,
    /// of each block's gradient (its own forward and backward GEMMs), so it does not
    /// depend on how the blocks are shared among ranks: data-parallel training gives
    /// the same weights, bit for bit, on any number of ranks, and one process computes
    /// it the same way.
    static let blockRows = 16

    /// Loads the data, trains the MLP and evaluates it, the least-squares fit and the mean predictor.
    ///
    /// With a communicator of several ranks (`mpirun`), each rank takes a contiguous
    /// share of the blocks of every batch: the loss is the data-parallel loss of the
    /// whole batch and the blocks' gradients are gathered and added in block order on
    /// every rank, so every rank takes the same Adam steps. Everything else (data,
    /// shuffles, evaluation) is done by every rank alike. Only `observer` output
    /// differs: give it on one rank.
    static func run(_ s: TrainingSettings, observer: TrainingObserver?, communicator: any Communicator = SingleProcessCommunicator())
        throws -> TrainingResult
    {
        let comm = communicator
        // Every rank validates and loads the same data; they agree on any failure.
        let setup = try comm.agreeing { try setUp(s) }
        return try train(setup, observer: observer, communicator: comm)
    }

    /// What a validated run needs to train.
    struct Setup {
        var settings: TrainingSettings
        var loss: TrainingLoss
        var data: Dataset, train: Dataset, test: Dataset
        var outputs: Int, epochs: Int
        var sizes: [Int]
        var description: [String]
    }

    static func setUp(_ s: TrainingSettings) throws -> Setup {
        guard s.batchSize >= 1 else { throw ToolError.invalidArgument("--batch-size must be at least 1") }
        guard s.hidden >= 1 && s.hidden <= 4096 else { throw ToolError.invalidArgument("--hidden must be between 1 and 4096") }
        guard s.learningRate > 0 && s.learningRate.isFinite else { throw ToolError.invalidArgument("--lr must be a positive number") }
        guard (1...64).contains(s.threads) else { throw ToolError.invalidArgument("--threads must be between 1 and 64") }
        if let e = s.epochs, e < 1 || e > 100_000 { throw ToolError.invalidArgument("--epochs must be between 1 and 100000") }

        let loss = try TrainingLoss(name: s.loss, options: s.options)
        let data = try DataLoader.load(s.data, classification: loss.targets == .classIndices)
        var (train, test) = data.split(seed: s.seed)
        guard train.rows > 0, test.rows > 0 else { throw ToolError.invalidArgument("\(data.name) has too few rows to split") }
        if case .regression = data.task, loss.targets == .classIndices {
            throw ToolError.invalidArgument(
                "\(s.loss) needs class labels but \(data.name) has real-valued targets; use --data digits, "
                    + "or a regression loss: \(TrainingLoss.regressionNames.joined(separator: ", "))")
        }
        var description = data.notes.enumerated().map { $0.offset == 0 ? "\(data.name): \($0.element)" : $0.element }
        if data.name == "digits" {
            description.append("split 80/20 by seed \(s.seed): \(train.rows) train, \(test.rows) test")
        } else {
            let stats = train.featureStatistics()
            let clipped = train.standardize(mean: stats.mean, std: stats.std) + test.standardize(mean: stats.mean, std: stats.std)
            description.append("split 80/20 by seed \(s.seed): \(train.rows) train, \(test.rows) test")
            description.append(
                "features standardized with the train split's mean and deviation, clipped to ±\(Int(standardizedClip)) "
                    + "(\(clipped) of \((train.rows + test.rows) * data.featureCount) values clipped)")
        }

        let outputs: Int
        switch data.task {
        case .regression: outputs = 1
        case .classification(let c): outputs = c
        }
        let epochs = s.epochs ?? s.defaultEpochs(for: data)
        let sizes = [data.featureCount, s.hidden, s.hidden, outputs]
        return Setup(
            settings: s, loss: loss, data: data, train: train, test: test, outputs: outputs, epochs: epochs, sizes: sizes,
            description: description)
    }

    static func train(_ setup: Setup, observer: TrainingObserver?, communicator comm: any Communicator) throws -> TrainingResult {
        let s = setup.settings, loss = setup.loss, data = setup.data, train = setup.train, test = setup.test
        let outputs = setup.outputs, epochs = setup.epochs, sizes = setup.sizes
        var description = setup.description
        if comm.size > 1 {
            description.append(
                "data-parallel over \(comm.size) ranks: each takes a share of every batch's blocks of \(Trainer.blockRows) rows")
        }
        var result = TrainingResult(settings: s, epochs: epochs, dataDescription: description, architecture: sizes)
        result.trainRows = train.rows
        result.testRows = test.rows

        OpenBLAS.threadCount = s.threads
        var g = SeededGenerator(seed: s.seed &+ 0x5EED)
        var model = MLP(sizes: sizes, generator: &g)
        if case .regression = data.task {
            model.setOutputBias([Float(train.targets.reduce(0.0) { $0 + Double($1) } / Double(train.rows))])
        }
        observer?.started(description + [
            "model: MLP \(sizes.map(String.init).joined(separator: "-")) (\(model.parameterCount) parameters), ReLU, Adam lr \(s.learningRate), "
                + "batch \(s.batchSize), \(epochs) epochs, loss \(s.loss)"
                + (loss.head == .identity ? "" : " after a \(loss.head.rawValue) output")
                + ", \(s.threads) BLAS thread\(s.threads == 1 ? "" : "s")",
        ])
        var adam = Adam(parameterCount: model.parameterCount, learningRate: Float(s.learningRate))

        func target(_ d: Dataset, _ rows: [Int]?) -> BatchTarget {
            let pick = rows ?? Array(0..<d.rows)
            switch (d.task, loss.targets) {
            case (.regression, _): return .values(pick.map { d.targets[$0] })
            case (.classification, .classIndices): return .indices(pick.map { d.labels[$0] })
            case (.classification(let c), .values):
                var oneHot = [Float](repeating: 0, count: pick.count * c)
                for (r, i) in pick.enumerated() { oneHot[r * c + d.labels[i]] = 1 }
                return .values(oneHot)
            }
        }
        func fullLoss(_ d: Dataset) throws -> (Double, [Float]) {
            let out = model.predict(d.features, rows: d.rows)
            return (try loss.evaluate(output: out, rows: d.rows, columns: outputs, target: target(d, nil), wantGradient: false).value, out)
        }

        let start = Date()
        let batches = (train.rows + s.batchSize - 1) / s.batchSize
        let f = data.featureCount
        var batchInput = [Float]()
        for epoch in 1...epochs {
            var order = Array(0..<train.rows)
            for i in stride(from: train.rows - 1, to: 0, by: -1) { order.swapAt(i, Int(g.next() % UInt64(i + 1))) }
            for b in 0..<batches {
                let rows = Array(order[(b * s.batchSize)..<min(train.rows, (b + 1) * s.batchSize)])
                // This rank's blocks of the batch, forward block by block.
                let blocks = (rows.count + blockRows - 1) / blockRows
                let mine = BalancedSplit.range(part: comm.rank, of: comm.size, count: blocks)
                let first = min(rows.count, mine.lowerBound * blockRows), end = min(rows.count, mine.upperBound * blockRows)
                var traces: [MLP.Trace] = [], output: [Float] = []
                for block in mine {
                    let blockRowRange = (block * blockRows)..<min(rows.count, (block + 1) * blockRows)
                    batchInput.removeAll(keepingCapacity: true)
                    for r in rows[blockRowRange] { batchInput += train.features[(r * f)..<((r + 1) * f)] }
                    traces.append(model.forward(batchInput, rows: blockRowRange.count))
                    output += traces.last!.output
                }
                let (value, gradient) = try loss.evaluate(
                    output: output, rows: end - first, columns: outputs, target: target(train, Array(rows[first..<end])),
                    communicator: comm)
                guard value.isFinite else {
                    throw ToolError.invalidArgument(
                        "the \(s.loss) loss became \(value) in epoch \(epoch), batch \(b + 1); try a smaller --lr"
                            + (loss.targets == .values && outputs > 1 ? " or a loss that suits one-hot class targets" : ""))
                }
                // Each block's parameter gradient, gathered from every rank and added in block order.
                var partials: [Float] = []
                partials.reserveCapacity(traces.count * model.parameterCount)
                var offset = 0
                for trace in traces {
                    let count = trace.rows * outputs
                    partials += model.backward(trace, outputGradient: Array(gradient[offset..<(offset + count)]))
                    offset += count
                }
                let counts = (0..<comm.size).map {
                    BalancedSplit.range(part: $0, of: comm.size, count: blocks).count * model.parameterCount
                }
                let all = comm.size == 1 ? partials : try comm.allGather(partials, counts: counts)
                var batchGradient = Array(all[0..<model.parameterCount])
                batchGradient.withUnsafeMutableBufferPointer { sum in
                    all.withUnsafeBufferPointer { parts in
                        for block in 1..<blocks {
                            let part = parts.baseAddress! + block * sum.count
                            for i in 0..<sum.count { sum[i] += part[i] }
                        }
                    }
                }
                adam.update(&model.parameters, gradient: batchGradient)
                observer?.batch(epoch: epoch, epochs: epochs, batch: b + 1, batches: batches, loss: value,
                                elapsed: Date().timeIntervalSince(start))
            }
            let trainLoss = try fullLoss(train).0, testLoss = try fullLoss(test).0
            result.trainLoss.append(trainLoss)
            result.testLoss.append(testLoss)
            observer?.epochEnded(epoch: epoch, epochs: epochs, trainLoss: trainLoss, testLoss: testLoss,
                                 elapsed: Date().timeIntervalSince(start))
        }
        result.seconds = Date().timeIntervalSince(start)

        let (trainLoss, trainOut) = try fullLoss(train), (testLoss, testOut) = try fullLoss(test)
        switch data.task {
        case .regression(let scale, let unit):
            let meanValue = Float(train.targets.reduce(0.0) { $0 + Double($1) } / Double(train.rows))
            let meanPrediction = [Float](repeating: meanValue, count: test.rows)
            let meanLoss = try loss.evaluate(output: meanPrediction, rows: test.rows, columns: 1, target: target(test, nil), wantGradient: false).value
            var leastSquares: RegressionMetrics? = nil
            if let fit = LeastSquaresBaseline(train: train) {
                let p = fit.predict(test)
                let l = try loss.evaluate(output: p, rows: test.rows, columns: 1, target: target(test, nil), wantGradient: false).value
                leastSquares = RegressionMetrics(loss: l, predictions: p, targets: test.targets, unitScale: scale)
            }
            result.regression = (
                unit,
                RegressionMetrics(loss: testLoss, predictions: testOut, targets: test.targets, unitScale: scale),
                RegressionMetrics(loss: trainLoss, predictions: trainOut, targets: train.targets, unitScale: scale),
                leastSquares,
                RegressionMetrics(loss: meanLoss, predictions: meanPrediction, targets: test.targets, unitScale: scale)
            )
        case .classification(let classes):
            func argmax(_ out: [Float], _ rows: Int) -> [Int] {
                (0..<rows).map { r in
                    var best = 0
                    for c in 1..<classes where out[r * classes + c] > out[r * classes + best] { best = c }
                    return best
                }
            }
            result.classification = (
                ClassificationMetrics(loss: testLoss, predicted: argmax(testOut, test.rows), labels: test.labels, classes: classes),
                ClassificationMetrics(loss: trainLoss, predicted: argmax(trainOut, train.rows), labels: train.labels, classes: classes)
            )
        }
        return result
    }
}

/// Ordinary least squares with an intercept, solved in double precision with
/// LAPACK's ?gels (QR): the closed-form linear model the MLP should beat.
struct LeastSquaresBaseline {
    var coefficients: [Double]  // one per feature, then the intercept

    init?(train: Dataset) {
        let m = train.rows, n = train.featureCount + 1
        guard m >= n else { return nil }
        var a = [Double](repeating: 1, count: m * n)
        for r in 0..<m {
            for c in 0..<(n - 1) { a[r * n + c] = Double(train.features[r * (n - 1) + c]) }
        }
        var b = train.targets.map(Double.init)
        do {
            try a.withUnsafeMutableBufferPointer { ap in
                try b.withUnsafeMutableBufferPointer { bp in try solveLeastSquares(ap, rows: m, columns: n, bp) }
            }
        } catch {
            return nil  // no baseline for a rank-deficient design matrix
        }
        coefficients = Array(b.prefix(n))
    }

    func predict(_ d: Dataset) -> [Float] {
        let f = d.featureCount
        return (0..<d.rows).map { r in
            var s = coefficients[f]
            for c in 0..<f { s += coefficients[c] * Double(d.features[r * f + c]) }
            return Float(s)
        }
    }
}

/// A number for JSONSerialization (NaN and infinities become null).
func jsonNumber(_ v: Double) -> Any { v.isFinite ? v : NSNull() }
