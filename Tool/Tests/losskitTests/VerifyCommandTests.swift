import Foundation
import Testing

/// The `losskit` binary under test: `$LOSSKIT_BINARY` when set, else the one
/// built next to this test bundle (so `swift test --scratch-path .build-asan`
/// runs the sanitized binary), else `Tool/.build/debug/losskit`.
let lossKitBinary: String = {
    if let path = ProcessInfo.processInfo.environment["LOSSKIT_BINARY"], !path.isEmpty { return path }
    let fm = FileManager.default
    let me = (try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    var dir = URL(fileURLWithPath: me).deletingLastPathComponent()
    // The bundle is `<bin>/LossKitPackageTests.xctest` (a file on Linux, a directory elsewhere).
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent("losskit").path
        if fm.isExecutableFile(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    return TestSupport.toolRoot + "/.build/debug/losskit"
}()

/// Runs the built `losskit` binary and captures its output and status.
func runLossKit(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let binary = lossKitBinary
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}

@Suite struct VerifyCommandTests {
    @Test func unreadableFileExitsWithTwo() throws {
        let r = try runLossKit(["verify", "/nonexistent/cases.json"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("/nonexistent/cases.json"))
    }

    @Test func summaryLineCountsEveryCase() throws {
        let r = try runLossKit(["verify", TestSupport.torchCasesPath])
        let last = r.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let numbers = last.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        #expect(numbers.count == 3 && numbers.reduce(0, +) == 385, "\(last)")
        #expect(numbers.count == 3 && numbers[1] == 0, "no case may fail: \(last)")
        #expect(r.status == (numbers.last == 0 ? 0 : 1))
    }

    /// Cases that differ from PyTorch only where LossKit documents it are printed as DIFF
    /// with the reason, counted after the summary, and leave the exit status 0.
    @Test func deliberateDifferencesAreReportedNotFailed() throws {
        let path = TestSupport.repositoryRoot + "/Tests/Fixtures/torch-cases-edges.json"
        for precision in ["float", "double"] {
            let r = try runLossKit(["verify", path, "--precision", precision])
            let lines = r.stdout.split(separator: "\n").map(String.init)
            #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
            #expect(lines.filter { $0.hasPrefix("DIFF hard/focal_cross_entropy/") && $0.contains("FocalCrossEntropyLoss") }.count == 2)
            #expect(lines.last == "3 passed, 0 failed, 0 skipped, 2 differ by design")
            let json = try runLossKit(["verify", "--json", path, "--precision", precision])
            #expect(json.stdout.split(separator: "\n").filter { $0.contains("\"status\": \"differs\"") }.count == 2)
        }
    }
}

@Suite struct VerifyJSONTests {
    @Test func jsonLinesHaveTheContractFields() throws {
        let r = try runLossKit(["verify", "--json", "--precision", "double", TestSupport.torchCasesPath])
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 386)
        for line in lines.dropLast() {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["id"] is String && object?["function"] is String)
            #expect(["pass", "fail", "unsupported"].contains(object?["status"] as? String ?? ""))
            #expect(object?.keys.contains("max_error") == true)
        }
        #expect(lines.last?.hasSuffix("skipped") == true)
    }

    @Test func badArgumentsExitWithTwo() throws {
        #expect(try runLossKit(["verify", "--precision", "quarter", TestSupport.torchCasesPath]).status == 2)
        #expect(try runLossKit(["verify"]).status == 2)
    }
}

/// Exit codes for bad files and bad cases: 2 for a file that is not of the
/// format (named on stderr, nothing checked), 1 for a case that fails.
@Suite struct VerifyBadFileTests {
    func temporaryFile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("losskit-bad-\(UInt64.random(in: 0...UInt64.max)).json").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func malformedFileExitsWithTwoAndNamesIt() throws {
        let path = try temporaryFile(#"{"format":"loss-reference/1","cases":[{"id":"a","function":"mse_loss","#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try runLossKit(["verify", path])
        #expect(r.status == 2)
        #expect(r.stderr.contains(path) && r.stderr.contains("is not valid JSON"), "\(r.stderr)")
    }

    @Test func int64ExpectationIsRejectedNotPassed() throws {
        let path = try temporaryFile(
            #"{"format":"loss-reference/1","cases":[{"id":"a","function":"mse_loss","inputs":{"input":{"shape":[1],"data":[1]},"target":{"shape":[1],"data":[0]}},"output":{"shape":[],"dtype":"int64","data":[5]},"upstream":{"shape":[],"data":[1]}}]}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try runLossKit(["verify", path])
        #expect(r.status == 2)
        #expect(r.stderr.contains("output must be a floating-point tensor"), "\(r.stderr)")
    }

    @Test func aFailingCaseExitsWithOne() throws {
        let path = try temporaryFile(
            #"{"format":"loss-reference/1","cases":[{"id":"a","function":"mse_loss","inputs":{"input":{"shape":[1],"data":[1]},"target":{"shape":[1],"data":[0]}},"output":{"shape":[],"data":[5]},"upstream":{"shape":[],"data":[1]}}]}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try runLossKit(["verify", path, "--precision", "double"])
        #expect(r.status == 1)
        #expect(r.stdout.contains("FAIL a: output[0]: got 1.0, want 5.0"), "\(r.stdout)")
        #expect(r.stdout.hasSuffix("0 passed, 1 failed, 0 skipped\n"))
    }

    /// A key given twice leaves it to the reader which value counts: the file is refused,
    /// at the top level and inside inputs or options alike.
    @Test func duplicateKeysAreRejected() throws {
        let valid = #"{"format":"loss-reference/1","cases":[{"id":"a","function":"mse_loss","options":{"reduction":"sum"},"inputs":{"input":{"shape":[1],"data":[1]},"target":{"shape":[1],"data":[0]}},"output":{"shape":[],"data":[1]},"upstream":{"shape":[],"data":[1]}}]}"#
        let variants = [
            valid.replacingOccurrences(of: #"{"format":"loss-reference/1","#, with: #"{"format":"x","format":"loss-reference/1","#),
            valid.replacingOccurrences(of: #""inputs":{"#, with: #""inputs":{"input":{"shape":[1],"data":[7]},"#),
            valid.replacingOccurrences(of: #""options":{"#, with: #""options":{"reduction":"mean","#),
        ]
        for text in variants {
            let path = try temporaryFile(text)
            defer { try? FileManager.default.removeItem(atPath: path) }
            let r = try runLossKit(["verify", path])
            #expect(r.status == 2 && r.stderr.contains("appears twice in one object"), "\(r.stderr)")
        }
        let path = try temporaryFile(valid)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try runLossKit(["verify", path]).status == 0)
    }

    /// Case ids and messages come from the file: printed escaped, they can neither add a line
    /// (a fake summary) nor send a terminal escape sequence.
    @Test func caseIdsArePrintedEscaped() throws {
        let id = #"evil\n0 passed, 0 failed, 0 skipped\u001b[2J\u009b31m\u202e"#
        let path = try temporaryFile(
            #"{"format":"loss-reference/1","cases":[{"id":""# + id + #"","function":"mse_loss","inputs":{"input":{"shape":[1],"data":[1]},"target":{"shape":[1],"data":[0]}},"output":{"shape":[],"data":[5]},"upstream":{"shape":[],"data":[1]}}]}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        for arguments in [[String](), ["--json"]] {
            let r = try runLossKit(["verify", path] + arguments)
            #expect(r.status == 1)
            let lines = r.stdout.split(separator: "\n")
            #expect(lines.count == 2, "\(arguments): \(r.stdout)")
            #expect(!r.stdout.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x9B || $0.value == 0x202E }, "\(arguments)")
            #expect(lines.last == "0 passed, 1 failed, 0 skipped")
        }
    }

    /// A device (/dev/zero never ends) or a directory is refused before it is read, and said to be one.
    @Test func specialFilesAreRefused() throws {
        let zero = try runLossKit(["verify", "/dev/zero"])
        #expect(zero.status == 2 && zero.stderr.contains("/dev/zero: is a device"), "\(zero.stderr)")
        let folder = try runLossKit(["verify", FileManager.default.temporaryDirectory.path])
        #expect(folder.status == 2 && folder.stderr.contains("is a directory"), "\(folder.stderr)")
    }

    /// An input shape without elements whose other sizes are huge is refused with the file.
    @Test func shapeWithoutElementsAndHugeRowsIsRefused() throws {
        let path = try temporaryFile(
            #"{"format":"loss-reference/1","cases":[{"id":"a","function":"sum","options":{"dim":1},"inputs":{"input":{"shape":[549755813887,0],"data":[]}},"output":{"shape":[],"data":[0]},"upstream":{"shape":[],"data":[1]}}]}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try runLossKit(["verify", path])
        #expect(r.status == 2 && r.stderr.contains("inputs.input has a shape without elements"), "\(r.stderr)")
    }
}
