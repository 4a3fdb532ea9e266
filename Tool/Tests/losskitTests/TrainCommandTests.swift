import Foundation
import Testing

/// `losskit train`: short runs whose test loss falls, reports, output files and errors.
@Suite struct TrainCommandTests {
    static func temporaryFolder() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("losskit-train-\(UUID().uuidString)").path
    }

    /// The test losses of the per-epoch lines (not a terminal, so one plain line per epoch).
    static func testLosses(_ stdout: String) -> [Double] {
        stdout.split(separator: "\n").filter { $0.hasPrefix("epoch") }.compactMap { line in
            let words = line.split(separator: " ")
            guard let i = words.firstIndex(of: "test"), i + 2 < words.count else { return nil }
            return Double(words[i + 2])
        }
    }

    @Test func californiaTestLossFallsAndBeatsTheMean() throws {
        let folder = Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let r = try runLossKit(["train", "--data", "california", "--loss", "mse_loss", "--epochs", "3", "--out", folder])
        #expect(r.status == 0, "\(r.stderr)")
        let losses = Self.testLosses(r.stdout)
        #expect(losses.count == 3)
        #expect((losses.last ?? .infinity) < (losses.first ?? 0))
        #expect(r.stdout.contains("least squares (?gels)") && r.stdout.contains("predict the train mean"))
        #expect(!r.stdout.contains("\r"))  // no progress bar when stdout is not a terminal

        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/metrics.json"))) as? [String: Any]
        let test = json?["test"] as? [String: Any], baselines = json?["baselines"] as? [String: Any]
        let mean = (baselines?["train_mean"] as? [String: Any])?["loss"] as? Double
        let loss = test?["loss"] as? Double
        #expect(loss != nil && mean != nil && loss! < 0.5 * mean!)
        #expect((test?["mae"] as? Double ?? 0) > 10_000)  // in dollars
        #expect(((json?["history"] as? [String: Any])?["test_loss"] as? [Any])?.count == 3)
        #expect(SVGWriterTests.parse(try String(contentsOfFile: folder + "/training.svg", encoding: .utf8)).ok)
    }

    @Test func digitsClassifierReportsAccuracyAndIsDeterministic() throws {
        let a = Self.temporaryFolder(), b = Self.temporaryFolder()
        defer { for f in [a, b] { try? FileManager.default.removeItem(atPath: f) } }
        let args = ["train", "--data", "digits", "--loss", "cross_entropy", "--epochs", "4", "--seed", "3"]
        let r1 = try runLossKit(args + ["--out", a]), r2 = try runLossKit(args + ["--out", b])
        #expect(r1.status == 0 && r2.status == 0)
        let accuracy = r1.stdout.split(separator: "\n").first { $0.hasPrefix("test accuracy") }
            .flatMap { Double($0.split(separator: " ")[2]) }
        #expect((accuracy ?? 0) > 0.85)
        #expect(r1.stdout.contains("class  precision  recall"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: a + "/metrics.json")) == Data(contentsOf: URL(fileURLWithPath: b + "/metrics.json")))
    }

    @Test func userCSVTrainsWithAnyRegressionLoss() throws {
        let folder = Self.temporaryFolder()
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // y = 2 x1 - x2 + 1 on a grid, with one incomplete row that is dropped.
        var csv = "x1,x2,y\n1,,3\n"
        for i in 0..<20 { for j in 0..<10 { csv += "\(i),\(j),\(2 * i - j + 1)\n" } }
        try csv.write(toFile: folder + "/line.csv", atomically: true, encoding: .utf8)
        let r = try runLossKit(["train", "--data", folder + "/line.csv", "--loss", "l1_loss", "--epochs", "5", "--out", folder])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("200 rows (1 with an empty field dropped)"))
        let losses = Self.testLosses(r.stdout)
        #expect((losses.last ?? .infinity) < (losses.first ?? 0))
    }

    @Test func errorsSayWhatToDo() throws {
        let wrongKind = try runLossKit(["train", "--data", "california", "--loss", "cross_entropy", "--out", Self.temporaryFolder()])
        #expect(wrongKind.status == 1 && wrongKind.stderr.contains("use --data digits"))
        let unknown = try runLossKit(["train", "--loss", "no_such_loss", "--out", Self.temporaryFolder()])
        #expect(unknown.status == 1 && unknown.stderr.contains("choose one of"))
        let missing = try runLossKit(["train", "--data", "/nonexistent/data.csv"])
        #expect(missing.status == 2 && missing.stderr.contains("no such file"))
        let badOption = try runLossKit(["train", "--option", "delta=1", "--out", Self.temporaryFolder()])
        #expect(badOption.status == 1 && badOption.stderr.contains("delta"))
        #expect(try runLossKit(["train", "--epochs", "many"]).status == 2)
        #expect(try runLossKit(["train", "--help"]).stdout.contains("Examples:"))
        let tooMany = try runLossKit(["train", "--epochs", "100001", "--out", Self.temporaryFolder()])
        #expect(tooMany.status == 1 && tooMany.stderr.contains("--epochs must be between 1 and 100000"), "\(tooMany.stderr)")
    }

    /// A diverging run (a learning rate of 1e10) reports amounts beyond what an Int counts
    /// in dollars, and so does a house value of 1e20 in the data: printed, never a trap.
    @Test func hugeDollarAmountsArePrintedNotTrapped() throws {
        let folder = Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let r = try runLossKit(["train", "--data", "california", "--loss", "l1_loss", "--lr", "1e10", "--epochs", "1", "--out", folder])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("MLP") && r.stdout.contains("e+"), "\(r.stdout)")

        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var csv = "longitude,latitude,housing_median_age,total_rooms,total_bedrooms,population,households,median_income,median_house_value\n"
        for i in 0..<40 { csv += "-122.\(i),37.8,41,880,129,322,126,8.3,\(i == 7 ? "1e20" : "452600")\n" }
        try csv.write(toFile: folder + "/houses.csv", atomically: true, encoding: .utf8)
        let h = try runLossKit(["train", "--data", folder + "/houses.csv", "--loss", "mse_loss", "--epochs", "1", "--out", folder])
        #expect(h.status == 0, "\(h.stderr)")
        #expect(h.stdout.contains("$"), "\(h.stdout)")
    }
}
