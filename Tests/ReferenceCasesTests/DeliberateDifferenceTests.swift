import Loss
import ReferenceCases
import Testing
import _TestSupport

/// `torch-cases-edges.json`: cases of other generated sets (see Tests/Fixtures/README.md)
/// that the bundled ones never met. Focal cross-entropy where PyTorch's gradient is NaN
/// and LossKit's the documented limit must be reported as differing by design, and only
/// there; a float64 softmax gradient that cancels must pass in Double, and not by a
/// tolerance so wide that a wrong value would pass too.
@Suite struct DeliberateDifferenceTests {
    static let file = try! ReferenceFile(contentsOf: TestSupport.repositoryRoot + "/Tests/Fixtures/torch-cases-edges.json")

    static func named(_ id: String) -> ReferenceCase { file.cases.first { $0.id == id }! }
    static let focalMean = named("hard/focal_cross_entropy/64x33/mean/gamma0.5/alpha0.25")
    static let focalSum = named("hard/focal_cross_entropy/64x33/sum/gamma0.5/alpha0.25")
    static let focalNone = named("hard/focal_cross_entropy/64x33/none/gamma0.5/alpha0.25")
    static let softmax = named("hard/softmax/2x1000/dim1")
    static let confident = named("hard/cross_entropy/indices/2x5x3/none/ignore_index")

    @Test(arguments: Precision.floatAndDouble)
    func focalNaNRowsDifferByDesign(precision: Precision) {
        for c in [Self.focalMean, Self.focalSum] {
            // The reference really has a NaN row (one sample of 33 classes) for the rule to explain.
            #expect(c.gradients["input"]!.values.filter(\.isNaN).count == 33)
            let r = Verifier.run(c, precision: precision)
            #expect(r.status == .differs, "\(c.id): \(r.status) \(r.message ?? "")")
            #expect(r.message?.contains("33 entries differ by design") == true, "\(r.message ?? "")")
        }
        // The same function and options without such a sample passes outright.
        #expect(!Self.focalNone.gradients["input"]!.values.contains { $0.isNaN })
        #expect(Verifier.run(Self.focalNone, precision: precision).status == .pass)
    }

    /// A NaN where the sample's target probability is not 1 is a failure, not a
    /// deliberate difference.
    @Test(arguments: Precision.floatAndDouble)
    func aNaNElsewhereStillFails(precision: Precision) {
        var c = Self.focalNone
        c.gradients["input"]!.values[5] = .nan
        let r = Verifier.run(c, precision: precision)
        #expect(r.status == .fail, "\(r.status) \(r.message ?? "")")
        #expect(r.message?.contains("gradient of input[5]") == true, "\(r.message ?? "")")
    }

    /// Another wrong entry in a case that has a documented difference fails the case.
    @Test func anotherMismatchBesideTheDocumentedOneFails() {
        var c = Self.focalMean
        let k = c.gradients["input"]!.values.firstIndex { !$0.isNaN && $0 != 0 }!
        c.gradients["input"]!.values[k] *= 1.01
        let r = Verifier.run(c, precision: .float)
        #expect(r.status == .fail, "\(r.status) \(r.message ?? "")")
    }

    /// The rule needs 0 < gamma < 1: with gamma 2 the same NaN row is not explained.
    @Test func theRuleNeedsGammaBelowOne() {
        var c = Self.focalMean
        c.options["gamma"] = .double(2)
        #expect(Verifier.run(c, precision: .double).status == .fail)
    }

    /// Every gradient of row 0 is below 1.3e-9 (one probability within 2.4e-10 of 1), and
    /// PyTorch's float64 value at the top class is 1.9e-16 from the exact one (1.5e-7
    /// relative): Double's gradient term 1e-13·max|output|·max|upstream| lets that pass.
    @Test(arguments: Precision.floatAndDouble)
    func softmaxGradientThatCancelsPasses(precision: Precision) {
        let r = Verifier.run(Self.softmax, precision: precision)
        #expect(r.status == .pass, "\(r.message ?? "")")
    }

    /// Cross-entropy with classes not last (the scalar path), every kept sample's target
    /// logit far ahead: losses of 1e-11 to 3e-10. Float keeps them and the target
    /// gradients (1 - p_t taken as the others' share, not 1 minus a rounded p_t); in Double
    /// LossKit's loss is within 1 ulp of the exact value and PyTorch's 5e-6 off (relative),
    /// which Double's roundoff term allows.
    @Test(arguments: Precision.floatAndDouble)
    func confidentSamplesKeepTheirLossAndGradient(precision: Precision) {
        let r = Verifier.run(Self.confident, precision: precision)
        #expect(r.status == .pass, "\(r.message ?? "")")
        #expect(Self.confident.output.values.filter { $0 != 0 }.allSatisfy { $0 < 1e-9 })
    }

    /// torchvision's sigmoid focal loss with gamma < 1 where its 1 - p_t rounds to 0
    /// (`torch-cases-hard-values.json`): its NaN gradient entries (input and target) are
    /// explained by the rule and nothing else; with gamma 2 the same NaNs are not.
    @Test(arguments: Precision.floatAndDouble)
    func saturatedSigmoidFocalDiffersByDesign(precision: Precision) throws {
        let values = try ReferenceFile(contentsOf: TestSupport.repositoryRoot + "/Tests/Fixtures/torch-cases-hard-values.json")
        let c = values.cases.first { $0.id == "saturated/sigmoid_focal/none/gamma0.5" }!
        #expect(c.gradients["input"]!.values.filter(\.isNaN).count == 3)
        let r = Verifier.run(c, precision: precision)
        #expect(r.status == .differs, "\(r.status) \(r.message ?? "")")
        #expect(r.message?.contains("gradient of input: 3 entries differ by design") == true, "\(r.message ?? "")")
        var other = c
        other.options["gamma"] = .double(2)
        #expect(Verifier.run(other, precision: precision).status == .fail)
        // A NaN at the element that is not saturated (logit 3) is a failure.
        var wrong = c
        wrong.gradients["input"]!.values[2] = wrong.gradients["input"]!.values[3]
        wrong.gradients["input"]!.values[3] = .nan
        #expect(Verifier.run(wrong, precision: precision).status == .fail)
    }

    @Test func softmaxRoundoffTermIsStillTight() {
        // 1e-12 on an entry of 1.3e-9 (0.08%) is well above that term (max|output| is
        // below 1 and max|upstream| a few units) and must fail in Double.
        var c = Self.softmax
        let g = c.gradients["input"]!.values
        let k = g.indices.max { abs(g[$0]) < abs(g[$1]) }!
        #expect(abs(g[k]) < 1.3e-9 && abs(g[k]) > 1e-9)
        c.gradients["input"]!.values[k] += 1e-12
        let r = Verifier.run(c, precision: .double)
        #expect(r.status == .fail, "\(r.message ?? "")")
    }
}

/// Inputs outside a loss's domain that PyTorch computes with and LossKit refuses
/// (documented on each loss): `losskit verify` reports such a case as differing by
/// design, with the reason, only where the case's own input holds such a value at the
/// position LossKit's error names; every other error is still a failure.
@Suite struct DeliberateRefusalTests {
    static let suite = try! ReferenceFile(
        contentsOf: TestSupport.repositoryRoot + "/Tests/Fixtures/torch-cases-pytorch-suite.json")
    static func named(_ id: String) -> ReferenceCase { suite.cases.first { $0.id == id }! }

    @Test(arguments: Precision.floatAndDouble)
    func domainRefusalsDifferByDesign(precision: Precision) {
        for (id, reason) in [
            ("module/KLDivLoss/1", "a negative or NaN probability target"),
            ("module/KLDivLoss/0", "a negative or NaN probability target"),
            ("common_nn/PoissonNLLLoss_no_reduce", "a negative or NaN count target"),
            ("opinfo/nn.functional.hinge_embedding_loss/9", "a target other than 1 or -1"),
        ] {
            let r = Verifier.run(Self.named(id), precision: precision)
            #expect(r.status == .differs, "\(id): \(r.status) \(r.message ?? "")")
            #expect(r.message?.hasPrefix("refused by design: " + reason) == true, "\(id): \(r.message ?? "")")
        }
    }

    /// With every target moved into the domain the loss computes, and a mismatch
    /// against the reference (computed for the original targets) is a failure again.
    @Test func theSameCaseInsideTheDomainIsCompared() {
        var c = Self.named("common_nn/PoissonNLLLoss_no_reduce")
        let index = c.inputs.firstIndex { $0.name == "target" }!
        c.inputs[index].tensor.values = c.inputs[index].tensor.values.map { abs($0) }
        let r = Verifier.run(c, precision: .double)
        #expect(r.status == .fail, "\(r.status) \(r.message ?? "")")
        #expect(r.message?.hasPrefix("output") == true, "\(r.message ?? "")")
    }

    /// log_target=True takes any real target: there a negative target is no refusal,
    /// and the loss is computed.
    @Test func klDivLogTargetTakesNegativeTargets() {
        var c = Self.named("module/KLDivLoss/1")
        c.options["log_target"] = .bool(true)
        let r = Verifier.run(c, precision: .double)
        #expect(r.status != .differs, "\(r.message ?? "")")
        #expect(r.message?.contains("refused") != true)
    }

    /// A refusal of a loss without such a rule (a probability above 1 for
    /// binary_cross_entropy, which PyTorch refuses too) is a failure.
    @Test func otherRefusalsStillFail() throws {
        let text = """
            {"format":"loss-reference/1","cases":[{"id":"b","function":"binary_cross_entropy","options":{},
            "inputs":{"input":{"shape":[2],"data":[1.5,0.5]},"target":{"shape":[2],"data":[1,0]}},
            "output":{"shape":[],"data":[0.5]},"upstream":{"shape":[],"data":[1]},"gradients":{}}]}
            """
        let c = try ReferenceFile(bytes: Array(text.utf8)).cases[0]
        let r = Verifier.run(c, precision: .float)
        #expect(r.status == .fail, "\(r.status) \(r.message ?? "")")
    }
}
