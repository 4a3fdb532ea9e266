import Loss
import Testing
import _TestSupport

/// PyTorch's deprecated `size_average=` and `reduce=`: the registry maps them to a
/// reduction as `torch.nn._reduction.legacy_get_string` does, for the functions
/// that take them, and they replace `reduction`.
@Suite struct LegacyReductionTests {
    static let x = try! Tensor<Double>(shape: [2, 3], scalars: [0.5, -1, 2, 1.5, 0.25, -3])
    static let inputs = LossInputs<Double>(["input": .values(x), "target": .values(x.map { $0 * 0.5 })])

    /// (size_average, reduce) → the reduction, from `legacy_get_string`: None counts as
    /// True; `reduce=False` gives none, else `size_average=False` gives sum, else mean.
    static let table: [(OptionValue?, OptionValue?, Reduction)] = [
        (.bool(true), nil, .mean), (.bool(false), nil, .sum), (nil, .bool(true), .mean), (nil, .bool(false), .none),
        (.bool(true), .bool(true), .mean), (.bool(false), .bool(true), .sum), (.bool(true), .bool(false), .none),
        (.bool(false), .bool(false), .none), (.int(0), .null, .sum), (.null, .int(0), .none),
    ]

    @Test(arguments: 0..<table.count)
    func legacyKeywordsMapToAReduction(row: Int) throws {
        let (sizeAverage, reduce, want) = Self.table[row]
        var options: [String: OptionValue] = ["reduction": .string("sum")]  // replaced by the legacy keywords
        if let sizeAverage { options["size_average"] = sizeAverage }
        if let reduce { options["reduce"] = reduce }
        let legacy = try LossRegistry.make("mse_loss", options: options, as: Double.self).forward(Self.inputs)
        let plain = try LossRegistry.make("mse_loss", options: ["reduction": .string(want.rawValue)], as: Double.self)
            .forward(Self.inputs)
        #expect(legacy == plain, "size_average \(String(describing: sizeAverage)), reduce \(String(describing: reduce))")
    }

    /// PyTorch: `mse_loss(x, x / 2, reduce=False)` is the per-element loss.
    @Test func reduceFalseGivesPerElementLosses() throws {
        let y = try LossRegistry.make("mse_loss", options: ["reduce": .bool(false)], as: Double.self).forward(Self.inputs)
        #expect(y.shape == [2, 3])
        #expect(y.scalars == [0.0625, 0.25, 1, 0.5625, 0.015625, 2.25])
    }

    /// Both keywords None: `reduction` decides, as when they are absent.
    @Test func noneKeywordsLeaveReductionInCharge() throws {
        let y = try LossRegistry.make(
            "mse_loss", options: ["size_average": .null, "reduce": .null, "reduction": .string("sum")], as: Double.self
        ).forward(Self.inputs)
        #expect(y.shape == [] && abs(y.scalar! - 4.140625) < 1e-15)
    }

    /// kl_div maps the keywords too, and PyTorch then still divides by the batch size
    /// when `reduction="batchmean"` is given as well (its code checks `reduction` after
    /// the legacy mapping): `reduce=False` with batchmean is the per-element loss over N.
    @Test func klDivTakesTheLegacyKeywords() throws {
        let inputs = LossInputs<Double>(["input": .values(Self.x), "target": .values(Self.x.map { abs($0) })])
        let plain = try LossRegistry.make("kl_div", options: ["reduction": .string("none")], as: Double.self)
        let legacy = try LossRegistry.make("kl_div", options: ["reduce": .bool(false)], as: Double.self)
        #expect(try legacy.forward(inputs) == plain.forward(inputs))
        let batch = try LossRegistry.make("kl_div", options: ["reduce": .bool(false), "reduction": .string("batchmean")], as: Double.self)
        #expect(try batch.forward(inputs) == plain.forward(inputs).map { $0 / 2 })
        let g = try batch.backward(inputs, upstream: Tensor(zeros: [2, 3]).map { $0 + 1 })
        let h = try plain.backward(inputs, upstream: Tensor(zeros: [2, 3]).map { $0 + 0.5 })
        #expect(g["input"] == h["input"] && g["target"] == h["target"])
    }

    @Test func everyFunctionWithTheKeywordsAcceptsThem() throws {
        for name in LossRegistry.legacyReductionFunctions.sorted() {
            #expect(throws: Never.self, "\(name)") {
                try LossRegistry.make(name, options: ["size_average": .bool(false), "reduce": .bool(true)], as: Double.self)
            }
        }
    }

    /// Functions whose PyTorch signature has no such keyword reject it as unsupported.
    @Test func functionsWithoutTheKeywordsRejectThem() {
        for name in ["gaussian_nll_loss", "huber_loss", "ctc_loss", "linear_cross_entropy", "triplet_margin_with_distance_loss"] {
            #expect(throws: LossError.unsupportedOption(function: name, option: "reduce"), "\(name)") {
                try LossRegistry.make(name, options: ["reduce": .bool(false)], as: Double.self)
            }
        }
    }

    @Test func aNonBooleanKeywordIsInvalid() {
        #expect(throws: LossError.invalidOption(name: "reduce", value: "\"no\"", expected: "True, False or None")) {
            try LossRegistry.make("l1_loss", options: ["reduce": .string("no")], as: Double.self)
        }
    }
}
