import Foundation
import Testing

/// `losskit plot` writes one well-formed SVG per loss.
@Suite struct PlotCommandTests {
    @Test func writesOneChartPerLoss() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("losskit-plot-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let names = ["l1_loss", "mse_loss", "cross_entropy", "binary_cross_entropy", "binary_cross_entropy_with_logits"]
        let r = try runLossKit(["plot"] + names + ["--out", folder])
        #expect(r.status == 0, "\(r.stderr)")
        for name in names {
            let path = folder + "/" + name + ".svg"
            #expect(r.stdout.contains("wrote \(path)"))
            let (ok, c) = SVGWriterTests.parse(try String(contentsOfFile: path, encoding: .utf8))
            #expect(ok, "\(name)")
            #expect(c.texts.contains("loss") && c.texts.contains { $0.hasPrefix("gradient") }, "\(name)")
            #expect((c.counts["polyline"] ?? 0) >= 2, "\(name)")
        }
    }

    @Test func rangeAndErrors() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("losskit-plot-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(try runLossKit(["plot", "mse_loss", "--range=-1:1", "--target", "0.5", "--out", folder]).status == 0)
        let badRange = try runLossKit(["plot", "mse_loss", "--range", "3:1", "--out", folder])
        #expect(badRange.status == 1 && badRange.stderr.contains("A < B"))
        let probability = try runLossKit(["plot", "cross_entropy", "--range", "0:2", "--out", folder])
        #expect(probability.status == 1 && probability.stderr.contains("inside (0, 1)"))
        let notALoss = try runLossKit(["plot", "softmax", "--out", folder])
        #expect(notALoss.status == 1 && notALoss.stderr.contains("not a loss"))
        // A target or range that is not finite is an argument error, not a trap.
        for target in ["nan", "inf", "-inf"] {
            let r = try runLossKit(["plot", "mse_loss", "--target=\(target)", "--out", folder])
            #expect(r.status == 1 && r.stderr.contains("expected a finite number"), "\(target): \(r.status) \(r.stderr)")
        }
        let wide = try runLossKit(["plot", "mse_loss", "--range=-1e308:1e308", "--out", folder])
        #expect(wide.status == 1 && wide.stderr.contains("A < B"), "\(wide.stderr)")
    }
}
