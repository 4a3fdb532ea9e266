import Foundation
import NumPyFiles
import Testing

/// `losskit eval` end to end: .npy in, loss printed, gradient .npy out, checked against NumPy's numbers.
@Suite struct EvalCommandTests {
    static func fixture(_ name: String) -> String { TestSupport.repositoryRoot + "/Tests/Fixtures/npy/" + name }
    static func temporary(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("losskit-eval-\(UUID().uuidString)-\(name)").path
    }

    @Test func crossEntropyMatchesNumPy() throws {
        let grad = Self.temporary("grad.npy")
        defer { try? FileManager.default.removeItem(atPath: grad) }
        let r = try runLossKit([
            "eval", "cross_entropy", "--input", Self.fixture("ce_logits.npy"), "--target", Self.fixture("ce_labels.npy"),
            "--grad-out", grad,
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let expectedLoss = try NPYArray(contentsOf: Self.fixture("ce_expected_loss.npy")).doubles[0]
        let printed = r.stdout.split(separator: "\n").first.flatMap { Double($0.split(separator: " ").last ?? "") }
        #expect(abs((printed ?? 0) - expectedLoss) < 1e-12)  // float64 input: computed in double
        let got = try NPYArray(contentsOf: grad), want = try NPYArray(contentsOf: Self.fixture("ce_expected_grad.npy"))
        #expect(got.shape == [2, 3] && got.dtype == .float64)
        #expect(TestSupport.maxRelativeDifference(got.doubles, want.doubles, floor: 1e-6) < 1e-12)
    }

    @Test func mseInFloatWithOptions() throws {
        let grad = Self.temporary("g.npy"), losses = Self.temporary("l.npy")
        defer { for f in [grad, losses] { try? FileManager.default.removeItem(atPath: f) } }
        let args = ["eval", "mse_loss", "--input", Self.fixture("mse_input.npy"), "--target", Self.fixture("mse_target.npy")]
        let mean = try runLossKit(args + ["--grad-out", grad])
        #expect(mean.status == 0 && mean.stdout.hasPrefix("mse_loss: 5\n"))
        #expect(try NPYArray(contentsOf: grad).values == .float32([-1, 3]))
        let none = try runLossKit(args + ["--option", "reduction=none", "--loss-out", losses, "--precision", "double"])
        #expect(none.status == 0)
        #expect(try NPYArray(contentsOf: losses).values == .float64([1, 9]))
    }

    /// An int64 target of a loss that takes values is promoted to floating point, as in
    /// PyTorch: `soft_margin_loss(float64 [0.5, -1, 2], int64 [1, -1, -1])` is
    /// 0.9714222275804341, gradient [-0.12584688959938180, 0.08964714045666504, 0.2935990259926275].
    @Test func integerTargetOfAValuesLossIsPromoted() throws {
        let input = Self.temporary("x.npy"), target = Self.temporary("y.npy"), grad = Self.temporary("g.npy")
        defer { for f in [input, target, grad] { try? FileManager.default.removeItem(atPath: f) } }
        try NPYArray(shape: [3], values: .float64([0.5, -1, 2])).write(to: input)
        try NPYArray(shape: [3], values: .int64([1, -1, -1])).write(to: target)
        let r = try runLossKit(["eval", "soft_margin_loss", "--input", input, "--target", target, "--grad-out", grad])
        #expect(r.status == 0, "\(r.stderr)")
        let printed = r.stdout.split(separator: "\n").first.flatMap { Double($0.split(separator: " ").last ?? "") }
        #expect(abs((printed ?? 0) - 0.9714222275804341) < 1e-15)
        let want = [-0.1258468895993818, 0.08964714045666504, 0.2935990259926275]
        #expect(TestSupport.maxRelativeDifference(try NPYArray(contentsOf: grad).doubles, want) < 1e-14)
    }

    /// `--option dim=[0,1]` is a list of dimensions, as `torch.sum(x, dim=[0, 1], keepdim=True)`.
    @Test func listOptionsReachTheLoss() throws {
        let input = Self.temporary("x.npy")
        defer { try? FileManager.default.removeItem(atPath: input) }
        try NPYArray(shape: [2, 3], values: .float64([0.5, -1, 2, 1.5, 0.25, -3])).write(to: input)
        let r = try runLossKit(["eval", "sum", "--input", input, "--option", "dim=[0, -1]", "--option", "keepdim=True"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("sum (shape [1, 1]): 0.25\n"), "\(r.stdout)")
        let all = try runLossKit(["eval", "mean", "--input", input, "--option", "dim=()"])
        #expect(all.status == 0 && all.stdout.hasPrefix("mean: 0.041666666666666664\n"), "\(all.stdout)")
    }

    @Test func badInputsAreClearErrorsWithTheRightStatus() throws {
        func eval(_ input: String, _ extra: [String] = []) throws -> (status: Int32, stdout: String, stderr: String) {
            try runLossKit(["eval", "mse_loss", "--input", input, "--target", Self.fixture("mse_target.npy")] + extra)
        }
        // Unreadable input: exit 2.
        for (file, message) in [("bad_big_endian.npy", "unsupported dtype"), ("bad_fortran.npy", "Fortran order"),
                                ("bad_uint8.npy", "unsupported dtype"), ("missing.npy", "no such file")] {
            let r = try eval(Self.fixture(file))
            #expect(r.status == 2 && r.stderr.contains(message), "\(file): \(r.stderr)")
        }
        let truncated = Self.temporary("t.npy")
        defer { try? FileManager.default.removeItem(atPath: truncated) }
        try Data(try Data(contentsOf: URL(fileURLWithPath: Self.fixture("mse_input.npy"))).prefix(100)).write(to: URL(fileURLWithPath: truncated))
        let t = try eval(truncated)
        #expect(t.status == 2 && t.stderr.contains("truncated"))
        // Invalid arguments: exit 1.
        let shape = try eval(Self.fixture("f32_2x3.npy"))
        #expect(shape.status == 1 && shape.stderr.contains("Wrong shape for"))
        let option = try eval(Self.fixture("mse_input.npy"), ["--option", "reduction=average"])
        #expect(option.status == 1 && option.stderr.contains("reduction"))
        let unknown = try runLossKit(["eval", "no_such_loss", "--input", Self.fixture("mse_input.npy")])
        #expect(unknown.status == 1 && unknown.stderr.contains("choose one of"))
        let noTarget = try runLossKit(["eval", "mse_loss", "--input", Self.fixture("mse_input.npy")])
        #expect(noTarget.status == 1 && noTarget.stderr.contains("--target"))
        // Argument-parser errors: exit 2.
        #expect(try runLossKit(["eval", "mse_loss"]).status == 2)
    }
}
