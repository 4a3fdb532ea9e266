import Foundation
import Testing

/// Malformed CSV files given to `losskit train --data PATH`: each is an unreadable-input
/// error (exit 2) whose message names the file and the problem, before any training.
@Suite struct CSVBadInputTests {
    static let cases: [(name: String, text: String, message: String)] = [
        ("empty", "", "is empty"),
        ("one-column", "y\n1\n2\n3\n4\n5\n6\n", "expected comma-separated columns"),
        ("ragged", "a,b,y\n1,2,3\n1,2\n", "line 3 has 2 fields, expected 3"),
        ("text", "a,b,y\n1,2,3\n1,x,3\n", "'x' is not a number"),
        ("infinite", "a,b,y\n1,2,3\n1,inf,3\n", "'inf' is not a number"),
        ("too-few-rows", "a,b,y\n1,2,3\n4,5,6\n", "needs at least 5 complete rows, found 2"),
        ("all-incomplete", "a,b,y\n1,,3\n,2,3\n1,2,\n4,,6\n,,\n7,8,\n", "needs at least 5 complete rows, found 0"),
    ]

    @Test(arguments: cases.indices)
    func malformedCSVIsAnUnreadableInputError(index: Int) throws {
        let c = Self.cases[index]
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("losskit-csv-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/\(c.name).csv"
        try c.text.write(toFile: path, atomically: true, encoding: .utf8)
        let r = try runLossKit(["train", "--data", path, "--loss", "mse_loss", "--epochs", "1", "--out", folder])
        #expect(r.status == 2, "\(c.name): status \(r.status), stderr \(r.stderr)")
        #expect(r.stderr.contains(path) || c.name == "empty" && r.stderr.contains("empty"), "\(c.name): \(r.stderr)")
        #expect(r.stderr.contains(c.message), "\(c.name): \(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/metrics.json"), "\(c.name): nothing is written")
    }
}
