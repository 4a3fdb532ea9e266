import Loss
import ReferenceCases
import Testing
import _TestSupport

/// Every bundled PyTorch reference case whose function LossKit implements must
/// pass, in Float and in Double; cases of other functions must be reported as
/// unsupported (never as passing by accident, never as failing).
@Suite struct TorchCasesTests {
    static let file = try! ReferenceFile(contentsOf: TestSupport.torchCasesPath)

    @Test func fileIsTheFullReferenceSet() {
        #expect(Self.file.cases.count == 385)
    }

    /// Other seeds and the generator's hard set (large shapes, extreme logits).
    @Test(arguments: [
        "torch-cases-seed1.json", "torch-cases-hard-seed3.json", "torch-cases-linear.json", "torch-cases-kinks.json",
        "torch-cases-semantics.json",
    ], Precision.floatAndDouble)
    func moreReferenceFilesPass(name: String, precision: Precision) throws {
        let file = try ReferenceFile(contentsOf: TestSupport.repositoryRoot + "/Tests/Fixtures/" + name)
        #expect(file.cases.count >= 40)
        for c in file.cases {
            let r = Verifier.run(c, precision: precision)
            #expect(r.status == .pass, "\(c.id) [\(precision)]: \(r.message ?? "")")
        }
    }

    /// Values that break naive formulas (`make_hard_value_cases.py`): large common offsets of
    /// cross-entropy's logits, NaN behind hinges, NaN and +inf in reductions. Every case
    /// passes, but torchvision's sigmoid focal loss at saturation, whose NaN gradient LossKit
    /// deliberately does not give (reported as a documented difference).
    @Test(arguments: Precision.floatAndDouble)
    func hardValuesMatchPyTorch(precision: Precision) throws {
        let file = try ReferenceFile(contentsOf: TestSupport.repositoryRoot + "/Tests/Fixtures/torch-cases-hard-values.json")
        #expect(file.cases.count >= 70)
        for c in file.cases {
            let r = Verifier.run(c, precision: precision)
            let expected: CaseResult.Status = c.id.hasPrefix("saturated/sigmoid_focal/") ? .differs : .pass
            #expect(r.status == expected, "\(c.id) [\(precision)]: \(r.message ?? "")")
        }
    }

    @Test(arguments: Precision.floatAndDouble)
    func supportedCasesPass(precision: Precision) {
        var passed = 0
        for c in Self.file.cases {
            let r = Verifier.run(c, precision: precision)
            if LossRegistry.functionNames.contains(c.function) {
                #expect(r.status == .pass, "\(c.id) [\(precision)]: \(r.message ?? "")")
                if r.status == .pass { passed += 1 }
            } else {
                #expect(r.status == .unsupported, "\(c.id) should be unsupported, got \(r.status)")
            }
        }
        #expect(passed == Self.file.cases.count, "every reference case is supported and passes")
    }

    /// PyTorch's own test samples (`convert_torch_tests.py`): every case passes, or LossKit
    /// refuses its input by design (an input outside the loss's documented domain that
    /// PyTorch computes with; the verifier checks the case holds such a value). Nothing is
    /// unsupported.
    static let pytorchSuite = try! ReferenceFile(
        contentsOf: TestSupport.repositoryRoot + "/Tests/Fixtures/torch-cases-pytorch-suite.json")

    @Test(arguments: Precision.floatAndDouble)
    func pytorchsOwnSamplesPass(precision: Precision) throws {
        let file = Self.pytorchSuite
        #expect(file.cases.count == 2234)
        var refused = 0
        for c in file.cases {
            let r = Verifier.run(c, precision: precision)
            if r.status == .differs, r.message?.hasPrefix("refused by design: ") == true {
                refused += 1
                continue
            }
            #expect(r.status == .pass, "\(c.id) [\(precision)]: \(r.message ?? "")")
        }
        // kl_div's NaN and negative targets (7), poisson_nll_loss's negative counts (4),
        // a hinge_embedding_loss target that is not ±1 (1).
        #expect(refused == 12)
    }
}
