import ArgumentParser
import Loss

struct Tour: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Walk through the loss-function tutorial, computed by LossKit.")
    func run() throws {}
}
