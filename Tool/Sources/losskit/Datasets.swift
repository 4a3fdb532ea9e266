import ArgumentParser
import Foundation
import Loss

/// Errors of the command-line tool: each says what went wrong and what to do.
enum ToolError: Error, CustomStringConvertible {
    /// A data or input file is missing or unreadable (exit status 2).
    case unreadable(String)
    /// An argument or option value that cannot work (exit status 1).
    case invalidArgument(String)

    var description: String {
        switch self {
        case .unreadable(let m), .invalidArgument(let m): return m
        }
    }

    var exitStatus: Int32 {
        switch self {
        case .unreadable: return 2
        case .invalidArgument: return 1
        }
    }
}

/// Runs `body`, printing a tool error, a LossError or an NPYError as one line
/// prefixed by the command's name and turning it into the exit status.
func reportingErrors(_ command: String, _ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ToolError {
        printError("losskit \(command): " + printable("\(error)"))
        throw ExitCode(error.exitStatus)
    } catch let error as LossError {
        printError("losskit \(command): " + printable("\(error)"))
        throw ExitCode(1)
    }
}

/// A CSV cell as a number Float can hold: decimal notation only (see ``parseDecimal(_:)``),
/// finite, and within Float's range (a cell of 1e39 is an error, not an infinity that
/// training would meet later). `what` names the cell in the error.
func csvNumber(_ text: String, _ what: String) throws -> Double {
    guard let v = parseDecimal(text) else {
        throw ToolError.unreadable("\(what): '\(text.prefix(40))' is not a number (only numeric columns, in decimal notation, are supported)")
    }
    guard v.isFinite, Float(v).isFinite else {
        throw ToolError.unreadable("\(what): \(text.prefix(40)) is beyond Float's range (±3.4e38)")
    }
    return v
}

/// `text` as a number when it is written in decimal notation and nothing else: an optional
/// sign, digits with an optional point, an optional exponent. Swift's `Double(_:)` also takes
/// hexadecimal (`0x10` is 16), `nan` and `inf`, and stops at a NUL byte (`1\0garbage` is 1).
func parseDecimal<S: StringProtocol>(_ text: S) -> Double? {
    let bytes = Array(text.utf8)
    var i = 0, digits = 0
    func scanDigits() -> Int {
        var n = 0
        while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1; n += 1 }
        return n
    }
    if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
    digits += scanDigits()
    if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
        i += 1
        digits += scanDigits()
    }
    guard digits > 0 else { return nil }
    if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
        i += 1
        if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard scanDigits() > 0 else { return nil }
    }
    guard i == bytes.count else { return nil }
    return Double(String(decoding: bytes, as: UTF8.self))
}

/// What `path` is when it exists and is neither a regular file nor a pipe (symbolic links
/// followed): "a directory", "a device", "a socket"; nil otherwise.
func specialFileKind(_ path: String) -> String? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    switch info.st_mode & S_IFMT {
    case S_IFREG, S_IFIFO: return nil
    case S_IFDIR: return "a directory"
    case S_IFCHR, S_IFBLK: return "a device"
    default: return "a special file"
    }
}

/// Standardized features are clipped to this many standard deviations: a few
/// California block groups have extreme averages (AveOccup up to 1,243, AveRooms
/// up to 142) that would otherwise sit 100 standard deviations out and make a
/// ReLU network's predictions for them, and its training, erratic.
let standardizedClip = 5.0

/// What a learning task needs: the features and either real-valued targets or class labels.
struct Dataset {
    enum Task {
        /// Targets are real numbers; `unitScale` converts them to the reported units (`unit`, e.g. "$").
        case regression(unitScale: Double, unit: String)
        case classification(classes: Int)
    }

    var name: String
    var task: Task
    var featureNames: [String]
    /// Row-major (rows, featureCount).
    var features: [Float]
    var rows: Int
    var targets: [Float] = []
    var labels: [Int] = []
    var notes: [String] = []

    var featureCount: Int { featureNames.count }

    /// The rows in `indices`, in that order.
    func subset(_ indices: [Int]) -> Dataset {
        var d = self
        d.rows = indices.count
        d.features = []
        d.features.reserveCapacity(indices.count * featureCount)
        for i in indices { d.features += features[(i * featureCount)..<((i + 1) * featureCount)] }
        if !targets.isEmpty { d.targets = indices.map { targets[$0] } }
        if !labels.isEmpty { d.labels = indices.map { labels[$0] } }
        return d
    }

    /// An 80/20 split of a seeded shuffle.
    func split(seed: UInt64, trainFraction: Double = 0.8) -> (train: Dataset, test: Dataset) {
        var g = SeededGenerator(seed: seed)
        var order = Array(0..<rows)
        // Fisher–Yates with the project's generator, so the split is the same on every platform.
        if rows > 1 {
            for i in stride(from: rows - 1, to: 0, by: -1) { order.swapAt(i, Int(g.next() % UInt64(i + 1))) }
        }
        let cut = Int((Double(rows) * trainFraction).rounded())
        return (subset(Array(order[..<cut])), subset(Array(order[cut...])))
    }

    /// Per-feature mean and standard deviation (population) of this split.
    func featureStatistics() -> (mean: [Double], std: [Double]) {
        var mean = [Double](repeating: 0, count: featureCount), sq = mean
        for r in 0..<rows {
            for c in 0..<featureCount {
                let v = Double(features[r * featureCount + c])
                mean[c] += v
                sq[c] += v * v
            }
        }
        let n = Double(max(rows, 1))
        let std = (0..<featureCount).map { c -> Double in
            let m = mean[c] / n
            let s = (max(sq[c] / n - m * m, 0)).squareRoot()
            return s > 1e-12 ? s : 1
        }
        return (mean.map { $0 / n }, std)
    }

    /// Standardizes the features with the given statistics (the training split's, for both splits)
    /// and clips them to ±`clip` standard deviations; returns how many values were clipped.
    @discardableResult
    mutating func standardize(mean: [Double], std: [Double], clip: Double = standardizedClip) -> Int {
        var clipped = 0
        for r in 0..<rows {
            for c in 0..<featureCount {
                let i = r * featureCount + c
                let z = (Double(features[i]) - mean[c]) / std[c]
                if abs(z) > clip { clipped += 1 }
                features[i] = Float(min(max(z, -clip), clip))
            }
        }
        return clipped
    }
}

/// Finds and loads the data sets.
enum DataLoader {
    static let builtIn = ["california": "california_housing.csv", "digits": "digits.csv"]

    /// The path of a bundled data file: `Data/<file>` in the current directory or
    /// the executable's directory, or in one of their parents.
    static func locate(_ file: String) -> String? {
        var starts = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        if let exe = Bundle.main.executableURL?.resolvingSymlinksInPath() { starts.append(exe.deletingLastPathComponent()) }
        let arg0 = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        starts.append(arg0.deletingLastPathComponent())
        for start in starts {
            var dir = start.standardizedFileURL
            for _ in 0..<8 {
                let candidate = dir.appendingPathComponent("Data").appendingPathComponent(file).path
                if FileManager.default.isReadableFile(atPath: candidate) { return candidate }
                let parent = dir.deletingLastPathComponent()
                if parent.path == dir.path { break }
                dir = parent
            }
        }
        return nil
    }

    /// Loads `spec` (`california`, `digits` or a CSV path). `classification` says whether
    /// the loss wants class labels, which decides how a user's CSV's last column is read.
    static func load(_ spec: String, classification: Bool) throws -> Dataset {
        let path: String
        if let file = builtIn[spec.lowercased()] {
            guard let found = locate(file) else {
                throw ToolError.unreadable(
                    "cannot find Data/\(file): run losskit from the LossKit repository (or below it), "
                        + "or pass the file with --data PATH/\(file)")
            }
            path = found
        } else {
            path = spec
        }
        if let kind = specialFileKind(path) {
            throw ToolError.unreadable("\(path) is \(kind), not a CSV file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            let hint = builtIn.keys.sorted().joined(separator: ", ")
            throw ToolError.unreadable(
                FileManager.default.fileExists(atPath: path)
                    ? "\(path) cannot be read" : "\(path): no such file (use --data with one of \(hint), or a CSV path)")
        }
        var text = String(decoding: data, as: UTF8.self)
        // A byte-order mark (as spreadsheet programs write) is not part of the first cell.
        if text.unicodeScalars.first == "\u{FEFF}" { text = String(text.unicodeScalars.dropFirst()) }
        let lines = text.split(whereSeparator: \.isNewline).filter { !$0.allSatisfy(\.isWhitespace) }
        guard let first = lines.first else { throw ToolError.unreadable("\(path) is empty") }
        if first.contains("median_house_value") { return try california(lines, path: path) }
        if spec.lowercased() == "digits" || (path as NSString).lastPathComponent == "digits.csv" {
            return try digits(lines, path: path)
        }
        return try generic(lines, path: path, classification: classification)
    }

    /// California housing with scikit-learn's 8 derived features; target in $100,000.
    static func california(_ lines: [Substring], path: String) throws -> Dataset {
        let header = lines[0].split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let needed = ["longitude", "latitude", "housing_median_age", "total_rooms", "total_bedrooms", "population",
                      "households", "median_income", "median_house_value"]
        var column: [String: Int] = [:]
        for name in needed {
            guard let i = header.firstIndex(of: name) else {
                throw ToolError.unreadable("\(path): the header has no column \(name)")
            }
            column[name] = i
        }
        var features: [Float] = [], targets: [Float] = []
        var dropped = 0
        features.reserveCapacity(lines.count * 8)
        for (number, line) in lines.dropFirst().enumerated() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            func value(_ name: String) throws -> Double? {
                let i = column[name]!
                guard i < fields.count else {
                    throw ToolError.unreadable("\(path): line \(number + 2) has \(fields.count) fields, expected \(header.count)")
                }
                let f = fields[i].trimmingCharacters(in: .whitespaces)
                if f.isEmpty { return nil }
                return try csvNumber(f, "\(path): line \(number + 2): \(name)")
            }
            guard let income = try value("median_income"), let age = try value("housing_median_age"),
                  let rooms = try value("total_rooms"), let bedrooms = try value("total_bedrooms"),
                  let population = try value("population"), let households = try value("households"),
                  let latitude = try value("latitude"), let longitude = try value("longitude"),
                  let value = try value("median_house_value"), households > 0
            else {
                dropped += 1
                continue
            }
            let row = [income, age, rooms / households, bedrooms / households, population, population / households,
                       latitude, longitude, value / 100_000]
            guard row.allSatisfy({ Float($0).isFinite }) else {
                throw ToolError.unreadable(
                    "\(path): line \(number + 2): a feature derived from it (a ratio to households) is beyond Float's range")
            }
            features += row.dropLast().map { Float($0) }
            targets.append(Float(value / 100_000))
        }
        return Dataset(
            name: "California housing", task: .regression(unitScale: 100_000, unit: "$"),
            featureNames: ["MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup", "Latitude", "Longitude"],
            features: features, rows: targets.count, targets: targets,
            notes: ["\(targets.count) rows (\(dropped) with a missing value dropped), 8 features, target in $100,000"])
    }

    /// The 8x8 digits: 64 pixel counts scaled by 1/16, then the label.
    static func digits(_ lines: [Substring], path: String) throws -> Dataset {
        var features: [Float] = [], labels: [Int] = []
        for (number, line) in lines.enumerated() {
            let fields = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == 65 else {
                throw ToolError.unreadable("\(path): line \(number + 1) has \(fields.count) fields, expected 64 pixels and a label")
            }
            for f in fields.prefix(64) {
                features.append(Float(try csvNumber(f, "\(path): line \(number + 1): a pixel") / 16))
            }
            guard let label = Int(fields[64]), (0..<10).contains(label) else {
                throw ToolError.unreadable("\(path): line \(number + 1): the label '\(fields[64])' is not a digit 0-9")
            }
            labels.append(label)
        }
        return Dataset(
            name: "digits", task: .classification(classes: 10), featureNames: (0..<64).map { "pixel\($0)" },
            features: features, rows: labels.count, labels: labels,
            notes: ["\(labels.count) images of 8x8 pixels (scaled by 1/16), 10 classes"])
    }

    /// Any numeric CSV: an optional header row, then rows whose last column is the
    /// target (a class label 0, 1, ... for a classification loss). Rows with an empty field are dropped.
    static func generic(_ lines: [Substring], path: String, classification: Bool) throws -> Dataset {
        let firstFields = lines[0].split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let hasHeader = firstFields.contains { !$0.isEmpty && parseDecimal($0) == nil }
        let columns = firstFields.count
        guard columns >= 2 else {
            throw ToolError.unreadable("\(path): expected comma-separated columns, features first and the target last")
        }
        var features: [Float] = [], targets: [Float] = [], labels: [Int] = []
        var dropped = 0
        for (number, line) in lines.enumerated().dropFirst(hasHeader ? 1 : 0) {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == columns else {
                throw ToolError.unreadable("\(path): line \(number + 1) has \(fields.count) fields, expected \(columns)")
            }
            if fields.contains(where: \.isEmpty) {
                dropped += 1
                continue
            }
            var row: [Float] = []
            for f in fields {
                row.append(Float(try csvNumber(f, "\(path): line \(number + 1)")))
            }
            features += row.dropLast()
            if classification {
                guard let v = parseDecimal(fields[columns - 1]), v >= 0, v == v.rounded(), v < 100_000 else {
                    throw ToolError.unreadable(
                        "\(path): line \(number + 1): the class label '\(fields[columns - 1])' is not 0, 1, 2, ...")
                }
                labels.append(Int(v))
            } else {
                targets.append(row[columns - 1])
            }
        }
        let rows = classification ? labels.count : targets.count
        guard rows >= 5 else { throw ToolError.unreadable("\(path): needs at least 5 complete rows, found \(rows)") }
        if classification, let top = labels.max(), top < 1 {
            throw ToolError.unreadable("\(path): a classification loss needs at least two classes, and every label is \(top)")
        }
        let names = hasHeader ? Array(firstFields.dropLast()) : (1..<columns).map { "x\($0)" }
        let task: Dataset.Task = classification ? .classification(classes: (labels.max() ?? 0) + 1) : .regression(unitScale: 1, unit: "")
        return Dataset(
            name: (path as NSString).lastPathComponent, task: task, featureNames: names, features: features, rows: rows,
            targets: targets, labels: labels,
            notes: ["\(rows) rows (\(dropped) with an empty field dropped), \(columns - 1) features"])
    }
}
