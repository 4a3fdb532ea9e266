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
        // Finite in Double, beyond Float: refused here, not an infinity that training meets later.
        ("beyond-float", "a,b,y\n1,2,3\n2,3,4\n3,4,5\n4,5,6\n5,6,7\n1e39,2,3\n", "line 7: 1e39 is beyond Float's range"),
        // Decimal notation only: not hexadecimal, and nothing after the number (a NUL byte included).
        ("hexadecimal", "a,b,y\n1,2,3\n2,3,4\n3,4,5\n4,5,6\n5,6,7\n0x10,2,3\n", "'0x10' is not a number"),
        ("nul-byte", "a,b,y\n1,2,3\n2,3,4\n3,4,5\n4,5,6\n5,6,7\n1\u{0}garbage,2,3\n", "'1\\u{0}garbage' is not a number"),
        ("nan-cell", "a,b,y\n1,2,3\n2,3,4\n3,4,5\n4,5,6\n5,6,7\nnan,2,3\n", "'nan' is not a number"),
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

    /// A class CSV whose labels are all 0 has one class: an input error that says so.
    @Test func classLabelsThatAreAllZeroAreRefused() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("losskit-csv-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/zeros.csv"
        try (0..<10).map { "\($0),\($0 * 2),0" }.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let r = try runLossKit(["train", "--data", path, "--loss", "cross_entropy", "--epochs", "1", "--out", folder])
        #expect(r.status == 2 && r.stderr.contains("needs at least two classes, and every label is 0"), "\(r.stderr)")
    }

    /// A byte-order mark (spreadsheet programs write one) before a headerless CSV is not a
    /// header: all rows are data.
    @Test func byteOrderMarkIsNotAHeader() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("losskit-csv-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/bom.csv"
        try ("\u{FEFF}" + (0..<10).map { "\($0),\($0 * 2),\($0 * 3)" }.joined(separator: "\n")).write(toFile: path, atomically: true, encoding: .utf8)
        let r = try runLossKit(["train", "--data", path, "--loss", "mse_loss", "--epochs", "1", "--out", folder])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("10 rows (0 with an empty field dropped), 2 features"), "\(r.stdout)")
    }

    /// A device is refused before it is read (/dev/zero never ends).
    @Test func deviceIsRefused() throws {
        let r = try runLossKit(["train", "--data", "/dev/zero", "--loss", "mse_loss", "--epochs", "1", "--out", "/tmp"])
        #expect(r.status == 2 && r.stderr.contains("/dev/zero is a device"), "\(r.stderr)")
    }
}
