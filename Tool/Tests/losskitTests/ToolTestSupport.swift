import Foundation

/// Paths the tool's tests need.
enum TestSupport {
    /// The LossKit repository's root (the parent of `Tool/`), found from this file's path.
    static var repositoryRoot: String {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(4)  // Tool/Tests/losskitTests/ToolTestSupport.swift
        return parts.joined(separator: "/")
    }

    /// The tool package's folder.
    static var toolRoot: String { repositoryRoot + "/Tool" }

    /// The bundled PyTorch reference cases.
    static var torchCasesPath: String { repositoryRoot + "/Tests/Fixtures/torch-cases.json" }

    /// The largest relative difference `|a - b| / max(|b|, floor)` over two sequences.
    static func maxRelativeDifference(_ a: [Double], _ b: [Double], floor: Double = 1e-12) -> Double {
        precondition(a.count == b.count)
        return zip(a, b).map { x, y in x == y ? 0 : abs(x - y) / max(abs(y), floor) }.max() ?? 0
    }
}
