import Loss
import ReferenceCases
import Testing
import _TestSupport

extension Precision {
    /// The precisions float32 reference files are checked in.
    static let floatAndDouble: [Precision] = [.float, .double]
}

/// The 16-bit reference files (make_cases.py --dtype float16|bfloat16): the project's
/// shared sets and a hard set of each type, every case in the file's own type (Float16 or
/// BFloat16 tensors, computed in Float), against PyTorch's float64 results rounded to the
/// type.
@Suite struct SixteenBitCasesTests {
    @Test(arguments: [
        "torch-cases-float16.json", "torch-cases-bfloat16.json", "torch-cases-float16-hard-seed5.json",
        "torch-cases-bfloat16-hard-seed5.json",
    ])
    func everyCasePassesInItsOwnType(name: String) throws {
        let file = try ReferenceFile(contentsOf: TestSupport.repositoryRoot + "/Tests/Fixtures/" + name)
        let precision = Precision(file.dtype)
        #expect(precision.isSixteenBit)
        #expect(file.cases.count >= 356)
        for c in file.cases {
            let r = Verifier.run(c, precision: precision)
            #expect(r.status == .pass, "\(c.id) [\(precision)]: \(r.message ?? "")")
        }
    }

    /// Inputs a 16-bit file holds exactly are given to the loss as 16-bit tensors; the
    /// reference is compared after rounding it to the type, so a value past Float16's
    /// largest finite number (65504) expects the infinity.
    @Test func expectedValuesAreRoundedToTheType() throws {
        let text = #"""
            {"format": "loss-reference/1", "dtype": "float16", "cases": [{"id": "big", "function": "sum",
             "options": {}, "inputs": {"input": {"shape": [2], "dtype": "float16", "data": [60000, 60000]}},
             "output": {"shape": [], "data": [120000]}, "upstream": {"shape": [], "data": [1]},
             "gradients": {"input": {"shape": [2], "data": [1, 1]}}}]}
            """#
        let file = try ReferenceFile(bytes: Array(text.utf8), path: "big.json")
        #expect(file.dtype == .float16)
        let r = Verifier.run(file.cases[0], precision: .half)
        #expect(r.status == .pass, "\(r.message ?? "")")
    }
}
