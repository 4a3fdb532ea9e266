import Foundation
import Testing
import _TestSupport

/// Runs the built `losskit` binary and captures its output and status.
func runLossKit(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let binary = TestSupport.repositoryRoot + "/.build/debug/losskit"
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
        #expect(try runLossKit(["verify", "--precision", "half", TestSupport.torchCasesPath]).status == 2)
        #expect(try runLossKit(["verify"]).status == 2)
    }
}
