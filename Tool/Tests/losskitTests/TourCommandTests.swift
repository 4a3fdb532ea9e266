import Foundation
import Testing

@Suite struct TourCommandTests {
    /// Bad arguments are refused with status 2 before the tutorial prints a line.
    @Test func badArgumentsFailBeforeTheTutorial() throws {
        for arguments in [["--epochs", "0"], ["--epochs", "1001"], ["--out", "/dev/null"]] {
            let r = try runLossKit(["tour"] + arguments)
            #expect(r.status == 2, "\(arguments): \(r.status) \(r.stderr)")
            #expect(r.stdout.isEmpty, "\(arguments): the tutorial printed")
        }
    }

    /// The tutorial's numbers, printed from values the library computed.
    @Test func tourPrintsTheTutorialsNumbers() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("losskit-tour-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let r = try runLossKit(["tour", "--out", folder, "--epochs", "3"])
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        func value(_ prefix: String) -> Double? {
            lines.first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(prefix) }
                .flatMap { $0.split(separator: ":").last }.flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        }
        #expect(value("MAE") == 2.0)
        #expect(value("MSE") == 5.0)
        #expect(value("RMSE") == 2.2361)
        #expect(value("CE with probability targets") == 0.2881)
        #expect(value("CE with class-index targets") == 0.2881)
        #expect(value("NLL(LogSoftmax") == 0.2881)
        #expect(value("BCE of [0.75, 0.25]") == 0.2877)  // -log 0.75
        #expect(value("MAPE of") == 0.075)
        #expect(r.stdout.contains("75% of the absolute errors, 90% of the squared errors"))
        #expect(r.stdout.contains("0.7497   0.1499   0.1005"))  // softmax of the second row
        // Step 8 trains with MSE and MAPE and compares them in dollars; step 9 lists the plots it wrote.
        #expect(lines.contains { $0.hasPrefix("  MLP trained with MSE") && $0.contains("$") })
        #expect(lines.contains { $0.hasPrefix("  MLP trained with MAPE") && $0.hasSuffix("%") })
        for name in ["l1_loss", "mse_loss", "cross_entropy", "binary_cross_entropy", "training-mse", "training-mape"] {
            let path = folder + "/" + name + ".svg"
            #expect(r.stdout.contains(path))
            #expect(FileManager.default.fileExists(atPath: path), "\(path)")
        }
    }
}
