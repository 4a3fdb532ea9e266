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

    /// A float16 input is evaluated as Float16 (computed in Float) and its gradient written
    /// as float16, within float16's rounding of NumPy's float64 result on the same values.
    @Test func float16InputGivesFloat16Gradient() throws {
        let grad = Self.temporary("grad16.npy")
        defer { try? FileManager.default.removeItem(atPath: grad) }
        let r = try runLossKit([
            "eval", "cross_entropy", "--input", Self.fixture("ce_logits_f16.npy"), "--target", Self.fixture("ce_labels.npy"),
            "--grad-out", grad,
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let expectedLoss = try NPYArray(contentsOf: Self.fixture("ce_expected_loss_f16.npy")).doubles[0]
        let printed = r.stdout.split(separator: "\n").first.flatMap { Double($0.split(separator: " ").last ?? "") }
        #expect(abs((printed ?? 0) - expectedLoss) <= 1e-3 * expectedLoss)  // one float16 rounding
        let got = try NPYArray(contentsOf: grad), want = try NPYArray(contentsOf: Self.fixture("ce_expected_grad_f16.npy"))
        #expect(got.shape == [2, 3] && got.dtype == .float16)
        let scale = want.doubles.map(abs).max()!
        #expect(zip(got.doubles, want.doubles).allSatisfy { abs($0 - $1) <= 1e-3 * abs($1) + 1e-4 * scale })
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

    static func save(_ name: String, _ shape: [Int], _ values: NPYArray.Values) throws -> String {
        let path = temporary(name)
        try NPYArray(shape: shape, values: values).write(to: path)
        return path
    }

    /// --input is the loss's first input whatever PyTorch calls it (input1, anchor, log_probs),
    /// --target its target, --tensor NAME=FILE the others; the gradient is the first input's.
    @Test func lossesWhoseFirstInputIsNotCalledInputRun() throws {
        let x1: [Float] = [1, 2, 0.5, -1], x2: [Float] = [0, 3, 1, -2], y: [Float] = [1, -1, 1, -1]
        let a = try Self.save("x1.npy", [4], .float32(x1)), b = try Self.save("x2.npy", [4], .float32(x2))
        let t = try Self.save("y.npy", [4], .float32(y)), grad = Self.temporary("g.npy")
        defer { for f in [a, b, t, grad] { try? FileManager.default.removeItem(atPath: f) } }
        let r = try runLossKit([
            "eval", "margin_ranking_loss", "--input", a, "--tensor", "input2=\(b)", "--target", t, "--option", "margin=0.5",
            "--precision", "double", "--grad-out", grad,
        ])
        #expect(r.status == 0, "\(r.stderr)")
        // mean of max(0, -y (x1 - x2) + margin), and its gradient for input1.
        let terms = (0..<4).map { -Double(y[$0]) * Double(x1[$0] - x2[$0]) + 0.5 }
        let want = terms.map { max(0, $0) }.reduce(0, +) / 4
        let printed = r.stdout.split(separator: "\n").first.flatMap { Double($0.split(separator: " ").last ?? "") }
        #expect(abs((printed ?? 0) - want) < 1e-15, "\(r.stdout)")
        #expect(try NPYArray(contentsOf: grad).doubles == (0..<4).map { terms[$0] > 0 ? -Double(y[$0]) / 4 : 0 })
        #expect(r.stdout.contains("with respect to input1"))

        let anchor = try Self.save("an.npy", [2, 3], .float32([0, 1, 2, 3, 4, 5]))
        let positive = try Self.save("po.npy", [2, 3], .float32([0, 1, 2.5, 3, 4, 5]))
        let negative = try Self.save("ne.npy", [2, 3], .float32([9, 1, 2, 3, 4, 5.5]))
        defer { for f in [anchor, positive, negative] { try? FileManager.default.removeItem(atPath: f) } }
        let triplet = try runLossKit(["eval", "triplet_margin_loss", "--input", anchor, "--tensor", "positive=\(positive)", "--tensor", "negative=\(negative)"])
        #expect(triplet.status == 0 && triplet.stdout.hasPrefix("triplet_margin_loss: "), "\(triplet.stderr)")
        let cosine = try runLossKit(["eval", "cosine_embedding_loss", "--input", anchor, "--tensor", "input2=\(positive)", "--target", t])
        #expect(cosine.status == 1 && cosine.stderr.contains("target"), "\(cosine.stderr)")  // 4 labels for 2 rows
        // A name the loss does not take, and the first input given twice.
        let unknown = try runLossKit(["eval", "triplet_margin_loss", "--input", anchor, "--tensor", "postive=\(positive)"])
        #expect(unknown.status == 1 && unknown.stderr.contains("takes no input named postive"), "\(unknown.stderr)")
        let twice = try runLossKit(["eval", "triplet_margin_loss", "--input", anchor, "--tensor", "anchor=\(positive)"])
        #expect(twice.status == 1 && twice.stderr.contains("anchor is given twice"), "\(twice.stderr)")
        let missing = try runLossKit(["eval", "triplet_margin_loss", "--input", anchor, "--tensor", "positive=\(positive)"])
        #expect(missing.status == 1 && missing.stderr.contains("--tensor negative=FILE.npy"), "\(missing.stderr)")
    }

    /// An integer array where the loss takes values is named as such (not "input input is
    /// missing"); an option Float would round to 0 or infinity is an error in Float, the
    /// value it is in Double.
    @Test func integerValuesAndUnrepresentableOptionsAreNamed() throws {
        let ints = try Self.save("i.npy", [2], .int64([1, 2])), floats = try Self.save("f.npy", [2], .float32([1, 2]))
        defer { for f in [ints, floats] { try? FileManager.default.removeItem(atPath: f) } }
        let r = try runLossKit(["eval", "mse_loss", "--input", ints, "--target", floats])
        #expect(r.status == 1 && r.stderr.contains("the array of --input holds int64 integers"), "\(r.stderr)")
        let tiny = try runLossKit(["eval", "huber_loss", "--input", floats, "--target", floats, "--option", "delta=1e-320"])
        #expect(tiny.status == 1 && tiny.stderr.contains("delta = 1e-320 is invalid: expected a number Float can hold"), "\(tiny.stderr)")
        let huge = try runLossKit(["eval", "huber_loss", "--input", floats, "--target", floats, "--option", "delta=1e39"])
        #expect(huge.status == 1 && huge.stderr.contains("rounds to inf"), "\(huge.stderr)")
        let double = try runLossKit(["eval", "huber_loss", "--input", floats, "--target", floats, "--option", "delta=1e-320", "--precision", "double"])
        #expect(double.status == 0, "\(double.stderr)")
    }

    /// --loss-out and --grad-out are written together or not at all.
    @Test func outputsAreWrittenAllOrNothing() throws {
        let x = try Self.save("x.npy", [2], .float32([1, 2])), losses = Self.temporary("l.npy")
        defer { for f in [x, losses] { try? FileManager.default.removeItem(atPath: f) } }
        let r = try runLossKit([
            "eval", "mse_loss", "--input", x, "--target", x, "--option", "reduction=none", "--loss-out", losses,
            "--grad-out", "/nonexistent/g.npy",
        ])
        #expect(r.status == 2 && r.stderr.contains("nothing was written"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: losses))
        let folder = (losses as NSString).deletingLastPathComponent
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.contains((losses as NSString).lastPathComponent) }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    /// --threads follows the kernels' one rule (1 to the pool's size), as bench does.
    @Test func threadsFollowThePoolSize() throws {
        let x = try Self.save("x.npy", [2], .float32([1, 2]))
        defer { try? FileManager.default.removeItem(atPath: x) }
        for threads in ["0", "65", "100000"] {
            let r = try runLossKit(["eval", "mse_loss", "--input", x, "--target", x, "--threads", threads])
            #expect(r.status == 1 && r.stderr.contains("--threads must be between 1 and 64"), "\(threads): \(r.stderr)")
        }
        #expect(try runLossKit(["eval", "mse_loss", "--input", x, "--target", x, "--threads", "64"]).status == 0)
    }

    /// A .npy header claiming (2^62, 0) (no data, a huge row count) is refused at once, for
    /// every kind of loss and reduction, naming the input; a device is refused before it is read.
    @Test func headersClaimingHugeEmptyShapesAreRefused() throws {
        let path = Self.temporary("z.npy")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 0), }"
        let padded = header + String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
        try Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(padded.utf8.count & 0xFF), UInt8(padded.utf8.count >> 8)] + Array(padded.utf8))
            .write(to: URL(fileURLWithPath: path))
        let clock = ContinuousClock(), start = clock.now
        for (loss, extra) in [("cross_entropy", ["--target", path]), ("dice", ["--target", path]), ("sum", ["--option", "dim=1"]),
                              ("amax", ["--option", "dim=1"]), ("softmax", ["--option", "dim=1"]), ("log_softmax", [])] {
            let r = try runLossKit(["eval", loss, "--input", path] + extra)
            #expect(r.status == 1 && r.stderr.contains("Wrong shape for input"), "\(loss): \(r.status) \(r.stderr)")
        }
        #expect(clock.now - start < .seconds(30))
        let zero = try runLossKit(["eval", "mse_loss", "--input", "/dev/zero", "--target", path])
        #expect(zero.status == 2 && zero.stderr.contains("is a device"), "\(zero.stderr)")
    }

    /// NaN behind hinge_embedding_loss's clamp stays NaN, as in PyTorch.
    @Test func hingeEmbeddingKeepsNaN() throws {
        let x = try Self.save("x.npy", [2], .float32([.nan, 1])), y = try Self.save("y.npy", [2], .float32([-1, 1]))
        defer { for f in [x, y] { try? FileManager.default.removeItem(atPath: f) } }
        let r = try runLossKit(["eval", "hinge_embedding_loss", "--input", x, "--target", y, "--option", "reduction=none"])
        #expect(r.status == 0 && r.stdout.hasPrefix("hinge_embedding_loss (shape [2]): nan 1\n"), "\(r.stdout) \(r.stderr)")
    }
}
