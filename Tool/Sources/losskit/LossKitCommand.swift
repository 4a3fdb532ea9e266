import ArgumentParser
import Foundation

@main
struct LossKitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "losskit",
        abstract: "Neural-network loss functions with PyTorch's semantics: learn them, check them, verify them.",
        discussion: """
            Examples:
              losskit tour                         the tutorial, a training run, plots
              losskit train --data digits --loss cross_entropy
              losskit plot mse_loss cross_entropy  losses and gradients as SVG
              losskit eval mse_loss --input p.npy --target y.npy --grad-out g.npy
              losskit verify Tests/Fixtures/torch-cases.json
            """,
        subcommands: [Tour.self, Train.self, Plot.self, Eval.self, Verify.self, Bench.self]
    )

    /// Runs the command; argument errors exit with status 2 (not ArgumentParser's 64),
    /// so scripts can tell "bad arguments or unreadable input" (2) from "checks failed" (1).
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .success || code == .failure || code.rawValue == 2 {
                exit(withError: error)
            }
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(2)
        }
    }
}

/// Writes a line to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
