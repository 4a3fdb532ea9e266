import Foundation
import Loss
import ReferenceCases
import Testing
import _TestSupport

/// Replays the reference-file fuzzer's findings and seeds (Tests/Fixtures/fuzz/reference-file/):
/// each must parse or throw LossError.malformedFile, and every case the reader accepts must
/// run through the verifier in both precisions without trapping.
@Suite struct ReferenceFuzzRegressionTests {
    @Test func fixturesParseOrFailCleanly() throws {
        let dir = TestSupport.repositoryRoot + "/Tests/Fixtures/fuzz/reference-file"
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(!names.isEmpty)
        for name in names {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/" + name)))
            do {
                let file = try ReferenceFile(bytes: bytes, path: name)
                for c in file.cases {
                    for precision in Precision.floatAndDouble { _ = Verifier.run(c, precision: precision) }
                }
            } catch LossError.malformedFile {
                continue
            } catch {
                Issue.record("\(name): \(error)")
            }
        }
    }
}
